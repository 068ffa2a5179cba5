/**
 * State benchmark (issue 16): what the stateful steps cost on the message path. `mqflow run` on
 * one Mosquitto started for the run, with the default trigger (serial, queueSize 100) at QoS 1,
 * the maximum rate, N readings (bench/_load.js) from `devices` distinct deviceIds, outputs counted
 * by bench/_sink.js — the runtime benchmark's pieces. Variants, each a fresh mqflow process per run,
 * interleaved in rounds that alternate their order:
 *
 *   baseline         trigger → publish
 *   dedupe           dedupe (key: seq, unique per message, so every message passes) → publish
 *   changed          changed (value: seq, key: deviceId: changes every message) → publish
 *   throttle         throttle (limit 1,000,000 per 1s, key: deviceId: nothing dropped) → publish
 *   remember         remember (namespace, key: deviceId, value: temp_f) → publish
 *   lookup           lookup (key: deviceId, required: true) → publish; every device's entry is
 *                    remembered by a second trigger (seed/in) before the load starts, so each
 *                    lookup hits (a miss would fail the message and show as lost)
 *   dedupe disk      the dedupe variant on a disk (LMDB) store in a fresh temporary folder
 *   dedupe redis     the dedupe variant on a redis store: a redis-server started for the run on a
 *                    free loopback port (no persistence); each variant and round has its own
 *                    keyPrefix, so no run sees another's ids
 *
 * The first six use the built-in memory store. CPU time of the mqflow process is read from
 * /proc/<pid>/stat (utime + stime, all threads) just before the load starts and after the sink is
 * done, so start-up is excluded. Figures are medians of the rounds. Derived: each memory step's
 * added CPU per message over the baseline (median − median; the per-round paired differences
 * show the noise), and the disk and redis dedupe throughput ÷ the memory dedupe's.
 * Every run throws unless every message arrived (lost == 0).
 *
 *   npm run bench -- --only state
 *   node bench/state.js [--messages 20000] [--rounds 3] [--devices 100] [--variants name,name]
 *                                                                          (after npm run build)
 *   MQFLOW_BENCH_MESSAGES / MQFLOW_BENCH_ROUNDS set the same through run.js.
 *   node bench/state.js --profile "dedupe redis" [--messages 20000]
 * --profile runs one variant once with mqflow under `node --cpu-prof` and prints the top self-time
 * functions (the profile is kept as bench/results/state.cpuprofile).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { BENCH, cleanUpOnSignal, cpuMicros, freePort, live, median, mosquittoVersion, MQFLOW, peakRssMb, r1, r2, ROOT, sleep, spawnNode, startBroker, stopChild, track } from './_harness.js';
import { codeVersion, machine } from './loader.js';

export const name = 'state';
export const description = 'stateful steps (dedupe, changed, throttle, remember, lookup) on memory, disk and redis stores: msg/s and CPU/msg at QoS 1';

const RESULTS = join(ROOT, 'bench', 'results', 'state.json');
const QOS = 1;
const RUN_TIMEOUT_MS = 180_000;
const REDIS = '/usr/bin/redis-server';
/** Targets of issue 16. */
const ADDED_CPU_TARGET_US = 2;
const STORE_RATIO_TARGET = 0.5;

/** The variants: the steps before the publish, and the store they use. */
const VARIANTS = [
  { name: 'baseline', steps: '' },
  { name: 'dedupe', memoryStep: true, steps: '      - dedupe:\n          key: seq\n' },
  { name: 'changed', memoryStep: true, steps: '      - changed:\n          value: seq\n          key: deviceId\n' },
  { name: 'throttle', memoryStep: true, steps: '      - throttle:\n          limit: 1000000\n          per: 1s\n          key: deviceId\n' },
  { name: 'remember', memoryStep: true, steps: '      - remember:\n          namespace: bench-remember\n          key: deviceId\n          value: temp_f\n' },
  { name: 'lookup', memoryStep: true, seed: true, steps: '      - lookup:\n          namespace: devices\n          key: deviceId\n          as: site\n          required: true\n' },
  { name: 'dedupe disk', store: 'disk', steps: '      - dedupe:\n          key: seq\n          store: bench\n' },
  { name: 'dedupe redis', store: 'redis', steps: '      - dedupe:\n          key: seq\n          store: bench\n' },
  // Not run by default (--variants): the dedupe variants on the runtime benchmark's tuned trigger
  // (processing concurrent, maxConcurrency 64, queueSize 256), where a store's round trips overlap.
  { name: 'dedupe tuned', extra: true, tuned: true, memoryStep: true, steps: '      - dedupe:\n          key: seq\n' },
  { name: 'dedupe disk tuned', extra: true, tuned: true, store: 'disk', steps: '      - dedupe:\n          key: seq\n          store: bench\n' },
  { name: 'dedupe redis tuned', extra: true, tuned: true, store: 'redis', steps: '      - dedupe:\n          key: seq\n          store: bench\n' },
];


function writeFlow(dir, variant, { url, redisUrl, run }) {
  mkdirSync(dir, { recursive: true });
  let stores = '';
  if (variant.store === 'disk') stores = `stores:\n  bench:\n    type: disk\n    path: ${join(dir, 'store')}\n`;
  if (variant.store === 'redis') stores = `stores:\n  bench:\n    type: redis\n    url: ${redisUrl}\n    keyPrefix: "bench-${variant.name.replace(/\W+/g, '-')}-${run}:"\n`;
  const seedTrigger = variant.seed ? `  seed-in:\n    connection: bench\n    topic: seed/in\n    qos: 1\n    service: seed\n` : '';
  const seedService = variant.seed
    ? `  seed:\n    steps:\n      - remember:\n          namespace: devices\n          key: deviceId\n          value: site\n      - publish:\n          topic: seed/done\n          qos: 1\n`
    : '';
  writeFileSync(
    join(dir, 'flow.yaml'),
    `connections:
  bench:
    url: ${url}
${stores}triggers:
  load-in:
    connection: bench
    topic: load/in
    qos: ${QOS}
    service: relay
${variant.tuned ? '    processing: concurrent\n    maxConcurrency: 64\n    queueSize: 256\n' : ''}${seedTrigger}services:
  relay:
    steps:
${variant.steps}      - publish:
          topic: load/out
          qos: ${QOS}
${seedService}`,
  );
  return variant.seed ? 2 : 1;
}

/** Publishes one reading per device to seed/in and waits until mqflow republished each to seed/done. */
async function seed(url, devices) {
  const client = mqtt.connect(url, { clientId: `bench-seed-${process.pid}`, clean: true, reconnectPeriod: 0 });
  try {
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    const done = new Set();
    const all = new Promise((resolve) =>
      client.on('message', (_topic, payload) => {
        done.add(JSON.parse(payload.toString()).deviceId);
        if (done.size === devices) resolve();
      }),
    );
    await client.subscribeAsync('seed/done', { qos: 1 });
    for (let d = 0; d < devices; d++) await client.publishAsync('seed/in', JSON.stringify({ deviceId: `oven-${d}`, site: `site-${d % 4}` }), { qos: 1 });
    let timer;
    await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`seed: ${done.size} of ${devices} devices remembered after 30 s`)), 30_000)))]);
    clearTimeout(timer);
    // A message's state is committed when it is done, just before its acknowledgement; its
    // publish may reach us a moment earlier.
    await sleep(300);
  } finally {
    await client.endAsync();
  }
}

/** One measured run of one variant. */
async function measure(variant, { url, redisUrl, work, messages, devices, run, profileDir }) {
  const dir = join(work, `${variant.name.replace(/\W+/g, '-')}-${run}`);
  const triggers = writeFlow(dir, variant, { url, redisUrl, run });
  const subscribed = (out) => out.split('"event":"subscribed"').length - 1;
  let sut;
  let sink;
  let load;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${variant.name}: run not finished after ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
  });
  try {
    const body = async () => {
      const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
      sut = spawnNode([...prof, MQFLOW, 'run', dir, '--admin', '127.0.0.1:0', '--no-pretty', '--log-level', 'info'], { ready: (s) => subscribed(s) >= triggers, label: `mqflow ${variant.name}` });
      track(sut.child);
      await sut.started;
      if (variant.seed) await seed(url, devices);
      sink = spawnNode([join(BENCH, '_sink.js'), url, String(QOS), 'load/out', String(messages), '2000', '1'], { ready: (o) => o.includes('ready\n'), label: 'sink' });
      track(sink.child);
      await sink.started;
      const cpuBefore = cpuMicros(sut.child.pid);
      load = spawnNode([join(BENCH, '_load.js'), url, String(QOS), String(messages), '100', '0', String(devices)], { label: 'load' });
      track(load.child);
      const loadExit = await load.exited;
      if (loadExit.code !== 0) throw new Error(`load generator failed (${loadExit.code ?? loadExit.signal}): ${load.out.stderr}`);
      const loadResult = JSON.parse(load.out.stdout.trim().split('\n').pop());
      const sinkExit = await sink.exited;
      if (sinkExit.code !== 0) throw new Error(`sink failed (${sinkExit.code ?? sinkExit.signal}): ${sink.out.stderr}`);
      const cpuAfter = cpuMicros(sut.child.pid);
      const result = JSON.parse(sink.out.stdout.trim().split('\n').pop());
      const logLines = sut.out.stdout.split('\n');
      const problems = logLines.filter((l) => /"level":(40|50|60)/.test(l) || /message-failed/.test(l));
      return {
        variant: variant.name,
        round: run,
        sent: loadResult.sent,
        loadMs: loadResult.ms,
        ...result,
        lost: loadResult.sent - result.distinct,
        cpuUsPerMsg: (cpuAfter - cpuBefore) / Math.max(1, result.received),
        cpuMs: (cpuAfter - cpuBefore) / 1000,
        rssMb: peakRssMb(sut.child.pid),
        sutWarnings: problems.length,
        sutFirstWarning: problems[0]?.slice(0, 400),
        sutStderr: sut.out.stderr.trim().slice(0, 400) || undefined,
        sutTail: result.distinct === loadResult.sent ? undefined : sut.out.stdout.slice(-3000),
      };
    };
    return await Promise.race([body(), timeout]);
  } finally {
    clearTimeout(timer);
    for (const p of [load, sink, sut]) if (p) await stopChild(p.child);
  }
}

/** A redis-server on a free loopback port, without persistence; its files (none expected) in `dir`. */
async function startRedis(dir) {
  if (spawnSync(REDIS, ['--version']).error !== undefined) throw new Error(`${REDIS} not found: the dedupe redis variant needs it (or leave it out with --variants)`);
  const port = await freePort();
  const child = track(spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout.on('data', (d) => (output += d.toString()));
  child.stderr.on('data', (d) => (output += d.toString()));
  const deadline = Date.now() + 5000;
  while (!output.includes('Ready to accept connections')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start:\n${output}`);
    }
    await sleep(50);
  }
  const version = /v=(\S+)/.exec(spawnSync(REDIS, ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 'unknown';
  return { url: `redis://127.0.0.1:${port}`, version, stop: () => stopChild(child, 'SIGTERM', 5000) };
}

function optionsFrom(argv) {
  const text = (flag) => {
    const i = argv.indexOf(flag);
    return i === -1 ? undefined : argv[i + 1];
  };
  const positive = (flag, env, fallback) => {
    const raw = text(flag) ?? (env === undefined ? undefined : process.env[env]);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  const only = text('--variants')?.split(',');
  const unknown = (only ?? []).filter((n) => !VARIANTS.some((v) => v.name === n));
  if (unknown.length > 0) throw new Error(`unknown variant ${unknown.join(', ')}; known: ${VARIANTS.map((v) => v.name).join(', ')}`);
  return {
    messages: positive('--messages', 'MQFLOW_BENCH_MESSAGES', 20000),
    rounds: positive('--rounds', 'MQFLOW_BENCH_ROUNDS', 3),
    devices: positive('--devices', undefined, 100),
    variants: only === undefined ? VARIANTS.filter((v) => v.extra !== true) : VARIANTS.filter((v) => only.includes(v.name)),
    profile: argv.includes('--profile') ? (text('--profile') ?? 'dedupe redis') : undefined,
  };
}

const stat = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length });
const thousands = (x) => Math.round(x).toLocaleString('en-US');
const signed = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;

/** Medians per variant, and the derived figures. */
function tabulate(runs, variants, rounds) {
  const table = variants.map((v) => {
    const rs = runs.filter((r) => r.variant === v.name);
    return { variant: v.name, store: v.store ?? 'memory', memoryStep: v.memoryStep === true, msgPerSec: stat(rs.map((r) => r.msgPerSec)), cpuUsPerMsg: stat(rs.map((r) => r.cpuUsPerMsg)), rssMb: stat(rs.map((r) => r.rssMb)), lost: stat(rs.map((r) => r.lost)), duplicates: stat(rs.map((r) => r.duplicates)), warnings: rs.reduce((n, r) => n + r.sutWarnings, 0) };
  });
  const row = (n) => table.find((t) => t.variant === n);
  const inRound = (n, round) => runs.find((r) => r.variant === n && r.round === round);
  const base = row('baseline');
  const memoryDedupe = row('dedupe');
  const memoryDedupeTuned = row('dedupe tuned');
  for (const t of table) {
    if (t.memoryStep && base && !t.variant.endsWith(' tuned')) {
      t.addedCpuUs = t.cpuUsPerMsg.median - base.cpuUsPerMsg.median;
      t.pairedAddedCpuUs = [];
      for (let round = 1; round <= rounds; round++) {
        const a = inRound(t.variant, round);
        const b = inRound('baseline', round);
        if (a && b) t.pairedAddedCpuUs.push(a.cpuUsPerMsg - b.cpuUsPerMsg);
      }
    }
    const versus = t.variant.endsWith(' tuned') ? memoryDedupeTuned : memoryDedupe;
    if ((t.store === 'disk' || t.store === 'redis') && versus) {
      t.versus = versus.variant;
      t.throughputVsMemory = t.msgPerSec.median / versus.msgPerSec.median;
      t.pairedThroughputVsMemory = [];
      for (let round = 1; round <= rounds; round++) {
        const a = inRound(t.variant, round);
        const b = inRound(versus.variant, round);
        if (a && b) t.pairedThroughputVsMemory.push(a.msgPerSec / b.msgPerSec);
      }
    }
  }
  const targets = [];
  for (const t of table) {
    if (t.addedCpuUs !== undefined) targets.push({ target: `${t.variant} (memory): added CPU ≤ ${ADDED_CPU_TARGET_US} µs/msg over the baseline`, value: r1(t.addedCpuUs), met: t.addedCpuUs <= ADDED_CPU_TARGET_US });
    if (t.throughputVsMemory !== undefined) targets.push({ target: `${t.variant}: throughput ≥ ${STORE_RATIO_TARGET} × the memory ${t.versus}`, value: r2(t.throughputVsMemory), met: t.throughputVsMemory >= STORE_RATIO_TARGET });
  }
  return { table, targets };
}

/** The Markdown table of the results. */
export function markdown(table) {
  const lines = [
    '| variant | store | msg/s | CPU µs/msg | added CPU µs/msg vs baseline (per-round paired) | msg/s ÷ memory dedupe (per round) | lost | duplicates | mqflow warnings/errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const t of table) {
    const added = t.addedCpuUs === undefined ? '–' : `${signed(t.addedCpuUs)} (${t.pairedAddedCpuUs.map(signed).join(', ')})`;
    const ratio = t.throughputVsMemory === undefined ? (t.variant === 'dedupe' || t.variant === 'dedupe tuned' ? '1' : '–') : `${r2(t.throughputVsMemory).toFixed(2)} (${t.pairedThroughputVsMemory.map((x) => x.toFixed(2)).join(', ')})`;
    lines.push(`| ${t.variant} | ${t.store} | ${thousands(t.msgPerSec.median)} | ${t.cpuUsPerMsg.median.toFixed(1)} | ${added} | ${ratio} | ${t.lost.max} | ${t.duplicates.max} | ${t.warnings} |`);
  }
  return lines.join('\n');
}

/** Runs one variant once with mqflow under --cpu-prof and prints the top self-time functions. */
async function profile(variantName, { messages, devices }) {
  const variant = VARIANTS.find((v) => v.name === variantName);
  if (variant === undefined) throw new Error(`--profile takes a variant: ${VARIANTS.map((v) => v.name).join(', ')}`);
  const { summarise } = await import('./_cpuprofile-summary.js');
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-state-prof-'));
  let broker;
  let redis;
  try {
    broker = await startBroker(work);
    if (variant.store === 'redis') {
      mkdirSync(join(work, 'redis'));
      redis = await startRedis(join(work, 'redis'));
    }
    const profileDir = join(work, 'prof');
    const m = await measure(variant, { url: broker.url, redisUrl: redis?.url, work, messages, devices, run: 1, profileDir });
    console.log(`profiled run (${variant.name}): ${Math.round(m.msgPerSec)} msg/s, ${r1(m.cpuUsPerMsg)} µs CPU/msg (profiling adds overhead), lost ${m.lost}`);
    const { readdirSync, readFileSync, copyFileSync } = await import('node:fs');
    const file = join(profileDir, readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    copyFileSync(file, join(ROOT, 'bench', 'results', 'state.cpuprofile'));
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')));
    console.log(`profile: ${s.busyMs} ms busy of ${s.totalMs} ms (includes start-up); shares are of busy time`);
    const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
    for (const [title, list] of [['self time by group', s.groups], ['self time by area', s.areas], ['self time by function', s.functions], ['total (inclusive) time of mqflow functions', s.inclusive]]) {
      console.log(`\n${title}`);
      for (const r of list.slice(0, 25)) console.log(`  ${String(r.ms).padStart(6)} ms ${pct(r.share)}  ${r.name}`);
    }
  } finally {
    for (const child of live) child.kill('SIGKILL');
    await redis?.stop();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs the benchmark; throws when a run lost a message or produced invalid outputs. */
export async function run({ log = console.log, argv = [] } = {}) {
  const { messages, rounds, devices, variants } = optionsFrom(argv);
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-state-'));
  const loadBefore = loadavg();
  // dist/ is what runs: record the commit it was (presumably) built from before the runs, not after.
  const code = codeVersion();
  let broker;
  let redis;
  const runs = [];
  // Ctrl-C or a kill: stop what this benchmark started and remove its folder, then exit.
  const signalCleanUp = cleanUpOnSignal(work, () => broker);
  try {
    broker = await startBroker(work);
    if (variants.some((v) => v.store === 'redis')) {
      const redisDir = join(work, 'redis');
      mkdirSync(redisDir);
      redis = await startRedis(redisDir);
    }
    log(`state: Mosquitto ${mosquittoVersion()} at ${broker.url}${redis ? `, Redis ${redis.version} at ${redis.url}` : ''}; ${messages} QoS ${QOS} messages from ${devices} devices per run, ${rounds} rounds; variants ${variants.map((v) => v.name).join(', ')}`);
    for (let round = 1; round <= rounds; round++) {
      // Alternate the order so no variant always runs first (or last) in a round.
      const order = round % 2 === 1 ? variants : [...variants].reverse();
      for (const variant of order) {
        const m = await measure(variant, { url: broker.url, redisUrl: redis?.url, work, messages, devices, run: round });
        runs.push(m);
        log(`state: round ${round} ${variant.name.padEnd(18)} ${String(Math.round(m.msgPerSec)).padStart(6)} msg/s, ${r1(m.cpuUsPerMsg)} µs CPU/msg, p50 ${r2(m.p50Ms)} ms, RSS ${r1(m.rssMb)} MB, lost ${m.lost}, dup ${m.duplicates}, mqflow warnings ${m.sutWarnings}`);
        if (m.sutFirstWarning) log(`state:   first mqflow warning/error: ${m.sutFirstWarning}`);
        if (m.sutStderr) log(`state:   mqflow stderr: ${m.sutStderr}`);
        if (m.lost !== 0) throw new Error(`${variant.name}: lost ${m.lost} of ${m.sent} messages; the end of mqflow's log:\n${m.sutTail}`);
        if (m.invalid !== 0) throw new Error(`${variant.name}: ${m.invalid} outputs without a valid seq/ts`);
      }
    }
  } finally {
    signalCleanUp();
    for (const child of live) child.kill('SIGKILL');
    await redis?.stop();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadavg();
  const { table, targets } = tabulate(runs, variants, rounds);
  const results = {
    benchmark: name,
    date: new Date().toISOString(),
    machine: machine(),
    code,
    versions: { mosquitto: mosquittoVersion(), redis: redis?.version },
    loadAverage: { before: loadBefore.map(r2), after: loadavg().map(r2) },
    workload: { messages, rounds, devices, qos: QOS, payloadBytes: 200, window: 100, mqflowTrigger: 'default (serial, queueSize 100); "… tuned": processing concurrent, maxConcurrency 64, queueSize 256', mosquitto: 'max_queued_messages 0 (unbounded), max_inflight_messages 20, set_tcp_nodelay true' },
    table,
    targets,
    runs,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  log('');
  log(markdown(table));
  log('');

  const rows = [];
  for (const t of table) {
    rows.push({ metric: `${t.variant}: throughput`, ...t.msgPerSec, unit: 'msg/s' });
    rows.push({ metric: `${t.variant}: CPU per message`, ...t.cpuUsPerMsg, unit: 'µs' });
  }
  return {
    rows,
    summary: [
      ...targets.map((t) => `target ${t.met ? 'met' : 'MISSED'}: ${t.target} (${t.value})`),
      `workload: ${messages} QoS ${QOS} messages of ~200 bytes from ${devices} devices per run, default trigger${variants.some((v) => v.tuned) ? ' (… tuned: processing concurrent, maxConcurrency 64, queueSize 256)' : ''}, ${rounds} alternating rounds, each variant a fresh process per run`,
      `load average (1/5/15 min) on ${results.machine.cpus} CPUs: before ${results.loadAverage.before.join(' ')}, after ${loadAfter.map(r2).join(' ')}`,
      `code: commit ${results.code.commit}${results.code.srcModified ? ' with uncommitted changes in src/' : ''}; results written to ${RESULTS}`,
    ],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const argv = process.argv.slice(2);
    const options = optionsFrom(argv);
    if (options.profile !== undefined) await profile(options.profile, options);
    else {
      const outcome = await run({ argv });
      for (const line of outcome.summary) console.log(`state: ${line}`);
    }
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
}
