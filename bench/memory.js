/**
 * Memory benchmark: resident set size of `mqflow run` once ready and idle, with one trigger and
 * with 1,000 triggers (1,000 services, one connection) on one Mosquitto started for the run.
 * mqflow opens one receiving client per trigger (docs/architecture.md), so the 1,000-trigger
 * figure includes 1,000 MQTT clients and their sockets.
 *
 * RSS is VmRSS read from /proc 3 s after the last trigger logged "subscribed" (idle: no traffic);
 * peak is VmHWM. Each figure is the median of `rounds` fresh processes.
 *
 *   npm run bench -- --only memory
 *   node bench/memory.js [--rounds 3] [--triggers 1000]        (after npm run build)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MQFLOW, ROOT, median, mosquittoVersion, peakRssMb, r1, r2, rssMb, sleep, spawnNode, startBroker, stopChild } from './_harness.js';
import { codeVersion, machine } from './loader.js';

export const name = 'memory';
export const description = 'RSS of mqflow run, ready and idle: 1 trigger and 1,000 triggers on one broker';

const RESULTS = join(ROOT, 'bench', 'results', 'memory.json');
const SETTLE_MS = 3000;

/** A flow folder of `count` triggers, each with its own topic filter and service, in 10 files. */
function writeFlows(dir, count, url) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'connection.yaml'), `connections:\n  plant:\n    url: ${url}\n`);
  const files = Math.min(10, count);
  for (let f = 0; f < files; f++) {
    let triggers = 'triggers:\n';
    let services = 'services:\n';
    for (let i = f; i < count; i += files) {
      triggers += `  t${i}:\n    connection: plant\n    topic: plant/line-${i}/+/temperature\n    qos: 1\n    service: s${i}\n`;
      services += `  s${i}:\n    steps:\n      - filter: temp_f > -459.67\n      - transform: '{"device": $wildcards[0], "celsius": (temp_f - 32) * 5 / 9}'\n      - publish:\n          topic: plant/line-${i}/{{ device }}/celsius\n`;
    }
    writeFileSync(join(dir, `line-${f}.yaml`), `${triggers}${services}`);
  }
}

async function measure(work, url, count, round) {
  const dir = join(work, `flows-${count}-${round}`);
  writeFlows(dir, count, url);
  const subscribed = (out) => out.split('"event":"subscribed"').length - 1;
  const sut = spawnNode([MQFLOW, 'run', dir, '--admin', '127.0.0.1:0', '--no-pretty', '--log-level', 'info'], { ready: (o) => subscribed(o) >= count, label: `mqflow ${count} triggers`, timeoutMs: 120000 });
  const started = performance.now();
  try {
    await sut.started;
    const readyMs = performance.now() - started;
    await sleep(SETTLE_MS);
    return { triggers: count, readyMs, rssMb: rssMb(sut.child.pid), peakRssMb: peakRssMb(sut.child.pid) };
  } finally {
    await stopChild(sut.child);
  }
}

export async function run({ log = console.log, argv = [] } = {}) {
  const option = (flag, fallback) => {
    const i = argv.indexOf(flag);
    return i === -1 ? fallback : Number(argv[i + 1]);
  };
  const rounds = option('--rounds', 3);
  const many = option('--triggers', 1000);
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-memory-'));
  const loadBefore = loadavg();
  const broker = await startBroker(work);
  const runs = [];
  try {
    log(`memory: Mosquitto ${mosquittoVersion()} at ${broker.url}; ${rounds} rounds of 1 and ${many} triggers`);
    for (let round = 0; round < rounds; round++) {
      for (const count of [1, many]) {
        const m = await measure(work, broker.url, count, round);
        runs.push(m);
        log(`memory: round ${round + 1} ${String(count).padStart(5)} triggers: ready in ${Math.round(m.readyMs)} ms, RSS ${r1(m.rssMb)} MB idle, peak ${r1(m.peakRssMb)} MB`);
      }
    }
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const stat = (count, key) => {
    const values = runs.filter((r) => r.triggers === count).map((r) => r[key]);
    return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
  };
  const table = [1, many].map((count) => ({ triggers: count, rssMb: stat(count, 'rssMb'), peakRssMb: stat(count, 'peakRssMb'), readyMs: stat(count, 'readyMs') }));
  const targets = [
    { target: 'RSS ready ≤ 80 MB (1 trigger)', value: r1(table[0].rssMb.median), met: table[0].rssMb.median <= 80 },
    { target: `RSS idle with ${many} triggers ≤ 150 MB`, value: r1(table[1].rssMb.median), met: table[1].rssMb.median <= 150 },
  ];
  const results = { benchmark: name, date: new Date().toISOString(), machine: machine(), code: codeVersion(), mosquitto: mosquittoVersion(), loadAverage: { before: loadBefore.map(r2), after: loadavg().map(r2) }, table, targets, runs };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  return {
    rows: table.flatMap((t) => [
      { metric: `${t.triggers} trigger(s): RSS idle`, ...t.rssMb, unit: 'MB' },
      { metric: `${t.triggers} trigger(s): peak RSS`, ...t.peakRssMb, unit: 'MB' },
      { metric: `${t.triggers} trigger(s): start → all subscribed`, ...t.readyMs, unit: 'ms' },
    ]),
    summary: [...targets.map((t) => `target ${t.met ? 'met' : 'MISSED'}: ${t.target} (${t.value})`), `results written to ${RESULTS}`],
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
