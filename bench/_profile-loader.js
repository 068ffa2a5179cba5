/**
 * Profiles one cold build of the loader benchmark's folder: generates the folder into a temp
 * folder, runs `buildFlowFolder` once in a fresh `node --cpu-prof` process (as `mqflow validate`
 * would), and prints where the time went (see _cpuprofile-summary.js). The profile is kept as
 * bench/results/loader.cpuprofile (open it in Chrome DevTools → Performance, or speedscope).
 *
 *   npm run build && node bench/_profile-loader.js [--top 15]
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarise } from './_cpuprofile-summary.js';
import { generateFlowFolder } from './_flows.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD = new URL('../dist/flow/build.js', import.meta.url).href;

const DRIVER = `
const { buildFlowFolder } = await import(process.argv[1]);
const result = buildFlowFolder(process.argv[2]);
if (result.summary.errors !== 0 || result.summary.triggers !== 1000) { console.error(JSON.stringify(result.summary)); process.exit(1); }
console.log(JSON.stringify({ totalMs: performance.now(), summary: result.summary }));
`;

const topAt = process.argv.indexOf('--top');
const top = topAt === -1 ? 15 : Number(process.argv[topAt + 1]);
const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-profile-'));
try {
  const dir = join(work, 'flows');
  mkdirSync(dir);
  const folder = generateFlowFolder(dir);
  const profDir = join(work, 'prof');
  const child = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--input-type=module', '-e', DRIVER, BUILD, dir], { cwd: ROOT, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`profiled build failed: ${child.stderr}${child.stdout}`);
  const run = JSON.parse(child.stdout);
  const file = join(profDir, readdirSync(profDir).find((f) => f.endsWith('.cpuprofile')));
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  copyFileSync(file, join(ROOT, 'bench', 'results', 'loader.cpuprofile'));
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')));
  console.log(`profiled cold build: ${folder.files} files, ${folder.expressions} expressions, ${Math.round(run.totalMs)} ms from process start (profiling adds overhead)`);
  console.log(`profile: ${s.busyMs} ms busy; shares are of busy time`);
  const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
  const print = (title, rows) => {
    console.log(`\n${title}`);
    for (const r of rows.slice(0, top)) console.log(`  ${String(r.ms).padStart(6)} ms ${pct(r.share)}  ${r.name}`);
  };
  print('self time by group', s.groups);
  print('self time by function', s.functions);
  print('total (inclusive) time of mqflow functions', s.inclusive);
  console.log('\nprofile kept as bench/results/loader.cpuprofile');
} finally {
  rmSync(work, { recursive: true, force: true });
}
