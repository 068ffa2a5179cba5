/**
 * Loads a flow folder for a command that uses part of it (publish: one connection; invoke: a
 * service and what it references). Errors in definitions the command does not use do not stop it:
 * those definitions are left out, and the rest is built again, with every check, until it is
 * valid. Leaving one out makes whatever references it "no … named", so what depends on a broken
 * definition is left out in turn. Errors that belong to no definition (a file that does not parse,
 * an unknown top-level key) still stop the command: the definitions of that file are unknown.
 */
import { baseClientId, clientOptions } from '../connections/client-options.js';
import type { ExpressionEngine } from '../expr/expression.js';
import { Publisher } from '../mqtt/publisher.js';
import type { Log } from '../util/log.js';
import { formatPath } from '../util/path.js';
import { buildFromFiles, loadFlowFolder } from '../flow/build.js';
import { DEFINITION_KINDS, type DefinitionKind } from '../flow/definitions.js';
import { processEnvironment, withPlaceholders } from '../flow/interpolate.js';
import type { LoadedFile } from '../flow/load.js';
import type { Connection, FlowModel } from '../flow/model.js';
import { formatProblem, ProblemList, type FlowProblem } from '../flow/problem.js';
import type { CommandIO } from './io.js';

/** The names defined in the folder per kind, those with errors included. */
export type DefinedNames = Readonly<Record<DefinitionKind, ReadonlySet<string>>>;

/** A definition, as kind and name: `['connections', 'plant']`. */
export type DefinitionName = readonly [DefinitionKind, string];

export interface ModelNeeds {
  /** The command, for what it prints: `mqflow publish`. */
  readonly command: string;
  /**
   * The definitions the command uses, from the names the folder defines (it may throw a
   * UsageError: "no connection named …"). Without it, the whole folder must be valid.
   */
  readonly uses?: (defined: DefinedNames) => readonly DefinitionName[];
  readonly engine?: ExpressionEngine;
  /** A `${env:…}` that is not set becomes a placeholder, with a warning: for commands that connect to nothing. */
  readonly placeholders?: boolean;
}

export interface LoadedModel {
  readonly model: FlowModel;
  readonly defined: DefinedNames;
  /** Definitions left out for their errors (or for using one that has), as `connections.backup`. */
  readonly leftOut: ReadonlySet<string>;
}

/** Loads the model of `dir`, or prints why it cannot (file:line:col) and returns undefined. */
export function loadModel(dir: string, io: CommandIO, needs: ModelNeeds): LoadedModel | undefined {
  const placeheld = new Set<string>();
  const environment = needs.placeholders === true ? withPlaceholders(processEnvironment, (name) => placeheld.add(name)) : processEnvironment;
  const folder = loadFlowFolder(dir, { cwd: io.cwd, environment, ...(needs.engine === undefined ? {} : { engine: needs.engine }) });
  const first = buildFromFiles(folder.loaded, folder.problems, folder.compile);
  const defined = definedNames(folder.loaded);
  for (const name of [...placeheld].sort()) io.stderr(`${needs.command}: warning: environment variable ${name} is not set; a placeholder stands in for it (mqflow run and --live need it)\n`);
  const errors = first.problems.filter((p) => p.severity === 'error');
  const refuse = (shown: readonly FlowProblem[], why = ''): undefined => {
    io.stderr(`${shown.map(formatProblem).join('\n')}\n${why}${dir}: ${shown.length} error${shown.length === 1 ? '' : 's'}\n`);
    return undefined;
  };
  if (errors.length === 0) {
    needs.uses?.(defined);
    return { model: first.model!, defined, leftOut: new Set() };
  }
  if (needs.uses === undefined || errors.some((p) => ownerOf(p, folder.loaded) === undefined)) return refuse(errors);
  const used = needs.uses(defined).map(([kind, name]) => formatPath([kind, name]));

  // Leave out what has errors, build again, and again while what is left has errors of its own.
  const leftOut = new Set(errors.map((p) => ownerOf(p, folder.loaded)!));
  let model: FlowModel | undefined;
  while (model === undefined) {
    const kept = folder.loaded.map((file) => without(file, leftOut));
    const again = buildFromFiles(kept, new ProblemList(), folder.compile);
    const more = again.problems.filter((p) => p.severity === 'error');
    const owners = more.map((p) => ownerOf(p, kept));
    if (owners.some((o) => o === undefined || leftOut.has(o))) return refuse(errors);
    for (const owner of owners) leftOut.add(owner!);
    model = again.model;
  }
  const unusable = used.filter((name) => leftOut.has(name));
  if (unusable.length > 0) {
    const own = errors.filter((p) => unusable.includes(ownerOf(p, folder.loaded)!));
    // A definition left out only for using one with errors: every error may be the cause.
    return own.length > 0 ? refuse(own) : refuse(errors, `${unusable.join(', ')} ${unusable.length === 1 ? 'uses a definition' : 'use definitions'} with errors\n`);
  }
  io.stderr(`${needs.command}: note: left out ${[...leftOut].sort().join(', ')}, which ${leftOut.size === 1 ? 'has' : 'have'} errors and ${leftOut.size === 1 ? 'is' : 'are'} not used here (${errors.length} error${errors.length === 1 ? '' : 's'}: mqflow validate ${dir} lists them)\n`);
  return { model, defined, leftOut };
}

/** The definition a problem is about (`services.normalize`), or undefined for one about a file or its top level. */
function ownerOf(problem: FlowProblem, loaded: readonly LoadedFile[]): string | undefined {
  for (const file of loaded) {
    if (file.source.displayPath !== problem.file || !isMap(file.data)) continue;
    for (const kind of DEFINITION_KINDS) {
      const map = file.data[kind];
      if (!isMap(map)) continue;
      for (const name of Object.keys(map)) {
        const at = formatPath([kind, name]);
        if (problem.path === at || problem.path.startsWith(`${at}.`) || problem.path.startsWith(`${at}[`)) return at;
      }
    }
  }
  return undefined;
}

/** `file` without the definitions named in `leftOut`; a kind left empty is removed with them. */
function without(file: LoadedFile, leftOut: ReadonlySet<string>): LoadedFile {
  if (!isMap(file.data)) return file;
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(file.data)) {
    if (!(DEFINITION_KINDS as readonly string[]).includes(key) || !isMap(value)) {
      Object.defineProperty(data, key, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const kept = Object.entries(value).filter(([name]) => !leftOut.has(formatPath([key, name])));
    if (kept.length === 0 && Object.keys(value).length > 0) continue;
    const map: Record<string, unknown> = {};
    for (const [name, definition] of kept) Object.defineProperty(map, name, { value: definition, enumerable: true, writable: true, configurable: true });
    data[key] = map;
  }
  return { ...file, data };
}

function definedNames(loaded: readonly LoadedFile[]): DefinedNames {
  const names = Object.fromEntries(DEFINITION_KINDS.map((kind) => [kind, new Set<string>()])) as Record<DefinitionKind, Set<string>>;
  for (const file of loaded) {
    if (!isMap(file.data)) continue;
    for (const kind of DEFINITION_KINDS) {
      const map = file.data[kind];
      if (isMap(map)) for (const name of Object.keys(map)) names[kind].add(name);
    }
  }
  return names;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The only connection of the folder, when it has exactly one. */
export function onlyConnection(defined: DefinedNames): string | undefined {
  return defined.connections.size === 1 ? [...defined.connections][0] : undefined;
}

/**
 * A publishing client for a one-off command: its own client id (taking the running mqflow's would
 * disconnect it), and without the will and birth messages, which announce the running mqflow (a
 * CLI publish must not say "online", nor leave "offline" behind).
 */
export function commandPublisher(connection: Connection, log: Log): Publisher {
  return new Publisher({
    name: connection.name,
    clientOptions: clientOptions(connection, { clientId: commandClientId(connection) }),
    reconnectPeriodMs: connection.reconnectPeriodMs,
    offlineQueueSize: connection.offlineQueueSize,
    publishTimeoutMs: connection.publishTimeoutMs,
    ...(connection.maxPacketSize === undefined ? {} : { maxPacketSize: connection.maxPacketSize }),
    log,
  });
}

/** `<clientId>-cli-<pid>`: a one-off command's client id, distinct from the running mqflow's. */
export function commandClientId(connection: Connection): string {
  return `${baseClientId(connection, undefined)}-cli-${process.pid}`;
}
