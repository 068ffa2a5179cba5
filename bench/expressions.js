/**
 * Expression micro-benchmark: one evaluation of each expression below, compiled to JavaScript
 * (mqflow's engine) against jsonata's own evaluator, in a warm loop in this process. The
 * expressions are the runtime benchmark's transform, expressions from the bundled example flows,
 * and cases from the JSONata test suite (../shared/jsonata-test-suite) with their inputs.
 *
 * Each measurement awaits every evaluation (the Expression interface returns a promise), so the
 * figures include what a flow step pays. Rounds alternate the engines; reported: the median µs
 * per evaluation and the ratio jsonata ÷ compiled, all from this one run. Every expression's two
 * results are compared first, and the benchmark throws when they differ or one ran interpreted.
 *
 *   npm run bench -- --only expressions     or     node bench/expressions.js (after npm run build)
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';
import { median, ROOT } from './_harness.js';

export const name = 'expressions';
export const description = 'JSONata expressions: compiled to JavaScript vs jsonata’s evaluator (µs per evaluation)';

const RESULTS = join(ROOT, 'bench', 'results', 'expressions.json');
const SUITE = join(ROOT, '..', 'shared', 'jsonata-test-suite');
const ROUNDS = 5;
/** Time per engine per round. */
const ROUND_MS = 150;

const SENSOR = { deviceId: 'oven-3', temp_f: 212.5, ts: 1764097200000, seq: 42, site: 'north' };
const BATCH = { gateway: 'gw-1', readings: [{ deviceId: 'press-1', bar: 4.2 }, { deviceId: 'press-2', bar: 3.9 }, { deviceId: 'press-3', bar: 5.1 }] };

/** [label, expression, input, bindings]; suite cases name their dataset file instead of an input. */
const CASES = [
  ['runtime benchmark transform', '{"device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "ts": ts, "seq": seq, "site": site}', SENSOR],
  ['example: temperature transform', '{ "site": $site, "device": deviceId, "celsius": $round((temp_f - 32) * 5 / 9, 2), "ts": ts ? ts : $millis() }', SENSOR, { site: 'north' }],
  ['example: batch filter', '$count(readings) > 0', BATCH],
  ['example: set from topic', '$wildcards[0]', BATCH, { wildcards: ['north'] }],
  ['example: split payload', '{ "gateway": $gateway, "device": deviceId, "bar": bar, "index": $index }', BATCH.readings[1], { gateway: 'gw-1', index: 1 }],
  ['example: choice condition', 'celsius >= 90', { device: 'oven-3', celsius: 100.28 }],
  ['example: template part', 'device', { device: 'oven-3', celsius: 100.28 }],
  ['fourstep: filter', '$exists(temp_f) and $exists(deviceId)', SENSOR],
  ['fourstep: merge', '$merge([$, {"level": "hot"}])', { device: 'oven-3', celsius: 100.28 }],
  ['suite: predicate and sum', '$sum(Account.Order.Product[Price > 30].(Price * Quantity))', { dataset: 'dataset5' }],
  ['suite: object grouping', 'Account.Order.Product{`Product Name`: Price}', { dataset: 'dataset5' }],
  ['suite: string functions', '$uppercase($substringBefore(Account.`Account Name`, "f")) & "-" & $string($count(Account.Order))', { dataset: 'dataset5' }],
  ['suite: higher-order', '$map(Account.Order.Product, function($p){ $p.Price * $p.Quantity }) ~> $sum()', { dataset: 'dataset5' }],
  ['suite: order-by', 'Account.Order.Product^(>Price).SKU', { dataset: 'dataset5' }],
  ['suite: recursion', '($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(20))', undefined],
  ['suite: regex', '$replace("The cat sat on the mat", /(c|m)at/, "$1og")', undefined],
];

function datasetInput(input) {
  if (input === null || typeof input !== 'object' || !('dataset' in input)) return input;
  return JSON.parse(readFileSync(join(SUITE, 'datasets', `${input.dataset}.json`), 'utf8'));
}

/** Median microseconds per awaited evaluation over one timed window. */
async function timeEvaluations(expression, input, bindings) {
  let n = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(ROUND_MS) * 1_000_000n;
  let now = started;
  while (now < deadline) {
    for (let i = 0; i < 100; i++) await expression.evaluate(input, bindings);
    n += 100;
    now = process.hrtime.bigint();
  }
  return Number(now - started) / 1000 / n;
}

const json = (value) => JSON.parse(JSON.stringify(value ?? null));

export async function run({ log = console.log } = {}) {
  const { createJsonataEngine } = await import(pathToFileURL(join(ROOT, 'dist', 'expr', 'jsonata-engine.js')).href);
  const compiledEngine = createJsonataEngine();
  const jsonataEngine = createJsonataEngine({ compile: false });
  const rows = [];
  const table = [];
  const loadBefore = loadavg()[0];
  for (const [label, source, rawInput, bindings] of CASES) {
    let input;
    try {
      input = datasetInput(rawInput);
    } catch {
      log(`expressions: ${label}: dataset not found under ${SUITE}; skipped`);
      continue;
    }
    const compiled = compiledEngine.compile(source);
    const reference = jsonataEngine.compile(source);
    if (compiled.execution?.mode !== 'compiled') throw new Error(`${label}: not compiled (${compiled.execution?.reason})`);
    // $millis() differs between evaluations; compare the rest.
    const [a, b] = [json(await compiled.evaluate(input, bindings)), json(await reference.evaluate(input, bindings))];
    if (!source.includes('$millis') && !isDeepStrictEqual(a, b)) throw new Error(`${label}: compiled ${JSON.stringify(a)} but jsonata ${JSON.stringify(b)}`);
    const times = { compiled: [], jsonata: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['compiled', 'jsonata'] : ['jsonata', 'compiled'];
      for (const engine of order) times[engine].push(await timeEvaluations(engine === 'compiled' ? compiled : reference, input, bindings));
    }
    const c = median(times.compiled);
    const j = median(times.jsonata);
    table.push({ label, source, compiledUs: c, jsonataUs: j, speedup: j / c });
    rows.push({ metric: label, median: c, min: Math.min(...times.compiled), max: Math.max(...times.compiled), runs: ROUNDS, unit: 'µs compiled', note: `jsonata ${j.toFixed(2)} µs, ×${(j / c).toFixed(1)}` });
    log(`expressions: ${label.padEnd(34)} compiled ${c.toFixed(3).padStart(8)} µs   jsonata ${j.toFixed(2).padStart(8)} µs   ×${(j / c).toFixed(1)}`);
  }
  const speedups = table.map((t) => t.speedup);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ benchmark: name, date: new Date().toISOString(), node: process.version, cpus: availableParallelism(), loadAverage: { before: loadBefore, after: loadavg()[0] }, table }, null, 2)}\n`);
  return {
    rows,
    summary: [
      `${table.length} expressions, median of ${ROUNDS} rounds of ${ROUND_MS} ms per engine, engines alternating; speed-up (jsonata ÷ compiled) from ×${Math.min(...speedups).toFixed(1)} to ×${Math.max(...speedups).toFixed(1)}, median ×${median(speedups).toFixed(1)}`,
      '| expression | compiled µs | jsonata µs | jsonata ÷ compiled |',
      '|---|---:|---:|---:|',
      ...table.map((t) => `| ${t.label}: \`${t.source.replace(/\|/g, '\\|')}\` | ${t.compiledUs.toFixed(2)} | ${t.jsonataUs.toFixed(1)} | ×${t.speedup.toFixed(1)} |`),
      `results written to ${RESULTS}`,
    ],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { rows, summary } = await run();
  for (const row of rows) console.log(`${row.metric}: ${row.median.toFixed(3)} ${row.unit} (${row.note})`);
  for (const line of summary) console.log(line);
}
