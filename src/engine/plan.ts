/**
 * plan: the pure difference between the running flow model and a new one, as data. The engine
 * applies it (see docs/architecture.md, "Hot reload"); `mqflow plan` prints it. Only running
 * pieces count: a disabled connection, or a trigger that is disabled or whose connection is
 * missing or disabled, is not running, so disabling one plans its removal.
 */
import { fingerprint } from '../flow/fingerprint.js';
import type { Connection, FlowModel, Store, Trigger } from '../flow/model.js';
import { stateUses } from '../steps/kinds.js';
import { revealSecrets } from '../util/secret.js';

/** What a changed trigger needs, from the least to the most disruptive. */
export type TriggerAction = 'update' | 'resubscribe' | 'restart';

export interface Added {
  readonly name: string;
  /** Why, when it is not simply new: "enabled", "connection plant enabled". */
  readonly reason?: string;
}

export type Removed = Added;

export interface ChangedConnection {
  readonly name: string;
  /** The fields that differ, as written in flow files. */
  readonly fields: readonly string[];
  /** False when only the description changed: nothing running is touched. */
  readonly reconnect: boolean;
}

export interface ChangedTrigger {
  readonly name: string;
  readonly fields: readonly string[];
  readonly action: TriggerAction;
  /** For resubscribe: the subscriptions to send in SUBSCRIBE (all of them when qos changed). */
  readonly subscribe: readonly string[];
  /** For resubscribe: the subscriptions to remove. */
  readonly unsubscribe: readonly string[];
  /** For restart: why (a changed field, or the connection's definition). */
  readonly reason?: string;
}

export interface ReloadPlan {
  readonly connections: { readonly added: readonly Added[]; readonly removed: readonly Removed[]; readonly changed: readonly ChangedConnection[] };
  readonly triggers: { readonly added: readonly Added[]; readonly removed: readonly Removed[]; readonly changed: readonly ChangedTrigger[] };
  readonly services: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  /** Windows added, removed or changed; the open windows of a removed or changed one close at once, unless kept in a store. */
  readonly windows: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[]; readonly stored?: readonly string[] };
  /** HTTP listeners opened, closed, or closed and opened again (a changed definition). */
  readonly listeners: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  /** Endpoints (HTTP triggers) added, removed, or changed in place (their listener keeps its port). */
  readonly endpoints: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  /** Schedules added, removed, or changed (a changed one starts again from its next tick). */
  readonly schedules: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  /** Stores opened, closed, or closed and opened again (a changed definition). */
  readonly stores: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  /** State the new version starts without (docs/architecture.md, invariant 40). */
  readonly stateResets: readonly StateReset[];
}

export interface StateReset {
  /** The step of the running version whose state is not carried over. */
  readonly step: string;
  readonly kind: string;
  readonly reason: string;
}

/** Trigger fields by what a change to them needs; the rest (service, processing, …) is an update. */
const TRIGGER_SUBSCRIPTION_FIELDS = new Set(['topics', 'subscriptions', 'share', 'qos']);
const TRIGGER_CLIENT_FIELDS = new Set(['connection', 'queueSize', 'ack']);
/** Compiled field names → the names written in flow files. */
const FIELD_NAMES: Readonly<Record<string, string>> = { topics: 'topic', urls: 'url', keepaliveSeconds: 'keepalive', connectTimeoutMs: 'connectTimeout', reconnectPeriodMs: 'reconnectPeriod', cleanSession: 'cleanSession' };
/** Fields that are only words: changing them touches nothing that runs. */
const INERT_FIELDS = new Set(['description', 'at', 'fingerprint']);

export function planReload(running: FlowModel, next: FlowModel): ReloadPlan {
  const connections = planConnections(running, next);
  const reconnecting = new Set(connections.changed.filter((c) => c.reconnect).map((c) => c.name));
  const stores = planStores(running, next);
  return {
    connections,
    triggers: planTriggers(running, next, reconnecting),
    services: planServices(running, next),
    windows: { ...planByFingerprint(running.windows, next.windows), stored: [...running.windows.values()].filter((w) => w.store !== undefined).map((w) => w.name) },
    listeners: planByFingerprint(enabled(running.listeners), enabled(next.listeners)),
    endpoints: planByFingerprint(enabled(running.endpoints), enabled(next.endpoints)),
    schedules: planByFingerprint(enabled(running.schedules), enabled(next.schedules)),
    stores,
    stateResets: planStateResets(running, next, stores),
  };
}

export function isEmptyPlan(plan: ReloadPlan): boolean {
  return [plan.connections, plan.triggers, plan.services, plan.windows, plan.stores, plan.listeners, plan.endpoints, plan.schedules].every((k) => k.added.length === 0 && k.removed.length === 0 && k.changed.length === 0);
}

/** One line per change: `+ trigger alerts`, `~ service normalize`, `- connection legacy`. */
export function describePlan(plan: ReloadPlan): string[] {
  const lines: string[] = [];
  const reason = (r: string | undefined): string => (r === undefined ? '' : ` (${r})`);
  const windowNote = (name: string): string => (plan.windows.stored?.includes(name) === true ? ' (its open windows stay in its store)' : ' (its open windows close now)');
  const note = (kind: string, name: string): string => (kind === 'store' || kind === 'listener' ? ' (opened again)' : kind === 'window' ? windowNote(name) : '');
  for (const kind of ['connection', 'store', 'window', 'listener', 'trigger', 'endpoint', 'schedule', 'service'] as const) {
    const part = plan[`${kind}s`];
    for (const a of part.added) lines.push(`+ ${kind} ${typeof a === 'string' ? a : `${a.name}${reason(a.reason)}`}`);
    for (const c of part.changed) lines.push(`~ ${kind} ${typeof c === 'string' ? `${c}${note(kind, c)}` : `${c.name} ${changeText(c)}`}`);
    for (const r of part.removed) lines.push(`- ${kind} ${typeof r === 'string' ? `${r}${kind === 'window' ? windowNote(r) : ''}` : `${r.name}${reason(r.reason)}`}`);
  }
  for (const r of plan.stateResets) lines.push(`! state of ${r.step} (${r.kind}) resets: ${r.reason}`);
  return lines;
}

/** Counts for the summary line: "2 to add, 1 to change, 0 to remove". */
export function planCounts(plan: ReloadPlan): { added: number; changed: number; removed: number } {
  const parts = [plan.connections, plan.stores, plan.windows, plan.listeners, plan.triggers, plan.endpoints, plan.schedules, plan.services];
  return {
    added: parts.reduce((n, p) => n + p.added.length, 0),
    changed: parts.reduce((n, p) => n + p.changed.length, 0),
    removed: parts.reduce((n, p) => n + p.removed.length, 0),
  };
}

function changeText(change: ChangedConnection | ChangedTrigger): string {
  const fields = change.fields.length === 0 ? '' : change.fields.join(', ');
  if ('reconnect' in change) return `(${fields}${change.reconnect ? ': reconnects' : ': nothing running changes'})`;
  const what =
    change.action === 'restart'
      ? `restarts${change.reason === undefined ? '' : `, ${change.reason}`}`
      : change.action === 'resubscribe'
        ? `${[...change.subscribe.map((s) => `+${s}`), ...change.unsubscribe.map((s) => `-${s}`)].join(' ')}`
        : 'in place';
  return `(${fields}${fields === '' ? '' : ': '}${what})`;
}

function planConnections(running: FlowModel, next: FlowModel): ReloadPlan['connections'] {
  const before = runningConnections(running);
  const after = runningConnections(next);
  const added: Added[] = [];
  const removed: Removed[] = [];
  const changed: ChangedConnection[] = [];
  for (const [name, connection] of after) {
    const old = before.get(name);
    if (old === undefined) {
      added.push(running.connections.has(name) ? { name, reason: 'enabled' } : { name });
      continue;
    }
    if (old.fingerprint === connection.fingerprint) continue;
    const fields = differingFields(old, connection);
    if (fields.length === 0) continue;
    changed.push({ name, fields: fields.map(fieldName), reconnect: fields.some((f) => !INERT_FIELDS.has(f)) });
  }
  for (const name of before.keys()) {
    if (!after.has(name)) removed.push(next.connections.has(name) ? { name, reason: 'disabled' } : { name });
  }
  return sortedByName({ added, removed, changed });
}

function planTriggers(running: FlowModel, next: FlowModel, reconnecting: ReadonlySet<string>): ReloadPlan['triggers'] {
  const before = runningTriggers(running);
  const after = runningTriggers(next);
  const added: Added[] = [];
  const removed: Removed[] = [];
  const changed: ChangedTrigger[] = [];
  for (const [name, trigger] of after) {
    const old = before.get(name);
    if (old === undefined) {
      const why = notRunningReason(running, name);
      added.push(why === undefined ? { name } : { name, reason: why.replace(/disabled$/, 'enabled').replace(/is missing$/, 'added') });
      continue;
    }
    const connectionChanged = reconnecting.has(trigger.connection) && old.connection === trigger.connection;
    if (old.fingerprint === trigger.fingerprint && !connectionChanged) continue;
    const fields = differingFields(old, trigger).filter((f) => !INERT_FIELDS.has(f));
    if (fields.length === 0 && !connectionChanged) continue;
    const restartField = fields.find((f) => TRIGGER_CLIENT_FIELDS.has(f));
    const named = [...new Set(fields.filter((f) => f !== 'subscriptions' || !fields.includes('topics')).map(fieldName))];
    if (restartField !== undefined || connectionChanged) {
      const reason = restartField !== undefined ? `${fieldName(restartField)} changed` : `connection ${trigger.connection} changed`;
      changed.push({ name, fields: named, action: 'restart', subscribe: [], unsubscribe: [], reason });
    } else if (fields.some((f) => TRIGGER_SUBSCRIPTION_FIELDS.has(f))) {
      const qosChanged = old.qos !== trigger.qos;
      const subscribe = qosChanged ? [...trigger.subscriptions] : trigger.subscriptions.filter((s) => !old.subscriptions.includes(s));
      const unsubscribe = old.subscriptions.filter((s) => !trigger.subscriptions.includes(s));
      changed.push({ name, fields: named, action: 'resubscribe', subscribe, unsubscribe });
    } else {
      changed.push({ name, fields: named, action: 'update', subscribe: [], unsubscribe: [] });
    }
  }
  for (const name of before.keys()) {
    if (after.has(name)) continue;
    const why = notRunningReason(next, name);
    removed.push(why === undefined ? { name } : { name, reason: why });
  }
  return sortedByName({ added, removed, changed });
}

function planServices(running: FlowModel, next: FlowModel): ReloadPlan['services'] {
  const added = [...next.services.keys()].filter((n) => !running.services.has(n));
  const removed = [...running.services.keys()].filter((n) => !next.services.has(n));
  const changed = [...next.services.values()].filter((s) => {
    const old = running.services.get(s.name);
    return old !== undefined && old.fingerprint !== s.fingerprint;
  });
  return { added: added.sort(), removed: removed.sort(), changed: changed.map((s) => s.name).sort() };
}

/** Added, removed and changed (by fingerprint) definitions, by name. */
/** The enabled definitions of a map: a disabled one is not running. */
function enabled<T extends { readonly enabled: boolean }>(map: ReadonlyMap<string, T>): Map<string, T> {
  return new Map([...map].filter(([, d]) => d.enabled));
}

function planByFingerprint(before: ReadonlyMap<string, { fingerprint: string }>, after: ReadonlyMap<string, { fingerprint: string }>): ReloadPlan['windows'] {
  const added = [...after.keys()].filter((n) => !before.has(n));
  const removed = [...before.keys()].filter((n) => !after.has(n));
  const changed = [...after].filter(([n, d]) => before.has(n) && before.get(n)!.fingerprint !== d.fingerprint).map(([n]) => n);
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

function planStores(running: FlowModel, next: FlowModel): ReloadPlan['stores'] {
  const added = [...next.stores.keys()].filter((n) => !running.stores.has(n));
  const removed = [...running.stores.keys()].filter((n) => !next.stores.has(n));
  const changed = [...next.stores.values()].filter((s) => {
    const old = running.stores.get(s.name);
    return old !== undefined && old.fingerprint !== s.fingerprint && !onlyWordsDiffer(old, s);
  });
  return { added: added.sort(), removed: removed.sort(), changed: changed.map((s) => s.name).sort() };
}

function onlyWordsDiffer(old: Store, next: Store): boolean {
  return differingFields(old, next).every((f) => INERT_FIELDS.has(f));
}

/** Where the data of a store lives: the same place means the same data, even when other settings changed. */
function storePlace(store: Store): string {
  if (store.type === 'disk') return `disk ${store.disk!.path}`;
  if (store.type === 'redis') return `redis ${store.redis!.url} ${store.redis!.keyPrefix}`;
  return 'memory';
}

/**
 * Steps of the running version whose state the next one does not carry over: their store is
 * removed or (a memory store, or another place) opened again, or no step of the same kind uses
 * their store and namespace any more (a step that moved, with its default namespace).
 */
function planStateResets(running: FlowModel, next: FlowModel, stores: ReloadPlan['stores']): StateReset[] {
  const nextUses = new Set([...next.services.values()].flatMap((s) => stateUses(s.steps)).map((u) => `${u.kind}\0${u.store}\0${u.namespace}`));
  const resets: StateReset[] = [];
  for (const service of running.services.values()) {
    for (const use of stateUses(service.steps)) {
      if (use.kind === 'lookup') continue;
      const oldStore = running.stores.get(use.store);
      const newStore = next.stores.get(use.store);
      let reason: string | undefined;
      if (newStore === undefined) reason = `store ${use.store} is removed`;
      else if (stores.changed.includes(use.store) && oldStore !== undefined && (oldStore.type === 'memory' || storePlace(oldStore) !== storePlace(newStore))) {
        reason = `store ${use.store} is opened again${oldStore.type === 'memory' ? ' (a memory store starts empty)' : ' elsewhere'}`;
      } else if (!nextUses.has(`${use.kind}\0${use.store}\0${use.namespace}`)) reason = `no ${use.kind} step uses namespace ${use.namespace} of store ${use.store} any more (name the namespace to keep state when a step moves)`;
      if (reason !== undefined) resets.push({ step: use.path, kind: use.kind, reason });
    }
  }
  return resets.sort((a, b) => (a.step < b.step ? -1 : a.step > b.step ? 1 : 0));
}

/** Each list in name order, so a plan reads the same whatever order the files define things in. */
function sortedByName<A extends { name: string }, R extends { name: string }, C extends { name: string }>(part: { added: A[]; removed: R[]; changed: C[] }): typeof part {
  const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { added: part.added.sort(byName), removed: part.removed.sort(byName), changed: part.changed.sort(byName) };
}

function runningConnections(model: FlowModel): Map<string, Connection> {
  return new Map([...model.connections].filter(([, c]) => c.enabled));
}

function runningTriggers(model: FlowModel): Map<string, Trigger> {
  return new Map([...model.triggers].filter(([name]) => notRunningReason(model, name) === undefined));
}

/** Why a trigger of `model` does not run, or undefined when it does (or is not defined at all). */
function notRunningReason(model: FlowModel, name: string): string | undefined {
  const trigger = model.triggers.get(name);
  if (trigger === undefined) return undefined;
  if (!trigger.enabled) return 'disabled';
  const connection = model.connections.get(trigger.connection);
  if (connection === undefined) return `connection ${trigger.connection} is missing`;
  if (!connection.enabled) return `connection ${trigger.connection} disabled`;
  return undefined;
}

/** The top-level fields whose values differ; secrets compare by their values, never shown. */
function differingFields(old: object, next: object): string[] {
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  const differs = (k: string): boolean => comparable((old as Record<string, unknown>)[k]) !== comparable((next as Record<string, unknown>)[k]);
  return [...keys].filter((k) => k !== 'fingerprint' && k !== 'at' && differs(k));
}

function comparable(value: unknown): string {
  return fingerprint(revealSecrets(value));
}


function fieldName(field: string): string {
  return FIELD_NAMES[field] ?? field;
}
