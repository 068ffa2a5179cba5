/**
 * compile: turns the schema-checked files of a folder into the immutable FlowModel, checking what
 * the schema cannot: names, URLs, topic filters, expressions, references and invoke cycles.
 * Pure apart from reading TLS files through the injected reader.
 */
import type { ExpressionEngine } from '../expr/expression.js';
import { compileConnection } from './compile-connection.js';
import { contentDigest, recordingReads, report, type CompileContext, type ExpressionSite, type Located, type Reference } from './compile-context.js';
import { compileService } from './compile-service.js';
import { compileStoreDefinition, withDefaultStore } from './compile-store.js';
import { compileWindowDefinition } from './compile-window.js';
import { compileTrigger } from './compile-trigger.js';
import { compileEndpoint, compileListenerDefinition, compileSchedule } from './compile-listener.js';
import { collectDefinitions, type CheckedFile } from './definitions.js';
import type { Connection, Endpoint, FlowModel, Listener, Schedule, Service, Store, Trigger, Window } from './model.js';
import { formatPath } from '../util/path.js';
import { ProblemList, type FlowProblem } from './problem.js';
import type { LoadedFile } from './load.js';
import { checkReferences } from './references.js';
import type { Step } from '../pipeline/step.js';
import { stepKind } from '../steps/kinds.js';

export interface CompileOptions {
  readonly engine: ExpressionEngine;
  readonly readFile: (absolutePath: string) => string;
  /** False when some file of the folder could not be parsed (its definitions are unknown). */
  readonly parsedAll: boolean;
  /** Compiled triggers and services of files unchanged since the last build (hot reload). */
  readonly definitions?: DefinitionCache;
  /** When given, every compiled expression is added with where it is and how it runs. */
  readonly expressions?: ExpressionSite[];
}

/**
 * Compiled definitions by the loaded file they came from. A file the file cache reused is the
 * same LoadedFile object, so its triggers and services (which depend on nothing but their own
 * text) are reused with the problems and references they reported. Connections are always
 * compiled again: they read TLS files, which may have changed.
 */
export type DefinitionCache = WeakMap<LoadedFile, Map<string, CompiledDefinition>>;

interface CompiledDefinition {
  readonly compiled: Trigger | Service | undefined;
  readonly problems: readonly FlowProblem[];
  readonly references: readonly Reference[];
  /** The files its compile read (a .proto), by digest: one that changed compiles it again. */
  readonly files: ReadonlyMap<string, string>;
}

/** Returns the model, or undefined when any error was reported. */
export function compileFlow(files: readonly CheckedFile[], options: CompileOptions, problems: ProblemList): FlowModel | undefined {
  const context: CompileContext = { engine: options.engine, problems, readFile: options.readFile, references: [], ...(options.expressions === undefined ? {} : { expressions: options.expressions }) };
  const errorsBefore = problems.errorCount;
  const definitions = collectDefinitions(context, files, options.parsedAll);

  const connections = compileAll(context, definitions.connections, (d) => compileConnection(context, d));
  const stores = withDefaultStore(compileAll(context, definitions.stores, (d) => compileStoreDefinition(context, d)));
  const windows = compileAll(context, definitions.windows, (d) => compileWindowDefinition(context, d));
  const listeners = compileAll(context, definitions.listeners, (d) => compileListenerDefinition(context, d));
  const onlyConnection = definitions.names.connections.size === 1 ? [...definitions.names.connections][0] : undefined;
  const endpoints = compileAll(context, definitions.endpoints, (d) => compileEndpoint(context, d, onlyConnection));
  const schedules = compileAll(context, definitions.schedules, (d) => compileSchedule(context, d, onlyConnection));
  const triggers = compileAll(context, definitions.triggers, (d) => reuse(context, options.definitions, 'trigger', d, (c) => compileTrigger(c, d)));
  const services = compileAll(context, definitions.services, (d) => reuse(context, options.definitions, 'service', d, (c) => compileService(c, d)));
  checkReferences(context, { connections: definitions.names.connections, services: definitions.names.services, stores: new Set([...definitions.names.stores, ...stores.keys()]), windows: definitions.names.windows, listeners: definitions.names.listeners }, definitions.complete);
  warnAboutDisabledConnections(context, definitions.triggers, triggers, connections);
  checkWindowConnections(context, definitions.windows, windows, definitions.names.connections);
  warnAboutHeldWindows(context, definitions.windows, windows, triggers, services);
  checkWindowStores(context, definitions.windows, windows, stores);
  checkScheduleStores(context, definitions.schedules, schedules, stores);

  if (problems.errorCount > errorsBefore) return undefined;
  const secrets = [...new Set(files.flatMap((f) => f.file.secrets))];
  return deepFreeze({
    connections,
    stores,
    windows,
    listeners,
    triggers,
    endpoints,
    schedules,
    services,
    files: files.map((f) => f.file.source.displayPath),
    secrets,
  });
}

/** Compiles `def`, or replays what compiling it gave when its file is unchanged. */
function reuse<T extends Trigger | Service>(context: CompileContext, cache: DefinitionCache | undefined, kind: string, def: Located<unknown>, compile: (context: CompileContext) => T | undefined): T | undefined {
  if (cache === undefined) return compile(context);
  let byName = cache.get(def.file);
  if (byName === undefined) cache.set(def.file, (byName = new Map<string, CompiledDefinition>()));
  const key = `${kind}\0${def.name}`;
  let entry = byName.get(key);
  if (entry === undefined || filesChanged(context, entry.files)) {
    const own = recordingReads({ ...context, problems: new ProblemList(), references: [] });
    const compiled = compile(own.context);
    entry = { compiled, problems: own.context.problems.all(), references: own.context.references, files: own.files };
    byName.set(key, entry);
  }
  for (const problem of entry.problems) context.problems.add(problem);
  context.references.push(...entry.references);
  return entry.compiled as T | undefined;
}

function filesChanged(context: CompileContext, files: ReadonlyMap<string, string>): boolean {
  for (const [path, digest] of files) {
    try {
      if (contentDigest(context.readFile(path)) !== digest) return true;
    } catch {
      return true;
    }
  }
  return false;
}

function compileAll<V, T extends Connection | Store | Window | Listener | Trigger | Endpoint | Schedule | Service>(context: CompileContext, defs: readonly Located<V>[], compile: (def: Located<V>) => T | undefined): Map<string, T> {
  const out = new Map<string, T>();
  for (const def of defs) {
    let compiled: T | undefined;
    try {
      compiled = compile(def);
    } catch (error) {
      // A bug in mqflow must not crash a load (or a hot reload): say where, and move on.
      if (!def.broken(def.path)) {
        report(context, def.file, def.path, 'MQFLOW_INTERNAL', `${formatPath(def.path)}: mqflow could not compile this definition (${(error as Error).message})`, 'this is a bug in mqflow: please report it with this definition');
      }
      continue;
    }
    if (compiled !== undefined) out.set(def.name, compiled);
  }
  return out;
}

/** A window's publishes that name no connection go through its `connection`, or the folder's only one. */
function checkWindowConnections(context: CompileContext, defs: readonly Located<unknown>[], windows: ReadonlyMap<string, Window>, connections: ReadonlySet<string>): void {
  if (connections.size === 1) return;
  for (const def of defs) {
    const window = windows.get(def.name);
    if (window === undefined || window.connection !== undefined) continue;
    if (!publishesWithoutConnection(window.steps)) continue;
    report(
      context,
      def.file,
      def.path,
      'MQFLOW_WINDOW_CONNECTION',
      `window "${def.name}" publishes without naming a connection, and the folder has ${connections.size === 0 ? 'none' : `${connections.size} connections`}`,
      'set connection: on the window (or on each of its publish steps)',
    );
  }
}

/** Missed fires are known only from a last fire kept across restarts: in a disk or Redis store. */
function checkScheduleStores(context: CompileContext, defs: readonly Located<unknown>[], schedules: ReadonlyMap<string, Schedule>, stores: ReadonlyMap<string, Store>): void {
  for (const def of defs) {
    const schedule = schedules.get(def.name);
    if (schedule === undefined || schedule.missed === 'skip' || stores.get(schedule.store)?.type !== 'memory') continue;
    report(
      context,
      def.file,
      [...def.path, 'missed'],
      'MQFLOW_SCHEDULE_MISSED',
      `schedule "${def.name}": missed: ${schedule.missed} needs its last fire kept across restarts, and store "${schedule.store}" is a memory store`,
      'set store: to a disk or redis store',
      'warning',
    );
  }
}

/** Open windows can be kept in a disk store; memory and Redis stores cannot keep them (yet). */
function checkWindowStores(context: CompileContext, defs: readonly Located<unknown>[], windows: ReadonlyMap<string, Window>, stores: ReadonlyMap<string, Store>): void {
  for (const def of defs) {
    const window = windows.get(def.name);
    const store = window?.store === undefined ? undefined : stores.get(window.store);
    if (store === undefined || store.type === 'disk') continue;
    report(context, def.file, [...def.path, 'store'], 'MQFLOW_WINDOW_STORE', `window "${def.name}": store "${store.name}" is a ${store.type} store; open windows can be kept in a disk store only`, 'name a disk store, or remove store (the window is then kept in the process)');
  }
}

/**
 * A count window that needs more QoS 1/2 messages than a trigger feeding it may hold never fills:
 * its messages stay unacknowledged until it closes (invariant 41), and the trigger takes no more
 * than `queueSize` of them.
 */
function warnAboutHeldWindows(
  context: CompileContext,
  defs: readonly Located<unknown>[],
  windows: ReadonlyMap<string, Window>,
  triggers: ReadonlyMap<string, Trigger>,
  services: ReadonlyMap<string, Service>,
): void {
  for (const def of defs) {
    const window = windows.get(def.name);
    if (window?.shape.kind !== 'count') continue;
    const count = window.shape.count;
    for (const trigger of triggers.values()) {
      const service = services.get(trigger.service);
      if (trigger.qos === 0 || service === undefined || !collectsInto(service.steps, def.name) || count <= trigger.queueSize) continue;
      report(
        context,
        def.file,
        [...def.path, 'count'],
        'MQFLOW_WINDOW_HELD',
        `window "${def.name}" closes after ${count} messages, but trigger "${trigger.name}" (qos ${trigger.qos}) holds at most ${trigger.queueSize} unacknowledged messages (queueSize), so the window would never fill`,
        'raise the trigger\'s queueSize above count (and the broker\'s in-flight limit: Mosquitto\'s max_inflight_messages is 20 by default), or lower count',
        'warning',
      );
    }
  }
}

function collectsInto(steps: readonly Step[], window: string): boolean {
  return steps.some((step) => (step.kind === 'collect' && (step as unknown as { window: string }).window === window) || (stepKind(step.kind)?.uses?.(step) ?? []).some((use) => use.kind === 'nested' && collectsInto(use.steps, window)));
}

function publishesWithoutConnection(steps: readonly Step[]): boolean {
  return steps.some((step) =>
    (stepKind(step.kind)?.uses?.(step) ?? []).some((use) => (use.kind === 'publish' && use.connection === undefined) || (use.kind === 'nested' && publishesWithoutConnection(use.steps))),
  );
}

function warnAboutDisabledConnections(
  context: CompileContext,
  defs: readonly Located<unknown>[],
  triggers: ReadonlyMap<string, Trigger>,
  connections: ReadonlyMap<string, Connection>,
): void {
  for (const def of defs) {
    const trigger = triggers.get(def.name);
    if (trigger === undefined || !trigger.enabled) continue;
    const connection = connections.get(trigger.connection);
    if (trigger.onError?.kind === 'suspend' && (connection?.cleanSession === true || trigger.ack === 'onReceipt')) {
      const why = trigger.ack === 'onReceipt' ? 'with ack: onReceipt the message was acknowledged already' : `connection "${trigger.connection}" has cleanSession: true, so the broker drops what was not acknowledged`;
      report(context, def.file, [...def.path, 'onError', 'suspend'], 'MQFLOW_SUSPEND_LOSES', `suspending trigger "${trigger.name}" would lose the failed message: ${why}`, 'set cleanSession: false on the connection (and keep ack: afterProcessing), or route failures with publish or service', 'warning');
    }
    if (connection?.enabled === false) {
      report(context, def.file, [...def.path, 'connection'], 'MQFLOW_DISABLED_CONNECTION', `trigger "${trigger.name}" is enabled but its connection "${trigger.connection}" is disabled, so it will not run`, 'enable the connection, or set enabled: false on the trigger', 'warning');
    }
  }
}

/** Freezes plain objects and arrays (and the contents of Maps); compiled expressions and secrets keep their own encapsulation. */
function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    for (const item of value.values()) deepFreeze(item);
    return value;
  }
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}
