/**
 * The engine owns the running state: a publisher per enabled connection, and a runner with its
 * subscriber client per running trigger. It starts from one FlowModel and applies reload plans
 * by difference (docs/architecture.md, "Hot reload", invariants 10–15).
 */
import { baseClientId, clientOptions } from '../connections/client-options.js';
import { ConnectionDiagnosis } from '../connections/diagnose.js';
import type { Connection, FlowModel, Trigger } from '../flow/model.js';
import { MessageHost } from '../host/host.js';
import type { Output } from '../host/output.js';
import type { OutgoingMessage, OutputTracker } from '../mqtt/message.js';
import { Publisher, PublishError } from '../mqtt/publisher.js';
import { Subscriber } from '../mqtt/subscriber.js';
import { PooledHttpClient } from '../http/client.js';
import { systemClock, type Clock } from '../state/clock.js';
import type { StateEnvironment } from '../state/message-state.js';
import type { Log } from '../util/log.js';
import { loadStoreDrivers } from '../stores/drivers.js';
import { OpenStores } from './open-stores.js';
import { WindowRuntime } from '../host/windows.js';
import { planReload, type ChangedTrigger, type ReloadPlan } from './plan.js';
import { snapshotOf, type EngineSnapshot } from './snapshot.js';
import { TriggerRunner } from './trigger-runner.js';
import { Endpoints } from './endpoints.js';
import { Schedules } from './schedules.js';
import { hostname } from 'node:os';

export interface EngineOptions {
  readonly log: Log;
  /** Suffix for client ids, so replicas of the same flows do not take each other's sessions. */
  readonly instance?: string;
  /** How long a reload waits for the old version's messages before retiring its clients anyway. */
  readonly drainTimeoutMs?: number;
  /** The clock of stateful steps (default: the wall clock). */
  readonly clock?: Clock;
}

interface RunningTrigger {
  readonly runner: TriggerRunner;
  subscriber: Subscriber;
  /** 0 or 1: which of the two client ids the subscriber uses (restarts alternate, invariant 13). */
  generation: 0 | 1;
}

/** How long a restarted trigger's new client may take to subscribe before the old one stops anyway. */
const SUBSCRIBE_WAIT_MS = 10_000;

export class Engine {
  /** The version in force: the flows as loaded, with the admin API's overrides applied. */
  #model: FlowModel;
  /** The flows as loaded (before overrides). */
  #defined: FlowModel;
  /** Connections disabled through the admin API; they stay disabled across reloads. */
  readonly #disabled = new Set<string>();
  /** Triggers suspended through the admin API; they stay suspended across reloads and restarts. */
  readonly #suspended = new Set<string>();
  readonly #publishers = new Map<string, Publisher>();
  readonly #runners = new Map<string, RunningTrigger>();
  readonly #log: Log;
  /** The message host of the version in force; each message keeps the one it was delivered under. */
  #host: MessageHost;
  /** Publishes go through the connections in place when they are made (invariant 14). */
  readonly #output: Output;
  /** Draining and retiring what earlier reloads replaced; the next reload waits for it. */
  #background: Promise<void> = Promise.resolve();
  /** State stores, kept across reloads while unchanged (invariant 40). */
  readonly #stores: OpenStores;
  /** Windows, kept with their open windows across reloads while unchanged (invariant 43). */
  #windows = new Map<string, WindowRuntime>();
  /** The HTTP client of `http` steps: its pools (and their kept-alive connections) outlive reloads (invariant 46). */
  readonly #http = new PooledHttpClient();
  /** Sparkplug edge-node seq of publishes (Effects.nextSequence): kept across reloads. */
  readonly #sequences = new Map<string, number>();
  /** HTTP listeners and the runners of their endpoints (invariant 47). */
  readonly #endpoints: Endpoints;
  /** Schedules and the runners of their fires (invariant 49). */
  readonly #schedules: Schedules;
  /** Per connection, where its clients report failures: one log line per cause, not per client (invariant 59). */
  readonly #diagnoses = new Map<string, ConnectionDiagnosis>();

  /** `model`'s store drivers must be loaded first (loadStoreDrivers). */
  constructor(
    model: FlowModel,
    private readonly options: EngineOptions,
  ) {
    this.#model = model;
    this.#defined = model;
    this.#log = options.log;
    this.#output = {
      send: (connection: string, message: OutgoingMessage, tracker: OutputTracker): void => {
        const publisher = this.#publishers.get(connection);
        if (publisher === undefined) throw new PublishError(`connection ${connection} is not running (disabled or not defined)`, 'MQFLOW_PUBLISH_NO_CONNECTION');
        publisher.send(message, tracker);
      },
      request: (connection, message, timeoutMs, tracker) => {
        const publisher = this.#publishers.get(connection);
        if (publisher === undefined) return Promise.reject(new PublishError(`connection ${connection} is not running (disabled or not defined)`, 'MQFLOW_PUBLISH_NO_CONNECTION'));
        return publisher.request(message, timeoutMs, tracker);
      },
    };
    this.#stores = new OpenStores(this.#log, options.clock ?? systemClock);
    this.#endpoints = new Endpoints(() => this.#host, this.#log);
    this.#schedules = new Schedules(() => this.#host, this.#log, this.#stores.clock, (name) => this.#stores.all.get(name)?.open, options.instance ?? `${hostname()}-${process.pid}`);
    this.#host = this.#newHost(model, this.#stores.update(model).env).host;
  }

  /** The message host of `model`, with its windows: unchanged ones kept, the others new; `replaced` are to be closed. */
  #newHost(model: FlowModel, state: StateEnvironment): { host: MessageHost; replaced: WindowRuntime[] } {
    const windows = new Map<string, WindowRuntime>();
    const host = new MessageHost(model, this.#output, this.#log, { logPublishes: true, state, windows: { window: (name) => windows.get(name) }, http: this.#http, sequences: this.#sequences });
    const replaced: WindowRuntime[] = [];
    for (const [name, runtime] of this.#windows) if (model.windows.get(name)?.fingerprint !== runtime.fingerprint) replaced.push(runtime);
    for (const [name, window] of model.windows) {
      const kept = this.#windows.get(name);
      if (kept !== undefined && kept.fingerprint === window.fingerprint) {
        windows.set(name, kept);
        continue;
      }
      const connection = window.connection ?? (model.connections.size === 1 ? [...model.connections.keys()][0]! : '');
      const store = window.store === undefined ? undefined : state.store(window.store);
      const runtime = new WindowRuntime(name, window, window.fingerprint, (payload, context) => host.runSteps(window.steps, payload, context), connection, this.#stores.clock, this.#log.child({ window: name }), store === undefined ? undefined : { store, env: state });
      windows.set(name, runtime);
      // A window kept in a store closes the windows it finds there on time (invariant 44).
      if (store !== undefined) {
        try {
          void Promise.resolve(runtime.restore()).catch((error: unknown) => this.#log.error({ event: 'windows-restore-failed', window: name, reason: (error as Error).message }, `window ${name}: its open windows could not be read: ${(error as Error).message}`));
        } catch (error) {
          this.#log.error({ event: 'windows-restore-failed', window: name, reason: (error as Error).message }, `window ${name}: its open windows could not be read: ${(error as Error).message}`);
        }
      }
    }
    this.#windows = windows;
    return { host, replaced };
  }

  /** The windows in force, for the snapshot. */
  get windows(): ReadonlyMap<string, WindowRuntime> {
    return this.#windows;
  }

  /** The version in force (admin overrides applied). */
  get model(): FlowModel {
    return this.#model;
  }

  /** The flows as loaded, before the admin API's overrides. */
  get defined(): FlowModel {
    return this.#defined;
  }

  get disabledConnections(): ReadonlySet<string> {
    return this.#disabled;
  }

  get suspendedTriggers(): ReadonlySet<string> {
    return this.#suspended;
  }

  /** What applying `defined` (a freshly loaded folder) would change, with the admin overrides kept. */
  planFor(defined: FlowModel): { effective: FlowModel; plan: ReloadPlan } {
    const effective = this.#withOverrides(defined);
    return { effective, plan: planReload(this.#model, effective) };
  }

  #withOverrides(defined: FlowModel): FlowModel {
    if (![...this.#disabled].some((name) => defined.connections.get(name)?.enabled === true)) return defined;
    const connections = new Map([...defined.connections].map(([name, c]) => [name, this.#disabled.has(name) ? Object.freeze({ ...c, enabled: false }) : c]));
    return Object.freeze({ ...defined, connections });
  }

  /** The admin API's enable/disable of a connection: applied as a reload of the same flows. */
  async setConnectionEnabled(name: string, enabled: boolean): Promise<ReloadPlan> {
    if (enabled) this.#disabled.delete(name);
    else this.#disabled.add(name);
    const { effective, plan } = this.planFor(this.#defined);
    await this.apply(effective, plan, this.#defined);
    this.#log.info({ event: enabled ? 'connection-enabled' : 'connection-disabled', connection: name }, `connection ${name} ${enabled ? 'enabled' : 'disabled'} (admin API)`);
    return plan;
  }

  /** Suspends (or resumes) a trigger: no new messages are processed; those in flight finish. False when it is not running. */
  setTriggerSuspended(name: string, suspended: boolean): boolean {
    const running = this.#runners.get(name);
    if (suspended) this.#suspended.add(name);
    else this.#suspended.delete(name);
    if (running === undefined) return false;
    if (suspended) running.runner.pause();
    else running.runner.resume();
    this.#log.info({ event: suspended ? 'trigger-suspended' : 'trigger-resumed', trigger: name }, `trigger ${name} ${suspended ? 'suspended' : 'resumed'} (admin API)`);
    return true;
  }

  get #drainTimeoutMs(): number {
    return this.options.drainTimeoutMs ?? 30_000;
  }

  start(): void {
    for (const connection of this.#model.connections.values()) {
      if (!connection.enabled) {
        this.#log.info({ connection: connection.name, event: 'disabled' }, `connection ${connection.name} is disabled`);
        continue;
      }
      this.#publishers.set(connection.name, this.#newPublisher(connection));
    }
    for (const trigger of this.#model.triggers.values()) {
      const connection = this.#model.connections.get(trigger.connection);
      if (!trigger.enabled || connection === undefined || !connection.enabled) continue;
      this.#runners.set(trigger.name, this.#startTrigger(trigger, connection, 0, undefined));
    }
    void this.#endpoints.apply(this.#model, this.#drainTimeoutMs);
    this.#schedules.apply(this.#model, this.#drainTimeoutMs);
  }

  #newPublisher(connection: Connection, options: { deferConnect?: boolean } = {}): Publisher {
    const clientId = baseClientId(connection, this.options.instance);
    return new Publisher({
      name: connection.name,
      clientOptions: clientOptions(connection, { clientId, ...(connection.will === undefined ? {} : { will: connection.will }) }),
      reconnectPeriodMs: connection.reconnectPeriodMs,
      offlineQueueSize: connection.offlineQueueSize,
      publishTimeoutMs: connection.publishTimeoutMs,
      ...(connection.maxPacketSize === undefined ? {} : { maxPacketSize: connection.maxPacketSize }),
      ...(connection.birth === undefined ? {} : { birth: connection.birth }),
      ...(connection.close === undefined ? {} : { close: connection.close }),
      errors: this.#diagnosis(connection),
      log: this.#log,
      ...(options.deferConnect === true ? { deferConnect: true } : {}),
    });
  }

  #diagnosis(connection: Connection): ConnectionDiagnosis {
    const known = this.#diagnoses.get(connection.name);
    if (known !== undefined && known.urls.join(' ') === connection.urls.join(' ')) return known;
    const diagnosis = new ConnectionDiagnosis(connection, this.#log);
    this.#diagnoses.set(connection.name, diagnosis);
    return diagnosis;
  }

  /** Starts a subscriber for `trigger`, feeding `runner` (a restart keeps the runner and its counters) or a new one. */
  #startTrigger(trigger: Trigger, connection: Connection, generation: 0 | 1, runner: TriggerRunner | undefined): RunningTrigger {
    const sessionKept = !connection.cleanSession && trigger.ack === 'afterProcessing';
    const target = runner ?? new TriggerRunner(trigger, { host: () => this.#host, log: this.#log, sessionKept });
    if (runner === undefined && this.#suspended.has(trigger.name)) target.pause();
    if (runner !== undefined) runner.update(trigger, sessionKept);
    const clientId = `${baseClientId(connection, this.options.instance)}-${trigger.name}${generation === 1 ? '~1' : ''}`;
    const subscriber = new Subscriber({
      clientOptions: clientOptions(connection, { clientId, receiveMaximum: Math.min(65535, trigger.queueSize) }),
      reconnectPeriodMs: connection.reconnectPeriodMs,
      subscriptions: trigger.subscriptions,
      qos: trigger.qos,
      capacity: trigger.queueSize,
      ack: trigger.ack,
      log: this.#log.child({ trigger: trigger.name, connection: connection.name }),
      errors: this.#diagnosis(connection),
      onDelivery: target.onDelivery,
      onConnectionLost: target.onConnectionLost,
    });
    target.attach(subscriber);
    return { runner: target, subscriber, generation };
  }

  /**
   * Applies a reload: `next` becomes the version in force. Resolves once the new version is live
   * (new and restarted triggers subscribed, or given up on after 10 s); what the old version still
   * holds drains in the background, and the next apply waits for that first.
   */
  async apply(next: FlowModel, plan: ReloadPlan, defined: FlowModel = next): Promise<void> {
    await this.#background;
    await loadStoreDrivers(next.stores.values());
    this.#defined = defined;
    const oldHost = this.#host;
    const removed: Publisher[] = [];
    const switches: { name: string; old: Publisher; replacement: Publisher }[] = [];
    for (const { name } of plan.connections.removed) {
      const publisher = this.#publishers.get(name);
      if (publisher !== undefined) removed.push(publisher);
    }
    for (const change of plan.connections.changed) {
      const old = this.#publishers.get(change.name);
      if (!change.reconnect || old === undefined) continue;
      // Same client id as the old one: it may connect only once the old one is gone.
      switches.push({ name: change.name, old, replacement: this.#newPublisher(next.connections.get(change.name)!, { deferConnect: true }) });
    }
    for (const { name } of plan.connections.added) this.#publishers.set(name, this.#newPublisher(next.connections.get(name)!));

    // The swap: messages delivered from here on run on the new version (invariant 10).
    this.#model = next;
    const stores = this.#stores.update(next);
    const { host, replaced: replacedWindows } = this.#newHost(next, stores.env);
    this.#host = host;
    // A changed or removed window closes its open windows now: their messages are acknowledged once they emitted.
    for (const window of replacedWindows) void window.close();

    const draining: Promise<void>[] = [];
    for (const { name } of plan.triggers.removed) {
      const running = this.#runners.get(name);
      if (running === undefined) continue;
      this.#runners.delete(name);
      // Unsubscribed first: a persistent session must not keep queueing for a client that is gone.
      draining.push(this.#retire(running.subscriber, { unsubscribe: true }));
    }
    const changed = new Map(plan.triggers.changed.map((c) => [c.name, c]));
    const live: Promise<void>[] = [];
    for (const [name, running] of this.#runners) {
      const trigger = next.triggers.get(name)!;
      const connection = next.connections.get(trigger.connection)!;
      const change = changed.get(name);
      if (change?.action === 'restart') live.push(this.#restart(running, trigger, connection, draining));
      else if (change?.action === 'resubscribe') live.push(this.#resubscribe(running, trigger, connection, change));
      else running.runner.update(trigger, !connection.cleanSession && trigger.ack === 'afterProcessing');
    }
    for (const { name } of plan.triggers.added) {
      const trigger = next.triggers.get(name)!;
      const started = this.#startTrigger(trigger, next.connections.get(trigger.connection)!, 0, undefined);
      this.#runners.set(name, started);
      live.push(started.subscriber.whenSubscribed(SUBSCRIBE_WAIT_MS).then(() => undefined));
    }
    await Promise.all(live);
    await this.#endpoints.apply(next, this.#drainTimeoutMs);
    this.#schedules.apply(next, this.#drainTimeoutMs);

    // Switch changed connections now: publishes wait in the new client's offline queue while the
    // old client finishes its own and disconnects. Removed connections go once the old version's
    // messages are done, which never waits on a switch (invariants 14, 15).
    const switched = Promise.all(
      switches.map(async ({ name, old, replacement }) => {
        this.#publishers.set(name, replacement);
        // No close message: the replacement connects at once and publishes the birth.
        await old.stop(Math.max(1000, this.#drainTimeoutMs), { announce: false });
        replacement.start();
      }),
    );
    this.#background = (async () => {
      await Promise.all([switched, ...draining]);
      if (stores.replaced.length > 0) {
        // The old version's messages commit to the stores they started with.
        await oldHost.idle(this.#drainTimeoutMs);
        await OpenStores.close(stores.replaced, this.#log);
      }
      if (removed.length > 0) {
        const idle = await oldHost.idle(this.#drainTimeoutMs);
        if (!idle) this.#log.warn({ event: 'reload-drain-timeout', held: oldHost.held }, `${oldHost.held} messages of the previous version were still in flight after the drain timeout`);
        for (const publisher of removed) {
          if (this.#publishers.get(publisher.name) === publisher) this.#publishers.delete(publisher.name);
        }
        await Promise.all(removed.map((p) => p.stop(Math.max(1000, this.#drainTimeoutMs))));
      }
    })().catch((error: unknown) => {
      this.#log.error({ event: 'reload-retire-failed', err: error }, 'retiring the previous version failed');
    });
  }

  /** Resolves when what earlier reloads replaced has drained and disconnected. */
  settled(): Promise<void> {
    return this.#background;
  }

  /**
   * Stops taking messages, lets those accepted finish (their acks go out), then disconnects. With
   * `unsubscribe` it first unsubscribes while still taking messages, so nothing already on its
   * way to this client is dropped.
   */
  async #retire(subscriber: Subscriber, options: { unsubscribe: boolean }): Promise<void> {
    if (options.unsubscribe && !(await subscriber.unsubscribeAll(SUBSCRIBE_WAIT_MS))) {
      this.#log.warn({ event: 'unsubscribe-timeout' }, 'a retired trigger client got no UNSUBACK in time; messages still on their way to it are left to the broker');
    }
    subscriber.stopAccepting();
    const drained = await subscriber.drained(this.#drainTimeoutMs);
    if (!drained) this.#log.warn({ event: 'reload-drain-timeout' }, 'a retired trigger client still had messages in flight after the drain timeout; the broker redelivers them');
    await subscriber.stop();
  }

  /** Invariant 13: hand the session over (persistent) or overlap under the other client id (clean). */
  async #restart(running: RunningTrigger, trigger: Trigger, connection: Connection, draining: Promise<void>[]): Promise<void> {
    const old = running.subscriber;
    if (!connection.cleanSession) {
      await this.#retire(old, { unsubscribe: false });
      const started = this.#startTrigger(trigger, connection, 0, running.runner);
      running.subscriber = started.subscriber;
      running.generation = 0;
      await started.subscriber.whenSubscribed(SUBSCRIBE_WAIT_MS);
      return;
    }
    const generation = running.generation === 0 ? 1 : 0;
    const started = this.#startTrigger(trigger, connection, generation, running.runner);
    running.subscriber = started.subscriber;
    running.generation = generation;
    await started.subscriber.whenSubscribed(SUBSCRIBE_WAIT_MS);
    draining.push(this.#retire(old, { unsubscribe: true }));
  }

  async #resubscribe(running: RunningTrigger, trigger: Trigger, connection: Connection, change: ChangedTrigger): Promise<void> {
    running.runner.update(trigger, !connection.cleanSession && trigger.ack === 'afterProcessing');
    await running.subscriber.resubscribe(trigger.subscriptions, trigger.qos, change.subscribe, change.unsubscribe);
  }

  get triggers(): ReadonlyMap<string, { readonly runner: TriggerRunner; readonly subscriber: Subscriber }> {
    return this.#runners;
  }

  get publishers(): ReadonlyMap<string, Publisher> {
    return this.#publishers;
  }

  /** The engine's state as plain data: what status, readiness and metrics all read (docs/architecture.md, "The engine's snapshot"). */
  snapshot(): EngineSnapshot {
    return snapshotOf({
      model: this.#model,
      defined: this.#defined,
      publishers: this.#publishers,
      triggers: this.#runners,
      disabledConnections: this.#disabled,
      suspendedTriggers: this.#suspended,
      stores: this.#stores.all,
      windows: this.#windows,
      http: this.#http.stats(),
      endpoints: this.#endpoints,
      schedules: this.#schedules.running,
    });
  }

  /**
   * Graceful stop: take no new messages, let those in flight finish (up to `drainTimeoutMs`) so
   * their acks go out, then disconnect trigger clients, then publishers once their publishes are acknowledged.
   */
  async stop(drainTimeoutMs: number): Promise<{ drained: boolean; unfinished: number; unconfirmed: number }> {
    // One deadline for every wait (invariant 30): a broker gone or frozen cannot stretch it.
    const deadline = Date.now() + drainTimeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    const runners = [...this.#runners.values()];
    for (const { subscriber } of runners) subscriber.stopAccepting();
    // Open windows close now, and the ones queued messages open close at once (invariant 43).
    for (const window of this.#windows.values()) void window.close();
    const endpointsStopped = Promise.all([this.#endpoints.stop(left()), this.#schedules.stop(left())]);
    const drained = await Promise.all(runners.map(({ runner }) => runner.drain(left())));
    await endpointsStopped;
    const unfinished = runners.reduce((n, { runner }) => n + runner.inFlight + runner.queueDepth, 0);
    // Not unref'd: were it the last thing left, Node would end the process with code 13 instead.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#background, new Promise((r) => (timer = setTimeout(r, left())))]);
    clearTimeout(timer);
    await Promise.all(runners.map(({ subscriber }) => subscriber.stop(Math.min(1000, left()))));
    const unconfirmed = await Promise.all([...this.#publishers.values()].map((p) => p.stop(left())));
    await this.#http.close();
    // Commits of finished messages settle first; a store that does not close in time is left.
    await Promise.race([this.#stores.closeAll(), new Promise((resolve) => setTimeout(resolve, Math.max(100, left())).unref())]);
    return { drained: drained.every(Boolean), unfinished, unconfirmed: unconfirmed.reduce((a, b) => a + b, 0) };
  }
}
