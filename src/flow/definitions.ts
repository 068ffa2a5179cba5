/** Gathers the named definitions of every file of a folder; a name defined twice is reported at both places. */
import { report, type CompileContext, type Located } from './compile-context.js';
import type { ConnectionValue } from './compile-connection.js';
import type { ServiceValue } from './compile-service.js';
import type { TriggerValue } from './compile-trigger.js';
import type { LoadedFile } from './load.js';
import type { ValuePath } from './path.js';

export const DEFINITION_KINDS = ['connections', 'triggers', 'services'] as const;
export type DefinitionKind = (typeof DEFINITION_KINDS)[number];

export interface Definitions {
  readonly connections: readonly Located<ConnectionValue>[];
  readonly triggers: readonly Located<TriggerValue>[];
  readonly services: readonly Located<ServiceValue>[];
  /** Every name defined per kind, including definitions skipped for schema problems. */
  readonly names: Readonly<Record<DefinitionKind, ReadonlySet<string>>>;
}

/** A file after the schema check. Definitions with schema problems are skipped by compile, but their names still count as defined. */
export interface CheckedFile {
  readonly file: LoadedFile;
  readonly data: unknown;
  readonly invalidPaths: readonly ValuePath[];
}

/** The definitions of one kind in a file, each flagged when the schema found a problem inside it. */
function entriesOf(checked: CheckedFile, kind: DefinitionKind): { name: string; value: unknown; valid: boolean }[] {
  const data = checked.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return [];
  const map = (data as Record<string, unknown>)[kind];
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return [];
  const broken = (name: string): boolean => checked.invalidPaths.some((p) => p[0] === kind && (p.length === 1 || p[1] === name));
  // A service with a broken step is still compiled, step by step, so its other steps' problems are
  // reported too; a broken trigger still has its references checked.
  const usable = (name: string, value: unknown): boolean => {
    if (kind === 'services') return isPlainObject(value) && !checked.invalidPaths.some((p) => p[0] === kind && p[1] === name && p.length <= 3);
    if (kind === 'triggers') return isPlainObject(value) && !checked.invalidPaths.some((p) => p[0] === kind && p[1] === name && p.length <= 2);
    return !broken(name);
  };
  return Object.entries(map as Record<string, unknown>).map(([name, value]) => ({ name, value, valid: usable(name, value) }));
}

function isPlainObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** True when a schema problem lies at `path` or below it. */
export function brokenWithin(checked: CheckedFile, path: ValuePath): boolean {
  return checked.invalidPaths.some((p) => p.length >= path.length && path.every((s, i) => p[i] === s));
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$/;
const SINGULAR: Record<DefinitionKind, string> = { connections: 'connection', triggers: 'trigger', services: 'service' };

export function collectDefinitions(context: CompileContext, files: readonly CheckedFile[]): Definitions {
  const byKind = { connections: [] as Located<unknown>[], triggers: [] as Located<unknown>[], services: [] as Located<unknown>[] };
  const names = { connections: new Set<string>(), triggers: new Set<string>(), services: new Set<string>() };
  for (const kind of DEFINITION_KINDS) {
    const seen = new Map<string, Located<unknown>>();
    for (const checked of files) {
      const file = checked.file;
      for (const { name, value, valid } of entriesOf(checked, kind)) {
        const def: Located<unknown> = { name, value, file, path: [kind, name], broken: (path) => brokenWithin(checked, path) };
        if (!NAME.test(name)) {
          report(context, file, def.path, 'MQFLOW_NAME', `${SINGULAR[kind]} name "${name}" may hold only letters, digits, "_" and "-" (at most 128)`, 'names appear in client ids, logs and metrics');
          continue;
        }
        const first = seen.get(name);
        if (first !== undefined) {
          const at = (d: Located<unknown>): string => {
            const p = d.file.source.locate(d.path);
            return `${p.file}:${p.line}:${p.column}`;
          };
          report(context, first.file, first.path, 'MQFLOW_DUPLICATE_NAME', `${SINGULAR[kind]} "${name}" is defined twice: here and at ${at(def)}`, 'names are unique per kind across the flow folder; rename one');
          report(context, file, def.path, 'MQFLOW_DUPLICATE_NAME', `${SINGULAR[kind]} "${name}" is defined twice: here and at ${at(first)}`, 'names are unique per kind across the flow folder; rename one');
          continue;
        }
        seen.set(name, def);
        names[kind].add(name);
        if (valid) byKind[kind].push(def);
      }
    }
  }
  return { ...byKind, names } as unknown as Definitions;
}
