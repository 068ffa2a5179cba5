/**
 * The engine's state as plain data (docs/architecture.md, "The engine's snapshot"): every
 * connection and trigger with its state, counters and last error. `/api/status`, the status page,
 * `/readyz` and `/metrics` all read this and nothing else of the engine, so they cannot disagree.
 * Never holds a secret: connection URLs are shown without credentials.
 */
import type { FlowModel, Store } from '../flow/model.js';
import type { OpenStore } from '../state/open-store.js';
import { existingSparkplugSession } from '../codecs/sparkplug/session.js';
import type { WindowCounters } from '../host/windows.js';
import type { HostStats } from '../http/client.js';
import type { RunningEndpoint } from './endpoints.js';
import type { RunningSchedule, ScheduleCounters } from './schedules.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { Subscriber } from '../mqtt/subscriber.js';
import type { HistogramSnapshot } from '../util/histogram.js';
import type { TriggerCounters, TriggerRunner } from './trigger-runner.js';
import type { RecentSnapshot } from './recent.js';

export interface ConnectionSnapshot {
  readonly name: string;
  readonly enabled: boolean;
  /** Who disabled it, when it is disabled: `flow file` (enabled: false) or `operator` (the admin API). */
  readonly disabledBy?: 'flow file' | 'operator';
  readonly running: boolean;
  /** connected, connecting, reconnecting, stopped, or disabled. */
  readonly state: string;
  /** Why it is not running or not connected, in words. */
  readonly reason?: string;
  readonly urls: readonly string[];
  readonly reconnects: number;
  readonly publishes: { readonly ok: number; readonly failed: number };
  readonly offlineQueue: number;
  readonly lastError?: string;
  /** MQTT 5 requests of `request` steps through it, once it made one: replies, timeouts, late replies, waiting now; reply latency. */
  readonly requests?: { readonly replied: number; readonly timedOut: number; readonly late: number; readonly waiting: number; readonly latency: HistogramSnapshot };
}

export interface TriggerSnapshot {
  readonly name: string;
  readonly connection: string;
  readonly service: string;
  readonly topics: readonly string[];
  readonly qos: number;
  readonly enabled: boolean;
  /** True when suspended, by an operator or by onError (see suspendedBy). */
  readonly suspended: boolean;
  /** `operator` (the admin API), `onError: suspend`, or `error route failed`. */
  readonly suspendedBy?: string;
  readonly running: boolean;
  /** subscribed, connecting, reconnecting, refused, suspended, stopped, or not running. */
  readonly state: string;
  readonly reason?: string;
  readonly counters: Readonly<TriggerCounters>;
  readonly inFlight: number;
  readonly queueDepth: number;
  /** The most messages it has held at once (queued, running or settling) since it started. */
  readonly heldPeak: number;
  /** How long it has held messages without finishing one, in ms (0 when it holds none). */
  readonly stalledMs: number;
  readonly lastError?: string;
  /** Time from a message's start to done, by outcome. */
  readonly processingTime: { readonly processed: HistogramSnapshot; readonly failed: HistogramSnapshot };
  /** The last 5 minutes in 10 s buckets: messages done and failed, per second, p50 and p99 (while running). */
  readonly recent?: RecentSnapshot;
}

export interface StoreSnapshot {
  readonly name: string;
  readonly type: 'memory' | 'disk' | 'redis';
  /** Where its data is: a folder, or a Redis URL (no credentials) with the key prefix. */
  readonly location?: string;
  /** Entries held, where the store counts them (not Redis). */
  readonly entries?: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  /** Reads, claims and commits that failed. */
  readonly errors: number;
  readonly commits: number;
  /** Keys messages hold now (invariant 36). */
  readonly keysHeld: number;
  /** Sparkplug B triggers keeping their alias tables here: edge nodes known, and reports by kind (invariant 56). */
  readonly sparkplug?: { readonly edgeNodes: number; readonly events: Readonly<Record<string, number>> };
}

export interface WindowSnapshot {
  readonly name: string;
  /** Windows open now (one per key, more when sliding). */
  readonly open: number;
  /** Messages held until their windows emit. */
  readonly held: number;
  readonly emitted: number;
  readonly failed: number;
  /** Event time: values whose windows had all closed. */
  readonly late: number;
}

/** An HTTP listener: where it listens, or why it does not. */
export interface ListenerSnapshot {
  readonly name: string;
  readonly url?: string;
  readonly error?: string;
}

/** An endpoint (HTTP trigger) and its requests. */
export interface EndpointSnapshot {
  readonly name: string;
  readonly listener: string;
  readonly method: string;
  readonly path: string;
  readonly service: string;
  readonly enabled: boolean;
  readonly running: boolean;
  readonly counters: TriggerCounters;
  /** Answers sent, by status class. */
  readonly answers: Readonly<Record<'2xx' | '4xx' | '5xx', number>>;
  readonly inFlight: number;
  readonly queueDepth: number;
  readonly heldPeak: number;
  readonly lastError?: string;
}

/** A schedule: when it fires next, its last fire done, and its fires. */
export interface ScheduleSnapshot {
  readonly name: string;
  readonly service: string;
  /** `every 30s` or `cron 0 6 * * * (Europe/Berlin)`. */
  readonly when: string;
  readonly enabled: boolean;
  readonly running: boolean;
  readonly next?: string;
  readonly lastFire?: string;
  readonly fires: Readonly<ScheduleCounters>;
  readonly counters: TriggerCounters;
  readonly inFlight: number;
  readonly queueDepth: number;
  readonly lastError?: string;
}

export interface EngineSnapshot {
  readonly schedules: readonly ScheduleSnapshot[];
  readonly listeners: readonly ListenerSnapshot[];
  readonly endpoints: readonly EndpointSnapshot[];
  readonly connections: readonly ConnectionSnapshot[];
  /** Requests of `http` steps, per host. */
  readonly http: readonly HostStats[];
  readonly stores: readonly StoreSnapshot[];
  readonly windows: readonly WindowSnapshot[];
  readonly triggers: readonly TriggerSnapshot[];
  readonly services: readonly { readonly name: string; readonly description?: string; readonly steps: number }[];
}

export interface SnapshotSource {
  readonly model: FlowModel;
  readonly defined: FlowModel;
  readonly publishers: ReadonlyMap<string, Publisher>;
  readonly triggers: ReadonlyMap<string, { readonly runner: TriggerRunner; readonly subscriber: Subscriber }>;
  readonly disabledConnections: ReadonlySet<string>;
  readonly suspendedTriggers: ReadonlySet<string>;
  readonly stores: ReadonlyMap<string, { readonly definition: Store; readonly open: OpenStore }>;
  readonly windows: ReadonlyMap<string, { readonly counters: Readonly<WindowCounters> }>;
  readonly http: readonly HostStats[];
  readonly endpoints: { readonly endpoints: ReadonlyMap<string, RunningEndpoint>; listeners(): ListenerSnapshot[] };
  readonly schedules: ReadonlyMap<string, RunningSchedule>;
}

const NO_COUNTERS: TriggerCounters = { received: 0, processed: 0, failed: 0, retried: 0, routed: 0 };
const EMPTY_HISTOGRAM: HistogramSnapshot = { buckets: [], counts: [], count: 0, sum: 0 };

export function snapshotOf(source: SnapshotSource): EngineSnapshot {
  const { model, defined } = source;
  const connections = [...defined.connections.values()].map((c): ConnectionSnapshot => {
    const publisher = source.publishers.get(c.name);
    const adminDisabled = source.disabledConnections.has(c.name);
    const reason = !c.enabled ? 'disabled in the flow file' : adminDisabled ? 'disabled through the admin API' : publisher?.state !== 'connected' ? (publisher?.lastError ?? 'not connected yet') : undefined;
    const disabledBy = !c.enabled ? 'flow file' : adminDisabled ? 'operator' : undefined;
    return {
      name: c.name,
      enabled: disabledBy === undefined,
      ...(disabledBy === undefined ? {} : { disabledBy }),
      running: publisher !== undefined,
      state: publisher?.state ?? 'disabled',
      ...(reason === undefined ? {} : { reason }),
      urls: c.urls.map(withoutCredentials),
      reconnects: publisher?.reconnects.count ?? 0,
      publishes: { ...(publisher?.publishes ?? { ok: 0, failed: 0 }) },
      offlineQueue: publisher?.offlineQueueDepth ?? 0,
      ...(publisher?.inbox === undefined ? {} : { requests: { ...publisher.inbox.counts, waiting: publisher.inbox.waiting, latency: publisher.inbox.latency.snapshot() } }),
      ...(publisher?.lastError === undefined ? {} : { lastError: publisher.lastError }),
    };
  });
  const triggers = [...defined.triggers.values()].map((t): TriggerSnapshot => {
    const running = source.triggers.get(t.name);
    const connection = model.connections.get(t.connection);
    const suspendedBy = running === undefined ? undefined : source.suspendedTriggers.has(t.name) ? 'operator' : running.runner.suspendedBy;
    const notRunning = !t.enabled ? 'disabled in the flow file' : connection === undefined ? `connection ${t.connection} is not defined` : !connection.enabled ? `connection ${t.connection} is disabled` : undefined;
    const state = running === undefined ? 'not running' : suspendedBy !== undefined ? 'suspended' : running.subscriber.state;
    const reason = notRunning ?? (suspendedBy !== undefined ? `suspended (${suspendedBy})` : running !== undefined && running.subscriber.state !== 'subscribed' ? running.subscriber.lastError : undefined);
    const lastError = running?.runner.lastError ?? running?.subscriber.lastError;
    return {
      name: t.name,
      connection: t.connection,
      service: t.service,
      topics: t.topics,
      qos: t.qos,
      enabled: t.enabled,
      suspended: suspendedBy !== undefined,
      ...(suspendedBy === undefined ? {} : { suspendedBy }),
      running: running !== undefined,
      state,
      ...(reason === undefined ? {} : { reason }),
      counters: { ...(running?.runner.counters ?? NO_COUNTERS) },
      inFlight: running?.runner.inFlight ?? 0,
      queueDepth: running?.runner.queueDepth ?? 0,
      heldPeak: running?.runner.heldPeak ?? 0,
      stalledMs: Math.round(running?.runner.stalledMs ?? 0),
      ...(lastError === undefined ? {} : { lastError }),
      ...(running === undefined ? {} : { recent: running.runner.recent.snapshot() }),
      processingTime: {
        processed: running?.runner.processingTime.processed.snapshot() ?? EMPTY_HISTOGRAM,
        failed: running?.runner.processingTime.failed.snapshot() ?? EMPTY_HISTOGRAM,
      },
    };
  });
  const stores = [...source.stores.values()].map(({ definition, open }): StoreSnapshot => {
    const stats = open.stats();
    const location = definition.disk?.path ?? (definition.redis === undefined ? undefined : `${withoutCredentials(definition.redis.url)} ${definition.redis.keyPrefix}`);
    return {
      name: definition.name,
      type: definition.type,
      ...(location === undefined ? {} : { location }),
      ...(stats.entries === undefined ? {} : { entries: stats.entries }),
      hits: stats.hits,
      misses: stats.misses,
      evictions: stats.evictions,
      errors: stats.errors + stats.commitFailures,
      commits: stats.commits,
      keysHeld: stats.keysHeld,
      ...sparkplugOf(open),
    };
  });
  const windows = [...source.windows].map(([name, w]): WindowSnapshot => ({ name, ...w.counters }));
  const endpoints = [...defined.endpoints.values()].map((e): EndpointSnapshot => {
    const running = source.endpoints.endpoints.get(e.name);
    const lastError = running?.runner.lastError;
    return {
      name: e.name,
      listener: e.listener,
      method: e.method,
      path: e.path,
      service: e.service,
      enabled: e.enabled,
      running: running !== undefined,
      counters: { ...(running?.runner.counters ?? NO_COUNTERS) },
      answers: { ...(running?.answers ?? { '2xx': 0, '4xx': 0, '5xx': 0 }) },
      inFlight: running?.runner.inFlight ?? 0,
      queueDepth: running?.runner.queueDepth ?? 0,
      heldPeak: running?.runner.heldPeak ?? 0,
      ...(lastError === undefined ? {} : { lastError }),
    };
  });
  const schedules = [...defined.schedules.values()].map((s): ScheduleSnapshot => {
    const running = source.schedules.get(s.name);
    const lastError = running?.runner.lastError;
    return {
      name: s.name,
      service: s.service,
      when: s.timing.kind === 'every' ? `every ${s.timing.everyMs / 1000}s` : `cron ${s.timing.cron} (${s.timing.timezone})`,
      enabled: s.enabled,
      running: running !== undefined,
      ...(running?.next === undefined ? {} : { next: new Date(running.next).toISOString() }),
      ...(running?.lastDone === undefined ? {} : { lastFire: new Date(running.lastDone).toISOString() }),
      fires: { ...(running?.counters ?? { fired: 0, madeUp: 0, elsewhere: 0, overrun: 0 }) },
      counters: { ...(running?.runner.counters ?? NO_COUNTERS) },
      inFlight: running?.runner.inFlight ?? 0,
      queueDepth: running?.runner.queueDepth ?? 0,
      ...(lastError === undefined ? {} : { lastError }),
    };
  });
  return {
    schedules,
    listeners: source.endpoints.listeners(),
    endpoints,
    connections,
    http: source.http,
    stores,
    windows,
    triggers,
    services: [...model.services.values()].map((s) => ({ name: s.name, ...(s.description === undefined ? {} : { description: s.description }), steps: s.steps.length })),
  };
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

function sparkplugOf(open: OpenStore): Pick<StoreSnapshot, 'sparkplug'> {
  const session = existingSparkplugSession(open);
  return session === undefined ? {} : { sparkplug: { edgeNodes: session.nodes, events: Object.fromEntries(session.events) } };
}
