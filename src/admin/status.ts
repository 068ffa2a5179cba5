/**
 * The state of a running mqflow as data (GET /api/status, the status page, /readyz): the engine's
 * snapshot, with the reloads and where the flows come from. Never holds a secret.
 */
import type { Engine } from '../engine/engine.js';
import type { ReloadResult, Reloader } from '../engine/reloader.js';
import type { ConnectionSnapshot, EngineSnapshot, TriggerSnapshot } from '../engine/snapshot.js';
import { formatProblem } from '../flow/problem.js';
import type { FlowRevision } from '../flow/revision.js';

export type ConnectionStatus = ConnectionSnapshot;
export type TriggerStatus = Omit<TriggerSnapshot, 'processingTime'>;

export interface Status {
  readonly mqflow: string;
  readonly folder: string;
  readonly startedAt: string;
  readonly flowVersion: number;
  /** The commit the version in force was built from, and whether the folder differed from it; absent outside git. */
  readonly revision?: FlowRevision;
  /** When the version in force went live. */
  readonly appliedAt: string;
  readonly reloads: { readonly applied: number; readonly unchanged: number; readonly failed: number };
  readonly lastReload?: { readonly outcome: string; readonly at: string; readonly reason: string; readonly ms: number; readonly changes: readonly string[]; readonly problems: readonly string[] };
  readonly connections: readonly ConnectionStatus[];
  readonly stores: EngineSnapshot['stores'];
  readonly windows: EngineSnapshot['windows'];
  readonly listeners: EngineSnapshot['listeners'];
  readonly endpoints: EngineSnapshot['endpoints'];
  readonly schedules: EngineSnapshot['schedules'];
  /** Requests of http steps, per host (durations left to /metrics). */
  readonly http: readonly { readonly host: string; readonly requests: EngineSnapshot['http'][number]['requests']; readonly inFlight: number }[];
  readonly triggers: readonly TriggerStatus[];
  readonly services: EngineSnapshot['services'];
}

export interface StatusSource {
  readonly engine: Engine;
  readonly reloader: Reloader;
  readonly version: string;
  readonly folder: string;
  readonly startedAt: Date;
}

export function status(source: StatusSource, snapshot: EngineSnapshot = source.engine.snapshot()): Status {
  const { reloader } = source;
  const last = reloader.last;
  return {
    mqflow: source.version,
    folder: source.folder,
    startedAt: source.startedAt.toISOString(),
    flowVersion: reloader.version,
    ...(reloader.current.revision === undefined ? {} : { revision: reloader.current.revision }),
    appliedAt: reloader.current.appliedAt,
    reloads: { ...reloader.counts },
    ...(last === undefined ? {} : { lastReload: reloadSummary(last) }),
    connections: snapshot.connections,
    stores: snapshot.stores,
    windows: snapshot.windows,
    listeners: snapshot.listeners,
    endpoints: snapshot.endpoints,
    schedules: snapshot.schedules,
    http: snapshot.http.map(({ host, requests, inFlight }) => ({ host, requests, inFlight })),
    triggers: snapshot.triggers.map(({ processingTime: _, ...t }) => t),
    services: snapshot.services,
  };
}

function reloadSummary(r: ReloadResult): NonNullable<Status['lastReload']> {
  return { outcome: r.outcome, at: r.at, reason: r.reason, ms: r.ms, changes: r.changes, problems: r.problems.map(formatProblem) };
}

/** A trigger holding messages that has finished none for this long is stuck (--stuck-after). */
export const DEFAULT_STUCK_AFTER_MS = 60_000;

/**
 * Readiness (docs/architecture.md, invariant 31): every enabled connection connected, none
 * disabled through the admin API; every running trigger subscribed or suspended by the operator,
 * none suspended by onError and none stuck.
 */
export function readiness(s: Status, stuckAfterMs: number = DEFAULT_STUCK_AFTER_MS): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  for (const c of s.connections) {
    if (c.disabledBy === 'operator') reasons.push(`connection ${c.name} is disabled through the admin API`);
    else if (c.enabled && c.state !== 'connected') reasons.push(`connection ${c.name} is ${c.state}${c.reason === undefined ? '' : `: ${c.reason}`}`);
  }
  for (const t of s.triggers) {
    if (!t.running) continue;
    if (t.suspended) {
      if (t.suspendedBy !== 'operator') reasons.push(`trigger ${t.name} is suspended (${t.suspendedBy ?? 'unknown'})${t.lastError === undefined ? '' : `: ${t.lastError}`}`);
    } else if (t.state !== 'subscribed') {
      reasons.push(`trigger ${t.name} is ${t.state}${t.reason === undefined ? '' : `: ${t.reason}`}`);
    }
    if (t.stalledMs >= stuckAfterMs) {
      const held = t.inFlight + t.queueDepth;
      reasons.push(`trigger ${t.name} is stuck: it holds ${held} message${held === 1 ? '' : 's'} and has finished none for ${Math.round(t.stalledMs / 1000)} s`);
    }
  }
  return { ready: reasons.length === 0, reasons };
}
