/** Gathers the named definitions of every file of a folder; a name defined twice is reported at both places. */
import { report, type CompileContext, type Located } from './compile-context.js';
import type { ServiceValue } from './compile-service.js';
import type { LoadedFile } from './load.js';
import type { ValuePath } from '../util/path.js';

export const DEFINITION_KINDS = ['connections', 'stores', 'windows', 'listeners', 'triggers', 'endpoints', 'schedules', 'services'] as const;
export type DefinitionKind = (typeof DEFINITION_KINDS)[number];

export interface Definitions {
  readonly connections: readonly Located<Record<string, unknown>>[];
  readonly stores: readonly Located<Record<string, unknown>>[];
  readonly windows: readonly Located<Record<string, unknown>>[];
  readonly listeners: readonly Located<Record<string, unknown>>[];
  readonly triggers: readonly Located<Record<string, unknown>>[];
  readonly endpoints: readonly Located<Record<string, unknown>>[];
  readonly schedules: readonly Located<Record<string, unknown>>[];
  readonly services: readonly Located<ServiceValue>[];
  /** Every name defined per kind, also those of definitions with problems of their own. */
  readonly names: Readonly<Record<DefinitionKind, ReadonlySet<string>>>;
  /**
   * False when some definitions may be missing from `names`: a file did not parse, or its top level
   * broke the schema (e.g. `service:` for `services:`). References are then not checked, since
   * "no service named …" would only mislead.
   */
  readonly complete: boolean;
}

/** A file after the schema check, with the paths of the values that broke the schema. */
export interface CheckedFile {
  readonly file: LoadedFile;
  readonly data: unknown;
  readonly invalidPaths: readonly ValuePath[];
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/;
const SINGULAR: Record<DefinitionKind, string> = { connections: 'connection', stores: 'store', windows: 'window', listeners: 'listener', triggers: 'trigger', endpoints: 'endpoint', schedules: 'schedule', services: 'service' };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function startsWith(path: ValuePath, prefix: ValuePath): boolean {
  return path.length >= prefix.length && prefix.every((s, i) => path[i] === s);
}

export function collectDefinitions(context: CompileContext, files: readonly CheckedFile[], parsedAll: boolean): Definitions {
  const byKind = { connections: [] as Located<unknown>[], stores: [] as Located<unknown>[], windows: [] as Located<unknown>[], listeners: [] as Located<unknown>[], triggers: [] as Located<unknown>[], endpoints: [] as Located<unknown>[], schedules: [] as Located<unknown>[], services: [] as Located<unknown>[] };
  const names = { connections: new Set<string>(), stores: new Set<string>(), windows: new Set<string>(), listeners: new Set<string>(), triggers: new Set<string>(), endpoints: new Set<string>(), schedules: new Set<string>(), services: new Set<string>() };
  const complete = parsedAll && !files.some((f) => f.invalidPaths.some((p) => p.length <= 1));
  for (const kind of DEFINITION_KINDS) {
    const seen = new Map<string, Located<unknown>>();
    for (const checked of files) {
      const data = checked.data;
      const map = isPlainObject(data) ? data[kind] : undefined;
      if (!isPlainObject(map)) continue;
      for (const [name, value] of Object.entries(map)) {
        const def: Located<unknown> = {
          name,
          value,
          file: checked.file,
          path: [kind, name],
          broken: (path) => checked.invalidPaths.some((p) => startsWith(p, path)),
          brokenAt: (path) => checked.invalidPaths.some((p) => p.length === path.length && startsWith(p, path)),
        };
        names[kind].add(name);
        if (!NAME.test(name)) {
          report(
            context,
            checked.file,
            def.path,
            'MQFLOW_NAME',
            `${SINGULAR[kind]} name "${name}" must start with a letter, digit or "_" and hold only letters, digits, "_" and "-" (at most 128 characters)`,
            'names appear in client ids, logs and metrics',
          );
          continue;
        }
        const first = seen.get(name);
        if (first !== undefined) {
          reportDuplicate(context, SINGULAR[kind], first, def);
          continue;
        }
        seen.set(name, def);
        // Compile checks what it can of a definition with schema problems inside; one that is not even a map is skipped.
        if (isPlainObject(value)) byKind[kind].push(def);
      }
    }
  }
  return { ...(byKind as unknown as Omit<Definitions, 'names' | 'complete'>), names, complete };
}

function reportDuplicate(context: CompileContext, kind: string, first: Located<unknown>, second: Located<unknown>): void {
  const at = (d: Located<unknown>): string => {
    const p = d.file.source.locate(d.path);
    return `${p.file}:${p.line}:${p.column}`;
  };
  const hint = 'names are unique per kind across the flow folder; rename one';
  report(context, first.file, first.path, 'MQFLOW_DUPLICATE_NAME', `${kind} "${first.name}" is defined twice: here and at ${at(second)}`, hint);
  report(context, second.file, second.path, 'MQFLOW_DUPLICATE_NAME', `${kind} "${first.name}" is defined twice: here and at ${at(first)}`, hint);
}
