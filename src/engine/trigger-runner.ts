/**
 * One trigger at run time: takes deliveries from its subscriber client and starts their jobs in
 * arrival order, one at a time (serial) or up to maxConcurrency at once. A serial trigger starts
 * the next message as soon as this one's steps ended and its publishes were handed over, not when
 * they are acknowledged (docs/architecture.md, invariant 22). Each message is processed by the
 * version in force when it was delivered (invariant 10): the definition and the message host are
 * captured then; a reload swaps them for later messages.
 */
import type { Trigger } from '../flow/model.js';
import type { MessageHost } from '../host/host.js';
import type { JobTrigger } from '../host/delivery-kinds.js';
import { Job, type JobOwner, type TriggerCounters, type Version } from '../host/job.js';
import type { Delivery } from '../mqtt/message.js';
import type { Subscriber } from '../mqtt/subscriber.js';
import { wildcardMatcher } from '../mqtt/topic-filter.js';
import { stepConcurrency } from '../triggers/processing.js';
import type { Log } from '../util/log.js';
import { Waiters } from '../util/waiters.js';
import { Histogram } from '../util/histogram.js';
import { tap } from '../host/tap.js';
import { RecentWindow } from './recent.js';

export type { TriggerCounters } from '../host/job.js';

export interface TriggerDeps {
  /** The message host of the flow version in force now; a message keeps the one it was delivered under. */
  readonly host: () => MessageHost;
  readonly log: Log;
  /** True when the broker keeps unacknowledged messages for this trigger (cleanSession: false, ack after processing). Initial value; update() changes it. */
  readonly sessionKept: boolean;
}

export class TriggerRunner<T extends JobTrigger = Trigger> implements JobOwner {
  /** Jobs delivered and not started, in arrival order; `#head` is the next one. */
  #queue: Job[] = [];
  #head = 0;
  /** Jobs whose steps are running. */
  #running = 0;
  /** Jobs delivered and not done: queued, running, or waiting for their outputs. */
  #held = 0;
  /** Jobs waiting only for windows to emit (invariant 41): not stalled however long the window. */
  #inWindows = 0;
  /** The most jobs held at once (a high-water mark for /api/status: at most queueSize, invariant 33). */
  #heldPeak = 0;
  /** When a job last finished, or the trigger last went from holding nothing to holding a job (performance.now()). */
  #progressAt = 0;
  #pumping = false;
  #paused = false;
  /** Why the trigger is suspended by onError (or a failed error route), while it is. */
  #suspendedBy: string | undefined;
  readonly #idle = new Waiters();
  #subscriber: Subscriber | undefined;
  readonly log: Log;
  #trigger: T;
  #sessionKept: boolean;
  #matchers: readonly ((topic: string) => string[] | undefined)[];
  /** The version the next delivery is captured with (see onDelivery). */
  #version: Version | undefined;
  readonly counters: TriggerCounters = { received: 0, processed: 0, failed: 0, retried: 0, routed: 0 };
  readonly processingTime = { processed: new Histogram(), failed: new Histogram() };
  /** Rate and latency of the last minutes, for the status page. */
  readonly recent = new RecentWindow();
  lastError: string | undefined;

  constructor(
    trigger: T,
    private readonly deps: TriggerDeps,
  ) {
    this.log = deps.log.child({ trigger: trigger.name });
    this.#trigger = trigger;
    this.#matchers = (trigger.topics ?? []).map(wildcardMatcher);
    this.#sessionKept = deps.sessionKept;
  }

  /** The definition in force for messages delivered from now on. */
  get trigger(): T {
    return this.#trigger;
  }

  get sessionKept(): boolean {
    return this.#sessionKept;
  }

  get stopped(): boolean {
    return this.#subscriber?.state === 'stopped';
  }

  /** A reload changed the definition (service, processing, retries, error route, filters): messages delivered from now on use it. */
  update(trigger: T, sessionKept: boolean): void {
    this.#trigger = trigger;
    this.#sessionKept = sessionKept;
    this.#matchers = (trigger.topics ?? []).map(wildcardMatcher);
    this.#version = undefined;
    this.#pump();
  }

  /** The client that delivers from now on; a restarted trigger's old client may still deliver until it stops accepting. */
  attach(subscriber: Subscriber): void {
    this.#subscriber = subscriber;
  }

  /** Messages being processed: steps running, or waiting for their outputs' acknowledgements. */
  get inFlight(): number {
    return this.#held - this.queueDepth;
  }

  get queueDepth(): number {
    return this.#queue.length - this.#head;
  }

  get heldPeak(): number {
    return this.#heldPeak;
  }

  /**
   * How long the trigger has held messages it may work on without finishing one (0 when it holds
   * none, or only queued ones while paused): /readyz calls a trigger stuck past --stuck-after.
   */
  get stalledMs(): number {
    const working = (this.#paused ? this.inFlight : this.#held) - this.#inWindows;
    return working <= 0 ? 0 : Math.max(0, performance.now() - this.#progressAt);
  }

  readonly onDelivery = (delivery: Delivery): void => {
    this.counters.received++;
    const host = this.deps.host();
    host.hold();
    // One Version object per (definition, host) pair, not one per message.
    let version = this.#version;
    if (version === undefined || version.host !== host) version = this.#version = { trigger: this.#trigger, matchers: this.#matchers, host };
    const job = new Job(this, delivery, version);
    if (tap.active) tap.received(job, this.#trigger.name, this.#trigger.service, delivery);
    this.#queue.push(job);
    if (this.#held++ === 0) this.#progressAt = performance.now();
    if (this.#held > this.#heldPeak) this.#heldPeak = this.#held;
    this.#pump();
  };

  /**
   * Stops taking queued messages (the admin API's suspend): those in flight finish; new ones wait
   * unacknowledged, so the broker's in-flight window fills and it keeps the rest (QoS ≥ 1).
   */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Why onError (or a failed error route) suspended the trigger, while it is suspended. */
  get suspendedBy(): string | undefined {
    return this.#suspendedBy;
  }

  /** Starts queued jobs while there is room; a job whose steps end synchronously makes room at once. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      const limit = stepConcurrency(this.#trigger.processing);
      while (!this.#paused && this.#running < limit && this.#head < this.#queue.length) {
        const job = this.#queue[this.#head]!;
        this.#queue[this.#head++] = undefined as unknown as Job;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        this.#running++;
        job.start();
      }
    } finally {
      this.#pumping = false;
    }
  }

  waitingForWindows(delta: 1 | -1): void {
    this.#inWindows += delta;
    if (delta === -1) this.#progressAt = performance.now();
  }

  /** Messages waiting for windows to emit. */
  get inWindows(): number {
    return this.#inWindows;
  }

  stepsEnded(): void {
    this.#running--;
    this.#pump();
  }

  done(job: Job, outcome: 'processed' | 'failed', acknowledge: boolean): void {
    if (outcome === 'processed') this.counters.processed++;
    const now = performance.now();
    this.#progressAt = now;
    const ms = now - job.startedAt;
    this.processingTime[outcome].observe(ms / 1000);
    this.recent.observe(now, ms, outcome === 'failed');
    if (tap.active) tap.done(job, outcome, ms);
    job.version.host.release();
    // Let go of the job before its ack: the ack can make room at once, and the client then reads
    // (and delivers) the next message within complete().
    this.#held--;
    if (acknowledge) job.delivery.complete();
    else job.delivery.abandon();
    if (this.#held === 0) this.#idle.wake();
  }

  /** Drops the queued jobs (not started): they were not acknowledged, so the broker keeps them. */
  #dropQueued(): void {
    this.#dropQueuedWhere(() => true);
  }

  /** Drops the queued jobs `drop` picks, keeping the order of the others; returns how many. */
  #dropQueuedWhere(drop: (job: Job) => boolean): number {
    const kept: Job[] = [];
    const before = this.#held;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const job = this.#queue[i]!;
      if (!drop(job)) {
        kept.push(job);
        continue;
      }
      job.delivery.abandon();
      job.version.host.release();
      this.#held--;
    }
    this.#queue = kept;
    this.#head = 0;
    if (this.#held === 0) this.#idle.wake();
    return before - this.#held;
  }

  /**
   * The trigger's connection was lost (invariant 33). With a kept session the broker redelivers
   * every message of it that was not acknowledged, so its queued ones (not started) are dropped:
   * processing them as well would process them twice, and out of order with the redelivered ones.
   * Without a kept session (or at QoS 0) nothing comes again, so they are kept.
   */
  readonly onConnectionLost = (): void => {
    if (!this.#sessionKept) return;
    const dropped = this.#dropQueuedWhere((job) => job.delivery.connectionLost && job.delivery.qos > 0);
    if (dropped > 0) this.log.info({ event: 'queue-dropped', dropped }, `${dropped} queued message${dropped === 1 ? '' : 's'} of the lost connection left to the broker, which redelivers them`);
  };

  /** Resolves when nothing is queued, running or settling (or after `timeoutMs`); true when idle. A paused trigger's queue is left to the broker. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#paused) this.#dropQueued();
    return this.#held === 0 ? Promise.resolve(true) : this.#idle.wait(timeoutMs);
  }

  suspend(resumeAfterMs: number, why: string): void {
    const subscriber = this.#subscriber;
    if (subscriber === undefined || subscriber.state === 'suspended' || subscriber.state === 'stopped') return;
    this.log.warn({ event: 'suspended', resumeAfterMs, reason: why }, `trigger ${this.trigger.name} suspended for ${resumeAfterMs} ms (${why})`);
    this.#suspendedBy = why;
    // Queued messages were not acknowledged: the broker redelivers them when the trigger resumes.
    this.#dropQueued();
    void subscriber.suspend().then(() => {
      setTimeout(() => {
        if (subscriber.state !== 'suspended') return;
        this.log.info({ event: 'resumed' }, `trigger ${this.trigger.name} resumed`);
        this.#suspendedBy = undefined;
        subscriber.resume();
      }, resumeAfterMs).unref();
    });
  }
}
