/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by area (package or mqflow
 * source folder) and by function, plus total (inclusive) time of chosen mqflow functions.
 *
 *   node bench/_cpuprofile-summary.js <file.cpuprofile> [--top 15]
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The area a call frame belongs to: a package under node_modules, a dist/ folder of mqflow, node itself, or V8 (GC, idle, program). */
function areaOf(frame) {
  const url = frame.url;
  if (url === '') {
    if (frame.functionName === '(garbage collector)') return 'gc';
    if (frame.functionName === '(idle)') return 'idle';
    if (frame.functionName === '(program)') return 'v8/program';
    return 'native';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1];
  const dist = /\/dist\/(.+)\.js$/.exec(url);
  if (dist) return `mqflow ${dist[1]}`;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

/** Packages grouped for the headline split. */
function groupOf(area) {
  if (area === 'yaml') return 'YAML parsing (yaml)';
  if (area === 'ajv' || area === 'fast-uri' || area === 'fast-deep-equal' || area === 'json-schema-traverse') return 'JSON Schema (ajv)';
  if (area === 'jsonata') return 'JSONata compile (jsonata)';
  if (area.startsWith('mqflow ')) return 'mqflow code';
  if (area === 'gc') return 'garbage collection';
  if (area === 'node internals' || area === 'native' || area === 'v8/program') return 'node/V8 (module loading, fs, compile)';
  return area;
}

export function summarise(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Self time per node from the sample deltas.
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => nodes.get(id).callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const add = (map, key, t) => map.set(key, (map.get(key) ?? 0) + t);
  const byArea = new Map();
  const byGroup = new Map();
  const byFunction = new Map();
  const inclusive = new Map();
  for (const [id, t] of self) {
    const frame = nodes.get(id).callFrame;
    const area = areaOf(frame);
    add(byArea, area, t);
    add(byGroup, groupOf(area), t);
    add(byFunction, `${frame.functionName || '(anonymous)'} [${area}${frame.lineNumber >= 0 ? `:${frame.lineNumber + 1}` : ''}]`, t);
    // Inclusive time of each mqflow function (counted once per sample even under recursion).
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = nodes.get(at).callFrame;
      const a = areaOf(f);
      if (!a.startsWith('mqflow ')) continue;
      const key = `${f.functionName || '(anonymous)'} [${a}]`;
      if (seen.has(key)) continue;
      seen.add(key);
      add(inclusive, key, t);
    }
  }
  const sorted = (map) => [...map.entries()].sort((a, b) => b[1] - a[1]).map(([name, ms]) => ({ name, ms: Math.round(ms), share: ms / (total - idle) }));
  return { totalMs: Math.round(total), busyMs: Math.round(total - idle), groups: sorted(byGroup), areas: sorted(byArea), functions: sorted(byFunction), inclusive: sorted(inclusive) };
}

function main(argv) {
  const file = argv.find((a) => !a.startsWith('--'));
  const topAt = argv.indexOf('--top');
  const top = topAt === -1 ? 15 : Number(argv[topAt + 1]);
  if (file === undefined) {
    console.error('usage: node bench/_cpuprofile-summary.js <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')));
  const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
  const print = (title, rows) => {
    console.log(`\n${title}`);
    for (const r of rows.slice(0, top)) console.log(`  ${String(r.ms).padStart(6)} ms ${pct(r.share)}  ${r.name}`);
  };
  console.log(`profile: ${s.totalMs} ms sampled, ${s.busyMs} ms busy (shares are of busy time)`);
  print('self time by group', s.groups);
  print('self time by area', s.areas);
  print('self time by function', s.functions);
  print('total (inclusive) time of mqflow functions', s.inclusive);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
