/**
 * The engine's state as plain data (docs/architecture.md, "The engine's snapshot"): every
 * connection and trigger with its state, counters and last error. `/api/status`, the status page,
 * `/readyz` and `/metrics` all read this and nothing else of the engine, so they cannot disagree.
 * Never holds a secret: connection URLs are shown without credentials.
 */
import type { FlowModel } from '../flow/model.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { Subscriber } from '../mqtt/subscriber.js';
import type { HistogramSnapshot } from './histogram.js';
import type { TriggerCounters, TriggerRunner } from './trigger-runner.js';

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
}

export interface EngineSnapshot {
  readonly connections: readonly ConnectionSnapshot[];
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
      processingTime: {
        processed: running?.runner.processingTime.processed.snapshot() ?? EMPTY_HISTOGRAM,
        failed: running?.runner.processingTime.failed.snapshot() ?? EMPTY_HISTOGRAM,
      },
    };
  });
  return {
    connections,
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
