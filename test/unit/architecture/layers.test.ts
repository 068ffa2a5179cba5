/**
 * The source folders are layers (docs/architecture.md, "Stages and layers"): a module imports only
 * from its own folder and the folders before it, and no import cycle exists, type-only imports
 * included. Reads the import statements of src/ as text: nothing is executed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

/** Lowest first. Folders on the same line are one layer: they may not import each other. */
const LAYERS: readonly (readonly string[])[] = [
  ['util'],
  ['expr'],
  ['mqtt', 'http'],
  ['state'],
  ['pipeline'],
  ['codecs'],
  ['component'],
  ['stores', 'windows'],
  ['steps', 'triggers', 'connections'],
  ['listeners', 'schedules'],
  ['flow'],
  ['host'],
  ['engine'],
  ['graph', 'testing'],
  ['admin', 'broker'],
  ['cli'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a module (static, dynamic and re-exports), resolved to .ts files under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

const folderOf = (file: string): string => relative(SRC, file).split(sep)[0]!;
const layerOf = (folder: string): number => LAYERS.findIndex((l) => l.includes(folder));

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('layers', () => {
  it('every folder of src/ has a layer', () => {
    const folders = new Set(files.map(folderOf).filter((f) => !f.endsWith('.ts')));
    expect([...folders].filter((f) => layerOf(f) === -1)).toEqual([]);
  });

  it('no module imports a folder above its own, or another folder of its own layer', () => {
    const violations: string[] = [];
    for (const [file, imports] of graph) {
      const from = folderOf(file);
      for (const target of imports) {
        const to = folderOf(target);
        if (to === from) continue;
        if (layerOf(to) >= layerOf(from)) violations.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no import cycle', () => {
    // Tarjan's strongly connected components; any component of more than one module is a cycle.
    let index = 0;
    const indices = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    const visit = (v: string): void => {
      indices.set(v, index);
      low.set(v, index++);
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue;
        if (!indices.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
      if (low.get(v) === indices.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(relative(SRC, w));
        } while (w !== v);
        if (component.length > 1) cycles.push(component.sort());
      }
    };
    for (const file of graph.keys()) if (!indices.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });

  it('finds the imports it checks (the parser is not silently blind)', () => {
    expect(importsOf(join(SRC, 'cli', 'main.ts')).length).toBeGreaterThan(3);
    expect([...graph.values()].reduce((n, list) => n + list.length, 0)).toBeGreaterThan(200);
  });
});
