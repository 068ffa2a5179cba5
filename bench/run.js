/**
 * Benchmark runner (`npm run bench`, which builds dist/ first). Runs every benchmark module in
 * bench/ — each `*.js` file except this one and helpers whose name starts with "_" — in name
 * order, then prints one results table. A module exports `name`, `description` and
 * `async run({ log, argv })`, which returns `{ rows, summary }` and throws when a run's result is wrong.
 *
 *   npm run bench                       every benchmark
 *   npm run bench -- --only loader      one (or several: --only loader,runtime)
 *   node bench/run.js --list            the benchmarks found
 *   npm run bench:peers                 also runs the peers (Node-RED, installed on demand) where a
 *                                       benchmark has them: node bench/run.js --peers
 *
 * Exits 1 when a benchmark fails, 2 on bad arguments.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The benchmark modules of bench/, by file name. */
export function benchmarkFiles() {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
    .sort();
}

function parseArgs(argv) {
  const options = { only: undefined, list: false, passthrough: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--list') options.list = true;
    else if (arg === '--peers') options.passthrough.push(arg);
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (value === undefined || value === '') throw new UsageError('--only needs a benchmark name');
      options.only = [...(options.only ?? []), ...value.split(',').filter((v) => v !== '')];
    } else if (arg === '--help' || arg === '-h') {
      throw new UsageError('usage: node bench/run.js [--only name[,name…]] [--peers] [--list]');
    } else {
      throw new UsageError(`unknown argument ${arg}`);
    }
  }
  return options;
}

class UsageError extends Error {}

const pad = (text, width, right = false) => (right ? text.padStart(width) : text.padEnd(width));
const num = (value) => (value === undefined ? '' : value >= 100 ? String(Math.round(value)) : value.toFixed(1));

/** Prints the rows of every benchmark as one table, then each benchmark's summary lines. */
export function printResults(results) {
  const header = ['benchmark', 'metric', 'median', 'min', 'max', 'runs', 'note'];
  const lines = results.flatMap((r) =>
    r.rows.map((row) => [r.name, row.metric, num(row.median), num(row.min), num(row.max), row.runs === undefined ? '' : String(row.runs), `${row.unit ?? ''}${row.note ? `  ${row.note}` : ''}`]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const numeric = new Set([2, 3, 4, 5]);
  const format = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i], numeric.has(i)))).join('  ').trimEnd();
  console.log('');
  console.log(format(header));
  console.log(format(widths.map((w) => '-'.repeat(w))));
  for (const line of lines) console.log(format(line));
  for (const r of results) {
    if ((r.summary ?? []).length === 0) continue;
    console.log('');
    for (const s of r.summary) console.log(`${r.name}: ${s}`);
  }
}

async function main(argv) {
  let options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(error.message);
    return 2;
  }
  const modules = [];
  for (const file of benchmarkFiles()) {
    const module = await import(pathToFileURL(`${BENCH_DIR}${file}`).href);
    if (typeof module.run !== 'function' || typeof module.name !== 'string') {
      console.error(`bench/${file} is not a benchmark module (it must export name and run); helpers start with "_"`);
      return 2;
    }
    modules.push(module);
  }
  if (options.list) {
    for (const m of modules) console.log(`${m.name}\t${m.description ?? ''}`);
    return 0;
  }
  const unknown = (options.only ?? []).filter((n) => !modules.some((m) => m.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; known: ${modules.map((m) => m.name).join(', ')}`);
    return 2;
  }
  const selected = options.only === undefined ? modules : modules.filter((m) => options.only.includes(m.name));

  const results = [];
  let failed = 0;
  for (const m of selected) {
    console.log(`== ${m.name}: ${m.description ?? ''}`);
    const started = performance.now();
    try {
      const outcome = await m.run({ log: (line) => console.log(line), argv: options.passthrough });
      results.push({ name: m.name, rows: outcome.rows ?? [], summary: outcome.summary ?? [] });
      console.log(`== ${m.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      failed += 1;
      console.error(`== ${m.name}: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      results.push({ name: m.name, rows: [{ metric: 'FAILED', note: error instanceof Error ? error.message.split('\n')[0] : String(error) }], summary: [] });
    }
  }
  printResults(results);
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
