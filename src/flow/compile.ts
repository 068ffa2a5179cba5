/**
 * compile: turns the schema-checked files of a folder into the immutable FlowModel, checking what
 * the schema cannot: names, URLs, topic filters, expressions, references and invoke cycles.
 * Pure apart from reading TLS files through the injected reader.
 */
import type { ExpressionEngine } from '../expr/expression.js';
import { compileConnection } from './compile-connection.js';
import { report, type CompileContext, type Located } from './compile-context.js';
import { compileService } from './compile-service.js';
import { compileTrigger } from './compile-trigger.js';
import { collectDefinitions, type CheckedFile } from './definitions.js';
import type { Connection, FlowModel, Service, Trigger } from './model.js';
import type { ProblemList } from './problem.js';
import { checkReferences } from './references.js';

export interface CompileOptions {
  readonly engine: ExpressionEngine;
  readonly readFile: (absolutePath: string) => string;
  /** False when some file of the folder could not be parsed (its definitions are unknown). */
  readonly parsedAll: boolean;
}

/** Returns the model, or undefined when any error was reported. */
export function compileFlow(files: readonly CheckedFile[], options: CompileOptions, problems: ProblemList): FlowModel | undefined {
  const context: CompileContext = { engine: options.engine, problems, readFile: options.readFile, references: [] };
  const errorsBefore = problems.errorCount;
  const definitions = collectDefinitions(context, files, options.parsedAll);

  const connections = compileAll(definitions.connections, (d) => compileConnection(context, d));
  const triggers = compileAll(definitions.triggers, (d) => compileTrigger(context, d));
  const services = compileAll(definitions.services, (d) => compileService(context, d));
  checkReferences(context, { connections: definitions.names.connections, services: definitions.names.services }, definitions.complete);
  warnAboutDisabledConnections(context, definitions.triggers, triggers, connections);

  if (problems.errorCount > errorsBefore) return undefined;
  const secrets = [...new Set(files.flatMap((f) => f.file.secrets))];
  return deepFreeze({
    connections,
    triggers,
    services,
    files: files.map((f) => f.file.source.displayPath),
    secrets,
  });
}

function compileAll<V, T extends Connection | Trigger | Service>(defs: readonly Located<V>[], compile: (def: Located<V>) => T | undefined): Map<string, T> {
  const out = new Map<string, T>();
  for (const def of defs) {
    const compiled = compile(def);
    if (compiled !== undefined) out.set(def.name, compiled);
  }
  return out;
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
