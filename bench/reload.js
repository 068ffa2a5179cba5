/**
 * Reload benchmark: how long a one-file change takes to go live in `mqflow run --watch`, in a
 * folder of 1 and of 500 flow files (bench/_flows.js; one trigger and service per file), on a
 * Mosquitto started for the run.
 *
 * Each edit inserts a `set` step into one service (a changed service: the plan swaps the
 * pipeline) and waits for the "reload-applied" log line. Two figures per edit:
 *   - reload: mqflow's own measure, from the start of the rebuild to the new version live
 *     (build with unchanged files reused, plan, apply); the "file saved → new version
 *     live, debounce excluded" minus the file watcher's notice;
 *   - wall: from the benchmark writing the file to it reading the log line, minus the debounce
 *     (so it includes the watcher noticing the change and the log pipe).
 * The median of `edits` edits per folder; the build/plan/apply split comes from the same log line.
 *
 *   npm run bench -- --only reload
 *   node bench/reload.js [--edits 15]          (after npm run build)
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateFlowFolder } from './_flows.js';
import { MQFLOW, ROOT, median, r1, r2, sleep, spawnNode, startBroker, stopChild } from './_harness.js';
import { codeVersion, machine } from './loader.js';

export const name = 'reload';
export const description = 'hot reload of a one-file change in folders of 1 and 500 flow files: file saved → new version live';

const RESULTS = join(ROOT, 'bench', 'results', 'reload.json');
const DEBOUNCE_MS = 20;
const TARGET_MS = 100;

function flowFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.yaml')) out.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return out.sort();
}

async function measureFolder(work, url, files, edits, log) {
  const dir = join(work, `flows-${files}`);
  mkdirSync(dir, { recursive: true });
  const generated = generateFlowFolder(dir, files === 1 ? { sites: 1, filesPerSite: 1 } : { sites: 5, filesPerSite: files / 5 });
  if (generated.files !== files) throw new Error(`generated ${generated.files} files, wanted ${files}`);
  const target = flowFiles(dir)[Math.floor(files / 2)];
  const original = readFileSync(target, 'utf8');
  if (!original.includes('    steps:\n')) throw new Error(`${target} has no steps to edit`);
  const subscribed = (out) => out.split('"event":"subscribed"').length - 1;
  const sut = spawnNode([MQFLOW, 'run', dir, '--admin', '127.0.0.1:0', '--watch', '--watch-debounce', `${DEBOUNCE_MS}ms`, '--no-pretty', '--log-level', 'info'], {
    ready: (o) => subscribed(o) >= generated.triggers && o.includes('"event":"watching"'),
    env: { MQTT_URL: url },
    label: `mqflow ${files} files`,
    timeoutMs: 120000,
  });
  const applied = () => sut.out.stdout.split('\n').filter((l) => l.includes('"event":"reload-applied"')).map((l) => JSON.parse(l));
  const runs = [];
  try {
    await sut.started;
    await sleep(500);
    for (let edit = 1; edit <= edits; edit++) {
      const before = applied().length;
      const started = performance.now();
      writeFileSync(target, original.replace('    steps:\n', `    steps:\n      - set:\n          revision: "${edit}"\n`));
      for (;;) {
        if (applied().length > before) break;
        if (performance.now() - started > 10000) throw new Error(`${files} files: edit ${edit} not applied after 10 s\n${sut.out.stdout.slice(-2000)}`);
        await sleep(1);
      }
      const wall = performance.now() - started - DEBOUNCE_MS;
      const line = applied()[before];
      if (line.changed !== 1 || line.added !== 0 || line.removed !== 0) throw new Error(`edit ${edit}: unexpected plan ${JSON.stringify(line)}`);
      runs.push({ files, edit, wallMs: wall, reloadMs: line.ms, buildMs: line.buildMs, planMs: line.planMs, applyMs: line.applyMs });
      await sleep(200);
    }
  } finally {
    await stopChild(sut.child);
  }
  const m = (key) => median(runs.map((r) => r[key]));
  log(`reload: ${files} files: reload ${r1(m('reloadMs'))} ms (build ${r1(m('buildMs'))}, plan ${r1(m('planMs'))}, apply ${r1(m('applyMs'))}), wall ${r1(m('wallMs'))} ms (debounce excluded), median of ${runs.length}`);
  return runs;
}

export async function run({ log = console.log, argv = [] } = {}) {
  const i = argv.indexOf('--edits');
  const edits = i === -1 ? 15 : Number(argv[i + 1]);
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-reload-'));
  const loadBefore = loadavg();
  const broker = await startBroker(work);
  const runs = [];
  try {
    for (const files of [1, 500]) runs.push(...(await measureFolder(work, broker.url, files, edits, log)));
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const stat = (files, key) => {
    const values = runs.filter((r) => r.files === files).map((r) => r[key]);
    return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
  };
  const table = [1, 500].map((files) => ({ files, reloadMs: stat(files, 'reloadMs'), wallMs: stat(files, 'wallMs'), buildMs: stat(files, 'buildMs'), planMs: stat(files, 'planMs'), applyMs: stat(files, 'applyMs') }));
  const big = table[1];
  const targets = [{ target: `one-file change in 500 files live in < ${TARGET_MS} ms (debounce excluded)`, value: r1(big.wallMs.median), met: big.wallMs.median < TARGET_MS }];
  const results = { benchmark: name, date: new Date().toISOString(), machine: machine(), code: codeVersion(), loadAverage: { before: loadBefore.map(r2), after: loadavg().map(r2) }, debounceMs: DEBOUNCE_MS, table, targets, runs };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  return {
    rows: table.flatMap((t) => [
      { metric: `${t.files} file(s): saved → live (wall, debounce excluded)`, ...t.wallMs, unit: 'ms' },
      { metric: `${t.files} file(s): reload (build + plan + apply)`, ...t.reloadMs, unit: 'ms' },
      { metric: `${t.files} file(s):   build`, ...t.buildMs, unit: 'ms' },
      { metric: `${t.files} file(s):   plan`, ...t.planMs, unit: 'ms' },
      { metric: `${t.files} file(s):   apply`, ...t.applyMs, unit: 'ms' },
    ]),
    summary: [...targets.map((t) => `target ${t.met ? 'met' : 'MISSED'}: ${t.target} (${t.value} ms)`), `debounce ${DEBOUNCE_MS} ms (excluded); results written to ${RESULTS}`],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { printResults } = await import('./run.js');
    printResults([{ name, ...(await run({ argv: process.argv.slice(2) })) }]);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
}
