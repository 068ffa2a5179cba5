/**
 * The state of a running mqflow as data: every connection, trigger and service with its state,
 * counters and last error (GET /api/status, the status page, /readyz). Never holds a secret:
 * connection URLs are shown without credentials.
 */
import type { Engine } from '../engine/engine.js';
import type { ReloadResult, Reloader } from '../engine/reloader.js';
import { formatProblem } from '../flow/problem.js';

export interface ConnectionStatus {
  readonly name: string;
  readonly enabled: boolean;
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

export interface TriggerStatus {
  readonly name: string;
  readonly connection: string;
  readonly service: string;
  readonly topics: readonly string[];
  readonly qos: number;
  readonly enabled: boolean;
  readonly suspended: boolean;
  readonly running: boolean;
  /** subscribed, connecting, reconnecting, refused, suspended, stopped, or not running. */
  readonly state: string;
  readonly reason?: string;
  readonly counters: { readonly received: number; readonly processed: number; readonly failed: number; readonly retried: number; readonly routed: number };
  readonly inFlight: number;
  readonly queueDepth: number;
  readonly lastError?: string;
}

export interface Status {
  readonly mqflow: string;
  readonly folder: string;
  readonly startedAt: string;
  readonly flowVersion: number;
  readonly reloads: { readonly applied: number; readonly unchanged: number; readonly failed: number };
  readonly lastReload?: { readonly outcome: string; readonly at: string; readonly reason: string; readonly ms: number; readonly changes: readonly string[]; readonly problems: readonly string[] };
  readonly connections: readonly ConnectionStatus[];
  readonly triggers: readonly TriggerStatus[];
  readonly services: readonly { readonly name: string; readonly description?: string; readonly steps: number }[];
}

export interface StatusSource {
  readonly engine: Engine;
  readonly reloader: Reloader;
  readonly version: string;
  readonly folder: string;
  readonly startedAt: Date;
}

export function status(source: StatusSource): Status {
  const { engine, reloader } = source;
  const model = engine.model;
  const defined = engine.defined;
  const connections = [...defined.connections.values()].map((c): ConnectionStatus => {
    const publisher = engine.publishers.get(c.name);
    const adminDisabled = engine.disabledConnections.has(c.name);
    const enabled = c.enabled && !adminDisabled;
    const reason = !c.enabled ? 'disabled in the flow file' : adminDisabled ? 'disabled through the admin API' : publisher?.state !== 'connected' ? (publisher?.lastError ?? 'not connected yet') : undefined;
    return {
      name: c.name,
      enabled,
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
  const triggers = [...defined.triggers.values()].map((t): TriggerStatus => {
    const running = engine.triggers.get(t.name);
    const suspended = engine.suspendedTriggers.has(t.name);
    const connection = model.connections.get(t.connection);
    const notRunning = !t.enabled ? 'disabled in the flow file' : connection === undefined ? `connection ${t.connection} is not defined` : !connection.enabled ? `connection ${t.connection} is disabled` : undefined;
    const state = running === undefined ? 'not running' : suspended ? 'suspended' : running.subscriber.state;
    const reason = notRunning ?? (running !== undefined && running.subscriber.state !== 'subscribed' ? running.subscriber.lastError : undefined);
    const lastError = running?.runner.lastError ?? running?.subscriber.lastError;
    return {
      name: t.name,
      connection: t.connection,
      service: t.service,
      topics: t.topics,
      qos: t.qos,
      enabled: t.enabled,
      suspended,
      running: running !== undefined,
      state,
      ...(reason === undefined ? {} : { reason }),
      counters: { ...(running?.runner.counters ?? { received: 0, processed: 0, failed: 0, retried: 0, routed: 0 }) },
      inFlight: running?.runner.inFlight ?? 0,
      queueDepth: running?.runner.queueDepth ?? 0,
      ...(lastError === undefined ? {} : { lastError }),
    };
  });
  const last = reloader.last;
  return {
    mqflow: source.version,
    folder: source.folder,
    startedAt: source.startedAt.toISOString(),
    flowVersion: reloader.version,
    reloads: { ...reloader.counts },
    ...(last === undefined ? {} : { lastReload: reloadSummary(last) }),
    connections,
    triggers,
    services: [...model.services.values()].map((s) => ({ name: s.name, ...(s.description === undefined ? {} : { description: s.description }), steps: s.steps.length })),
  };
}

function reloadSummary(r: ReloadResult): NonNullable<Status['lastReload']> {
  return { outcome: r.outcome, at: r.at, reason: r.reason, ms: r.ms, changes: r.changes, problems: r.problems.map(formatProblem) };
}

/** Readiness: every enabled connection connected, every running trigger subscribed. */
export function readiness(s: Status): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  for (const c of s.connections) if (c.enabled && c.state !== 'connected') reasons.push(`connection ${c.name} is ${c.state}${c.reason === undefined ? '' : `: ${c.reason}`}`);
  for (const t of s.triggers) {
    if (t.running && t.state !== 'subscribed' && t.state !== 'suspended') reasons.push(`trigger ${t.name} is ${t.state}${t.reason === undefined ? '' : `: ${t.reason}`}`);
  }
  return { ready: reasons.length === 0, reasons };
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
