/**
 * Schedules at run time (docs/architecture.md, "Schedules"): each waits on the clock for its next
 * tick and delivers a fire to its own serial trigger runner. The tick fired last is kept in the
 * schedule's store once the fire is done, so fires missed while mqflow was down can be made up for;
 * on a shared (Redis) store each tick is claimed first, so replicas fire it once; a claim whose
 * replica died lapses after the store's claimLease, and another replica fires the tick then.
 */
import { Cron } from 'croner';
import type { FlowModel, Schedule } from '../flow/model.js';
import type { ScheduledDelivery } from '../host/delivery-kinds.js';
import type { MessageHost } from '../host/host.js';
import type { ScheduleContext } from '../pipeline/context.js';
import type { Clock } from '../state/clock.js';
import type { OpenStore } from '../state/open-store.js';
import { MAX_MISSED_FIRES } from '../schedules/schedule-options.js';
import type { Log } from '../util/log.js';
import type { Maybe } from '../util/maybe.js';
import { TriggerRunner } from './trigger-runner.js';

/** The namespace of the schedules' keys in their stores. */
const NAMESPACE = 'mqflow.schedules';
/**
 * How long a done tick's record stays, in claim leases: long enough for every replica that found
 * the tick claimed to look again (after one lease), short enough that a schedule firing every
 * second does not fill Redis (missed fires are found from the last fire, not from these).
 */
const TICK_TTL_LEASES = 10;

export interface ScheduleCounters {
  /** Fires delivered to the service (made-up ones included). */
  fired: number;
  /** Fires of missed ticks made up for (missed: once or all). */
  madeUp: number;
  /** Ticks another replica claimed first. */
  elsewhere: number;
  /** Ticks skipped because queueSize fires were waiting already. */
  overrun: number;
}

/** The next tick strictly after `after` (ms), or undefined when there is none. */
export function nextTick(schedule: Pick<Schedule, 'timing'>, after: number): number | undefined {
  const t = schedule.timing;
  if (t.kind === 'every') return (Math.floor(after / t.everyMs) + 1) * t.everyMs;
  const next = new Cron(t.cron, { paused: true, timezone: t.timezone }).nextRun(new Date(after));
  return next === null ? undefined : next.getTime();
}

/** The ticks after `from` and up to `to` (ms), oldest first, at most `limit`, keeping the latest ones. */
export function ticksBetween(schedule: Pick<Schedule, 'timing'>, from: number, to: number, limit: number): number[] {
  const ticks: number[] = [];
  for (let t = nextTick(schedule, from); t !== undefined && t <= to; t = nextTick(schedule, t)) {
    ticks.push(t);
    if (ticks.length > limit) ticks.shift();
  }
  return ticks;
}

class FireDelivery implements ScheduledDelivery {
  readonly qos = 1 as const;
  readonly retain = false;
  readonly dup = false;
  readonly messageId = undefined;
  readonly properties = undefined;
  readonly payload = Buffer.alloc(0);
  readonly connectionLost = false;
  readonly topic: string;
  readonly receivedAt: number;

  constructor(
    readonly schedule: ScheduleContext,
    private readonly make: () => Maybe<unknown>,
    private readonly done: (completed: boolean) => void,
    now: number,
  ) {
    this.topic = `$schedule/${schedule.name}`;
    this.receivedAt = now;
  }

  payloadValue(): Maybe<unknown> {
    return this.make();
  }

  complete(): void {
    this.done(true);
  }

  abandon(): void {
    this.done(false);
  }
}

/** The fire of `schedule` for `tick`, as its trigger runner takes it (mqflow test delivers them too); `done` is told whether it completed. */
export function fireDelivery(schedule: Schedule, tick: number, missed: boolean, now: number, done: (completed: boolean) => void): ScheduledDelivery {
  const context: ScheduleContext = { name: schedule.name, scheduledAt: new Date(tick).toISOString(), firedAt: new Date(now).toISOString(), missed };
  const firePayload = schedule.firePayload;
  const make = (): Maybe<unknown> => (firePayload.kind === 'value' ? firePayload.value : firePayload.expression.run({}, { message: { schedule: context } }));
  return new FireDelivery(context, make, done, now);
}

export class RunningSchedule {
  readonly runner: TriggerRunner<Schedule>;
  readonly counters: ScheduleCounters = { fired: 0, madeUp: 0, elsewhere: 0, overrun: 0 };
  /** The tick waited for now (ms), if any. */
  next: number | undefined;
  /** The last tick whose fire was done. */
  lastDone: number | undefined;
  #schedule: Schedule;
  #stopped = false;
  readonly #log: Log;

  constructor(
    schedule: Schedule,
    private readonly deps: { readonly host: () => MessageHost; readonly log: Log; readonly clock: Clock; readonly store: () => OpenStore | undefined; readonly instance: string },
  ) {
    this.#schedule = schedule;
    this.#log = deps.log.child({ schedule: schedule.name });
    this.runner = new TriggerRunner(schedule, { host: deps.host, log: deps.log, sessionKept: false });
  }

  get schedule(): Schedule {
    return this.#schedule;
  }

  /** Reads the last fire, makes up for missed ones as the policy says, then waits for each tick. */
  async start(): Promise<void> {
    const { clock } = this.deps;
    const now = clock.now();
    let last: number | undefined;
    try {
      last = await this.#lastFire();
    } catch (error) {
      this.#log.error({ event: 'schedule-store-failed', reason: (error as Error).message }, `schedule ${this.#schedule.name}: its last fire could not be read (${(error as Error).message}); no missed fire is made up for`);
    }
    this.lastDone = last;
    if (last !== undefined && this.#schedule.missed !== 'skip') {
      const missed = ticksBetween(this.#schedule, last, now, this.#schedule.missed === 'once' ? 1 : MAX_MISSED_FIRES);
      if (missed.length > 0) this.#log.info({ event: 'schedule-missed', missed: missed.length, since: new Date(last).toISOString() }, `schedule ${this.#schedule.name}: making up for ${missed.length} missed fire${missed.length === 1 ? '' : 's'}`);
      for (const tick of missed) await this.#fire(tick, true);
    }
    void this.#loop(now);
  }

  async #loop(from: number): Promise<void> {
    const { clock } = this.deps;
    let after = from;
    while (!this.#stopped) {
      const tick = nextTick(this.#schedule, after);
      this.next = tick;
      if (tick === undefined) return;
      const jitter = this.#schedule.jitterMs === 0 ? 0 : Math.floor(Math.random() * this.#schedule.jitterMs);
      // A long timer may wake a little early: wait again until the tick is due.
      while (!this.#stopped && clock.now() < tick + jitter) await clock.sleep(tick + jitter - clock.now());
      if (this.#stopped) return;
      after = tick;
      await this.#fire(tick, false);
    }
  }

  /** Claims the tick where replicas share the store, then delivers its fire. */
  async #fire(tick: number, missed: boolean, retake = false): Promise<void> {
    const { runner } = this;
    const schedule = this.#schedule;
    if (runner.inFlight + runner.queueDepth >= schedule.queueSize) {
      this.counters.overrun++;
      this.#log.warn({ event: 'schedule-overrun', tick: new Date(tick).toISOString(), held: runner.inFlight + runner.queueDepth }, `schedule ${schedule.name}: the fire for ${new Date(tick).toISOString()} is skipped: ${schedule.queueSize} fires are waiting (queueSize)`);
      return;
    }
    const open = this.deps.store();
    // Ticks are claimed (and recorded) only where replicas share the store.
    const tickKey = open?.store.shared === true ? open.key(NAMESPACE, `${schedule.name}:tick:${tick}`) : undefined;
    const token = `${this.deps.instance}:${tick}`;
    if (tickKey !== undefined && open?.store.claim !== undefined) {
      let claim;
      try {
        claim = await open.store.claim(tickKey, token, open.limits.claimLeaseMs);
      } catch (error) {
        // Better a tick fired twice than lost: without an answer from the store, this replica fires it.
        this.#log.warn({ event: 'schedule-claim-failed', reason: (error as Error).message }, `schedule ${schedule.name}: the tick could not be claimed (${(error as Error).message}); firing it here`);
      }
      if (claim === 'present' || claim === 'busy') {
        if (!retake) this.counters.elsewhere++;
        // Another replica fires it; should that one die first, its claim lapses and the tick is taken over.
        if (claim === 'busy') void this.#retakeLater(tick, open.limits.claimLeaseMs);
        return;
      }
      if (retake) this.#log.info({ event: 'schedule-takeover', tick: new Date(tick).toISOString() }, `schedule ${schedule.name}: the fire for ${new Date(tick).toISOString()} was claimed by a replica that did not finish it; firing it here`);
    }
    this.counters.fired++;
    if (missed) this.counters.madeUp++;
    runner.onDelivery(
      fireDelivery(schedule, tick, missed, this.deps.clock.now(), (completed) => {
        if (completed) void this.#recordDone(tick, tickKey);
        else if (open?.store.shared === true && tickKey !== undefined) void open.store.unclaim?.(tickKey, token).catch(() => undefined);
      }),
    );
  }

  async #retakeLater(tick: number, leaseMs: number): Promise<void> {
    await this.deps.clock.sleep(leaseMs + 100);
    if (!this.#stopped) await this.#fire(tick, true, true);
  }

  async #lastFire(): Promise<number | undefined> {
    const open = this.deps.store();
    if (open === undefined) return undefined;
    const value = await open.store.get(open.key(NAMESPACE, `${this.#schedule.name}:last`), this.deps.clock.now());
    return typeof value === 'number' ? value : undefined;
  }

  /** The fire of `tick` is done (its service succeeded, or its failure was routed): it is not made up for again. */
  async #recordDone(tick: number, tickKey: string | undefined): Promise<void> {
    if (this.lastDone === undefined || tick > this.lastDone) this.lastDone = tick;
    const open = this.deps.store();
    if (open === undefined) return;
    const now = this.deps.clock.now();
    try {
      const tickTtlMs = Math.max(60_000, TICK_TTL_LEASES * open.limits.claimLeaseMs);
      await open.store.commit([{ key: open.key(NAMESPACE, `${this.#schedule.name}:last`), value: this.lastDone }, ...(tickKey === undefined ? [] : [{ key: tickKey, value: 1, ttlMs: tickTtlMs }])], now);
    } catch (error) {
      this.#log.warn({ event: 'schedule-store-failed', reason: (error as Error).message }, `schedule ${this.#schedule.name}: its last fire could not be kept (${(error as Error).message})`);
    }
  }

  /** Stops waiting for ticks; fires already delivered finish. */
  stop(): void {
    this.#stopped = true;
  }
}

export class Schedules {
  readonly #running = new Map<string, RunningSchedule>();

  constructor(
    private readonly host: () => MessageHost,
    private readonly log: Log,
    private readonly clock: Clock,
    private readonly stores: (name: string) => OpenStore | undefined,
    private readonly instance: string,
  ) {}

  get running(): ReadonlyMap<string, RunningSchedule> {
    return this.#running;
  }

  /** Makes the schedules of `model` the ones in force: unchanged ones keep waiting, changed ones start again. */
  apply(model: FlowModel, drainTimeoutMs: number): void {
    for (const [name, running] of this.#running) {
      const next = model.schedules.get(name);
      if (next !== undefined && next.enabled && next.fingerprint === running.schedule.fingerprint) continue;
      running.stop();
      void running.runner.drain(drainTimeoutMs);
      this.#running.delete(name);
    }
    for (const [name, schedule] of model.schedules) {
      if (!schedule.enabled || this.#running.has(name)) continue;
      const running = new RunningSchedule(schedule, { host: this.host, log: this.log, clock: this.clock, store: () => this.stores(schedule.store), instance: this.instance });
      this.#running.set(name, running);
      void running.start().catch((error: unknown) => this.log.error({ event: 'schedule-failed', schedule: name, reason: (error as Error).message }, `schedule ${name} stopped: ${(error as Error).message}`));
    }
  }

  /** Stops every schedule; resolves once the fires in flight are done (or the time is up). */
  async stop(drainTimeoutMs: number): Promise<void> {
    for (const running of this.#running.values()) running.stop();
    await Promise.all([...this.#running.values()].map((r) => r.runner.drain(drainTimeoutMs)));
  }
}
