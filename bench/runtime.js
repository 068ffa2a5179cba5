/**
 * Runtime benchmark: throughput, CPU per message, latency and memory of `mqflow run` against plain
 * mqtt.js relays and (with --peers, `npm run bench:peers`) Node-RED 4.1, on one Mosquitto started
 * for the run (unbounded queues, TCP no-delay).
 *
 * Systems under test (each a fresh process per run, on its own):
 *   relay            – bench/_relay.js: load/in → load/out unchanged, mqtt.js default acknowledgement
 *   relay+jsonata    – bench/_relay.js with the transform below, evaluated by the jsonata package
 *   mqflow identity  – trigger load/in → publish load/out, payload unchanged
 *   mqflow transform – {device, celsius, ts, seq} published to out/{{ device }}
 *   mqflow fourstep  – filter, transform, choice (sets level hot/normal), publish to out/… and
 *                      site/<site>/<level>: two outputs per input
 *   mqflow transform v5 – the transform flow on an MQTT 5 connection (Receive Maximum = queueSize)
 *   node-red …       – the same three flows in Node-RED 4.1 (bench/_nodered.js), with --peers
 * For QoS 0 and QoS 1, at the maximum rate and at a fixed 5,000 msg/s, in rounds that alternate
 * the order of the systems, bench/_load.js (its own process) publishes N ~200-byte readings and
 * bench/_sink.js (its own process) counts the outputs and measures latency from the send time in
 * the payload. CPU time of the system under test is read from /proc/<pid>/stat (utime + stime, all
 * threads) just before the load starts and after the sink is done, so start-up is excluded; peak
 * RSS is VmHWM. mqflow triggers are written as users first write them: no processing options
 * (serial: in order, queueSize 100); the "tuned" systems add processing: concurrent,
 * maxConcurrency 64, queueSize 256. Either way a QoS 1 message is acknowledged only after its
 * outputs are (at-least-once); the relays and Node-RED acknowledge on receipt.
 *
 * Every QoS 1 run throws unless every message arrived (lost == 0); QoS 0 losses are reported.
 *
 *   npm run bench -- --only runtime          npm run bench:peers (adds Node-RED)
 *   node bench/runtime.js [--messages 20000] [--rounds 3] [--peers] [--mode max|rate]
 *                         [--systems name,name] [--profile [system]]         (after npm run build)
 *   MQFLOW_BENCH_MESSAGES / MQFLOW_BENCH_ROUNDS set the same through run.js.
 * --profile runs one mqflow system (default transform) at QoS 1 at the maximum rate once under
 * `node --cpu-prof` and prints the top self-time functions (kept as bench/results/runtime.cpuprofile).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH, MQFLOW, ROOT, cpuMicros, median, mosquittoVersion, peakRssMb, r1, r2, spawnNode, startBroker, stopChild } from './_harness.js';
import { codeVersion, machine } from './loader.js';

export const name = 'runtime';
export const description = 'mqflow run vs plain mqtt.js relays (and Node-RED with --peers) on Mosquitto: msg/s, CPU/msg, latency, RSS';

const RESULTS = join(ROOT, 'bench', 'results', 'runtime.json');
const TRANSFORM = '{"device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "ts": ts, "seq": seq}';
const FIXED_RATE = 5000;
const QOS_LEVELS = [0, 1];
const MODES = [
  { name: 'max', rate: 0 },
  { name: `${FIXED_RATE / 1000}k/s`, rate: FIXED_RATE },
];
/** What each flow publishes: the sink's filters and outputs per input. */
const OUTPUTS = { identity: { filters: 'load/out', copies: 1 }, transform: { filters: 'out/#', copies: 1 }, fourstep: { filters: 'out/#,site/#', copies: 2 } };
const SYSTEMS = [
  { name: 'relay', kind: 'relay', flow: 'identity' },
  { name: 'relay+jsonata', kind: 'relay', flow: 'transform' },
  // The trigger as the docs' first example writes it: no processing options (serial, in order).
  { name: 'mqflow identity', kind: 'mqflow', flow: 'identity' },
  { name: 'mqflow transform', kind: 'mqflow', flow: 'transform' },
  // The same flow tuned: processing concurrent, maxConcurrency 64, queueSize 256.
  { name: 'mqflow transform tuned', kind: 'mqflow', flow: 'transform', tuned: true },
  // The same flow with expressions on jsonata's own evaluator: what the compiler saves, in one run.
  { name: 'mqflow transform jsonata', kind: 'mqflow', flow: 'transform', args: ['--interpret-expressions'] },
  { name: 'mqflow fourstep', kind: 'mqflow', flow: 'fourstep' },
  // MQTT 5: mqflow sets Receive Maximum to queueSize, so the broker's in-flight window for the
  // trigger is queueSize messages instead of Mosquitto's max_inflight_messages (20) for 3.1.1 clients.
  { name: 'mqflow transform v5', kind: 'mqflow', flow: 'transform', protocolVersion: 5 },
];
const PEERS = [
  { name: 'node-red identity', kind: 'nodered', flow: 'identity' },
  { name: 'node-red transform', kind: 'nodered', flow: 'transform' },
  { name: 'node-red fourstep', kind: 'nodered', flow: 'fourstep' },
];

/** The steps of each mqflow flow at a QoS. */
function mqflowSteps(flow, qos) {
  const publish = (topic) => `      - publish:\n          topic: ${topic}\n          qos: ${qos}\n`;
  if (flow === 'identity') return publish('load/out');
  if (flow === 'transform') return `      - transform: '${TRANSFORM}'\n${publish('out/{{ device }}')}`;
  return `      - filter: $exists(temp_f) and $exists(deviceId)
      - transform: '{"device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "ts": ts, "seq": seq, "site": site}'
      - choice:
          - when: celsius > 90
            steps:
              - transform: '$merge([$, {"level": "hot"}])'
          - otherwise:
              - transform: '$merge([$, {"level": "normal"}])'
${publish('out/{{ device }}')}${publish('site/{{ site }}/{{ level }}')}`;
}

function writeMqflowFlows(dir, flow, qos, url, protocolVersion = 4, tuned = false) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'flow.yaml'),
    `connections:
  bench:
    url: ${url}
    protocolVersion: ${protocolVersion}
triggers:
  load-in:
    connection: bench
    topic: load/in
    qos: ${qos}
    service: relay
${tuned ? '    processing: concurrent\n    maxConcurrency: 64\n    queueSize: 256\n' : ''}services:
  relay:
    steps:
${mqflowSteps(flow, qos)}`,
  );
}

/** Starts a system under test; resolves once its subscription was acknowledged. */
async function startSystem(system, qos, url, work, { profileDir, nodeRed } = {}) {
  const dir = join(work, `${system.name.replace(/\W+/g, '-')}-${qos}`);
  if (system.kind === 'relay') {
    const args = system.flow === 'identity' ? [] : ['jsonata', TRANSFORM];
    const sut = spawnNode([join(BENCH, '_relay.js'), url, String(qos), ...args], { ready: (s) => s.includes('ready\n'), label: system.name });
    await sut.started;
    return sut;
  }
  if (system.kind === 'nodered') {
    const { nodeRedSystem } = await import('./_nodered.js');
    const { args, ready } = await nodeRedSystem({ redJs: nodeRed.redJs, dir, system: system.flow, qos, url });
    const sut = spawnNode(args, { ready, label: system.name, timeoutMs: 60000 });
    await sut.started;
    return sut;
  }
  writeMqflowFlows(dir, system.flow, qos, url, system.protocolVersion, system.tuned === true);
  const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const sut = spawnNode([...prof, MQFLOW, 'run', dir, '--admin', '127.0.0.1:0', '--no-pretty', '--log-level', 'info', ...(system.args ?? [])], { ready: (s) => s.includes('"event":"subscribed"'), label: system.name });
  await sut.started;
  return sut;
}

/** One measured run of one system at one QoS and rate. */
async function measure(system, qos, mode, { url, work, messages, profileDir, nodeRed }) {
  const { filters, copies } = OUTPUTS[system.flow];
  let sut;
  let sink;
  try {
    sut = await startSystem(system, qos, url, work, { profileDir, nodeRed });
    sink = spawnNode([join(BENCH, '_sink.js'), url, String(qos), filters, String(messages), '2000', String(copies)], { ready: (o) => o.includes('ready\n'), label: 'sink' });
    await sink.started;
    const cpuBefore = cpuMicros(sut.child.pid);
    const load = spawnNode([join(BENCH, '_load.js'), url, String(qos), String(messages), qos === 0 ? '1000' : '100', String(mode.rate)], { label: 'load' });
    const loadExit = await load.exited;
    if (loadExit.code !== 0) throw new Error(`load generator failed (${loadExit.code ?? loadExit.signal}): ${load.out.stderr}`);
    const loadResult = JSON.parse(load.out.stdout.trim().split('\n').pop());
    const sinkExit = await sink.exited;
    if (sinkExit.code !== 0) throw new Error(`sink failed (${sinkExit.code ?? sinkExit.signal}): ${sink.out.stderr}`);
    const cpuAfter = cpuMicros(sut.child.pid);
    const result = JSON.parse(sink.out.stdout.trim().split('\n').pop());
    const inputs = Math.max(1, result.received / copies);
    return {
      system: system.name,
      qos,
      mode: mode.name,
      sent: loadResult.sent,
      loadMs: loadResult.ms,
      ...result,
      lost: loadResult.sent - result.distinct,
      cpuUsPerMsg: (cpuAfter - cpuBefore) / inputs,
      cpuMs: (cpuAfter - cpuBefore) / 1000,
      rssMb: peakRssMb(sut.child.pid),
      sutErrors: sut.out.stdout.split('\n').filter((l) => /"level":(50|60)/.test(l) || /message-failed/.test(l)).length,
    };
  } finally {
    if (sink) await stopChild(sink.child);
    if (sut) await stopChild(sut.child);
  }
}

function optionsFrom(argv) {
  const text = (flag) => {
    const i = argv.indexOf(flag);
    return i === -1 ? undefined : argv[i + 1];
  };
  const positive = (flag, env, fallback) => {
    const raw = text(flag) ?? process.env[env];
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  const peers = argv.includes('--peers') || process.env.MQFLOW_BENCH_PEERS === '1';
  const all = [...SYSTEMS, ...(peers ? PEERS : [])];
  const only = text('--systems')?.split(',');
  const unknown = (only ?? []).filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown system ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  const mode = text('--mode');
  if (mode !== undefined && mode !== 'max' && mode !== 'rate') throw new Error('--mode is max or rate');
  return {
    messages: positive('--messages', 'MQFLOW_BENCH_MESSAGES', 20000),
    rounds: positive('--rounds', 'MQFLOW_BENCH_ROUNDS', 3),
    peers,
    systems: only === undefined ? all : all.filter((s) => only.includes(s.name)),
    modes: mode === undefined ? MODES : MODES.filter((m) => (mode === 'max' ? m.rate === 0 : m.rate > 0)),
    profile: argv.includes('--profile') ? (text('--profile')?.startsWith('-') === false ? text('--profile') : 'transform') : undefined,
  };
}

/** Medians (and spread) per system, QoS and mode. */
function tabulate(runs, systems, modes) {
  const table = [];
  for (const mode of modes) {
    for (const qos of QOS_LEVELS) {
      for (const system of systems) {
        const rs = runs.filter((r) => r.qos === qos && r.system === system.name && r.mode === mode.name);
        if (rs.length === 0) continue;
        const stat = (key) => ({ median: median(rs.map((r) => r[key])), min: Math.min(...rs.map((r) => r[key])), max: Math.max(...rs.map((r) => r[key])), runs: rs.length });
        table.push({ system: system.name, flow: system.flow, kind: system.kind, qos, mode: mode.name, msgPerSec: stat('msgPerSec'), cpuUsPerMsg: stat('cpuUsPerMsg'), p50Ms: stat('p50Ms'), p99Ms: stat('p99Ms'), rssMb: stat('rssMb'), lost: stat('lost'), duplicates: stat('duplicates') });
      }
    }
  }
  return table;
}

/** mqflow ÷ relay and mqflow ÷ Node-RED, per flow, QoS and mode. */
function ratiosOf(table) {
  const find = (system, qos, mode) => table.find((t) => t.system === system && t.qos === qos && t.mode === mode);
  const ratios = [];
  for (const t of table.filter((row) => row.kind === 'mqflow')) {
    for (const baseName of ['relay', `node-red ${t.flow}`]) {
      const base = find(baseName, t.qos, t.mode);
      if (base === undefined) continue;
      ratios.push({
        system: t.system,
        versus: baseName,
        qos: t.qos,
        mode: t.mode,
        throughput: t.msgPerSec.median / base.msgPerSec.median,
        cpu: t.cpuUsPerMsg.median / base.cpuUsPerMsg.median,
        p50: t.p50Ms.median / base.p50Ms.median,
      });
    }
  }
  return ratios;
}

/**
 * The targets (issue 14: the default trigger, as users first write it), checked against this
 * run's medians (only those this run measured).
 */
function targetsOf(table, ratios) {
  const targets = [];
  const ratio = (system, versus, qos, mode) => ratios.find((r) => r.system === system && r.versus === versus && r.qos === qos && r.mode === mode);
  const row = (system, qos, mode) => table.find((t) => t.system === system && t.qos === qos && t.mode === mode);
  const rate = MODES[1].name;
  const add = (target, value, met) => targets.push({ target, value: r2(value), met });
  const q1 = ratio('mqflow transform', 'relay', 1, 'max');
  if (q1) {
    add('default transform, QoS 1, max: throughput ≥ 0.9 × relay', q1.throughput, q1.throughput >= 0.9);
    add('default transform, QoS 1, max: CPU/msg ≤ 1.3 × relay', q1.cpu, q1.cpu <= 1.3);
  }
  const q0 = ratio('mqflow transform', 'relay', 0, 'max');
  if (q0) {
    add('default transform, QoS 0, max: throughput ≥ 0.95 × relay', q0.throughput, q0.throughput >= 0.95);
    add('default transform, QoS 0, max: CPU/msg ≤ 1.2 × relay', q0.cpu, q0.cpu <= 1.2);
  }
  for (const qos of QOS_LEVELS) {
    const fixed = ratio('mqflow transform', 'relay', qos, rate);
    if (fixed) add(`default transform, QoS ${qos}, ${rate}: CPU/msg ≤ 1.3 × relay`, fixed.cpu, fixed.cpu <= 1.3);
    const mine = row('mqflow transform', qos, rate);
    const relay = row('relay', qos, rate);
    if (mine && relay) {
      // "p99 ≤ 5 ms where the relay's own p99 is": when the relay's tail is above 5 ms on this
      // machine, the comparison is with the relay's.
      const bound = Math.max(5, relay.p99Ms.median);
      add(`default transform, QoS ${qos}, ${rate}: p99 ≤ max(5 ms, relay p99 ${r2(relay.p99Ms.median)} ms)`, mine.p99Ms.median, mine.p99Ms.median <= bound);
    }
    for (const mode of ['max', rate]) {
      const nr = ratio('mqflow transform', 'node-red transform', qos, mode);
      if (nr && qos === 1) add(`default transform CPU/msg ≤ 0.5 × Node-RED, QoS 1, ${mode}`, nr.cpu, nr.cpu <= 0.5);
      if (nr && mode === 'max') add(`default transform throughput ≥ Node-RED, QoS ${qos}`, nr.throughput, nr.throughput >= 1);
    }
  }
  return targets;
}

/** Runs the benchmark; throws when a QoS 1 run lost a message or a flow produced nothing valid. */
export async function run({ log = console.log, argv = [] } = {}) {
  const { messages, rounds, peers, systems, modes } = optionsFrom(argv);
  const nodeRed = peers && systems.some((s) => s.kind === 'nodered') ? await (await import('./_nodered.js')).ensureNodeRed(log) : undefined;
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-runtime-'));
  const loadBefore = loadavg();
  const broker = await startBroker(work);
  const runs = [];
  try {
    log(`runtime: Mosquitto ${mosquittoVersion()} at ${broker.url}; ${messages} messages per run, ${rounds} rounds; systems ${systems.map((s) => s.name).join(', ')}${nodeRed ? ` (Node-RED ${nodeRed.version})` : ''}`);
    for (const mode of modes) {
      for (const qos of QOS_LEVELS) {
        for (let round = 0; round < rounds; round++) {
          // Alternate the order so no system always runs first (or last) in a round.
          const order = round % 2 === 0 ? systems : [...systems].reverse();
          for (const system of order) {
            const m = await measure(system, qos, mode, { url: broker.url, work, messages, nodeRed });
            runs.push(m);
            log(
              `runtime: ${mode.name.padEnd(6)} qos ${qos} round ${round + 1} ${system.name.padEnd(18)} ${String(Math.round(m.msgPerSec)).padStart(6)} msg/s, ${r1(m.cpuUsPerMsg)} µs CPU/msg, p50 ${r2(m.p50Ms)} ms, p99 ${r2(m.p99Ms)} ms, RSS ${r1(m.rssMb)} MB, lost ${m.lost}, dup ${m.duplicates}`,
            );
            if (qos >= 1 && m.lost !== 0) throw new Error(`qos ${qos} ${system.name}: lost ${m.lost} of ${m.sent} messages (at-least-once broken)`);
            if (m.invalid !== 0) throw new Error(`qos ${qos} ${system.name}: ${m.invalid} outputs without a valid seq/ts`);
            if (m.received === 0) throw new Error(`${system.name} produced nothing`);
          }
        }
      }
    }
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadavg();

  const table = tabulate(runs, systems, modes);
  const ratios = ratiosOf(table);
  const targets = targetsOf(table, ratios);
  const results = {
    benchmark: name,
    date: new Date().toISOString(),
    machine: machine(),
    code: codeVersion(),
    versions: { mosquitto: mosquittoVersion(), nodeRed: nodeRed?.version },
    loadAverage: { before: loadBefore.map(r2), after: loadAfter.map(r2) },
    workload: {
      messages,
      rounds,
      payloadBytes: 200,
      fixedRate: FIXED_RATE,
      qos0Window: 1000,
      qos1Window: 100,
      mosquitto: 'max_queued_messages 0 (unbounded), max_inflight_messages 20, set_tcp_nodelay true',
      mqflowTrigger: 'default (serial, queueSize 100); "tuned": processing concurrent, maxConcurrency 64, queueSize 256',
    },
    table,
    ratios,
    targets,
    runs,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  const rows = [];
  for (const t of table) {
    const label = `${t.mode} q${t.qos} ${t.system}`;
    const row = (metric, s, unit, note = '') => ({ metric: `${label}: ${metric}`, median: s.median, min: s.min, max: s.max, runs: s.runs, unit, note });
    if (t.mode === 'max') rows.push(row('throughput', t.msgPerSec, 'msg/s'));
    rows.push(row('CPU per message', t.cpuUsPerMsg, 'µs'));
    rows.push(row('latency p50', t.p50Ms, 'ms'));
    rows.push(row('latency p99', t.p99Ms, 'ms'));
    rows.push(row('peak RSS', t.rssMb, 'MB'));
    rows.push(row('lost', t.lost, 'msgs', `duplicates median ${t.duplicates.median}, max ${t.duplicates.max}`));
  }
  return {
    rows,
    summary: [
      ...ratios.map((r) => `${r.mode} QoS ${r.qos} ${r.system} ÷ ${r.versus}: throughput ×${r2(r.throughput)}, CPU per message ×${r2(r.cpu)}, p50 ×${r2(r.p50)}`),
      ...targets.map((t) => `target ${t.met ? 'met' : 'MISSED'}: ${t.target} (${t.value})`),
      `workload: ${messages} messages of ~200 bytes per run, ${rounds} alternating rounds per QoS and rate, each system a fresh process per run`,
      `load average (1/5/15 min) on ${results.machine.cpus} CPUs: before ${results.loadAverage.before.join(' ')}, after ${results.loadAverage.after.join(' ')}; load generator, sink, broker and system share the CPUs`,
      `code: commit ${results.code.commit}${results.code.srcModified ? ' with uncommitted changes in src/' : ''}; results written to ${RESULTS}`,
    ],
  };
}

/** Runs one mqflow flow at QoS 1 once under --cpu-prof and prints the top self-time functions. */
async function profile(flow, messages) {
  const system = SYSTEMS.find((s) => s.kind === 'mqflow' && s.flow === flow);
  if (system === undefined) throw new Error(`--profile takes identity, transform or fourstep`);
  const { summarise } = await import('./_cpuprofile-summary.js');
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-runtime-prof-'));
  const broker = await startBroker(work);
  try {
    const profileDir = join(work, 'prof');
    const qos = Number(process.env.MQFLOW_BENCH_PROFILE_QOS ?? 1);
    const mode = process.env.MQFLOW_BENCH_PROFILE_RATE === undefined ? MODES[0] : { name: 'rate', rate: Number(process.env.MQFLOW_BENCH_PROFILE_RATE) };
    const m = await measure(system, qos, mode, { url: broker.url, work, messages, profileDir });
    console.log(`profiled run: ${Math.round(m.msgPerSec)} msg/s, ${r1(m.cpuUsPerMsg)} µs CPU/msg (profiling adds overhead), lost ${m.lost}`);
    const file = join(profileDir, readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    copyFileSync(file, join(ROOT, 'bench', 'results', 'runtime.cpuprofile'));
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')));
    console.log(`profile: ${s.busyMs} ms busy of ${s.totalMs} ms (includes start-up); shares are of busy time`);
    const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
    for (const [title, list] of [['self time by group', s.groups], ['self time by area', s.areas], ['self time by function', s.functions]]) {
      console.log(`\n${title}`);
      for (const r of list.slice(0, 25)) console.log(`  ${String(r.ms).padStart(6)} ms ${pct(r.share)}  ${r.name}`);
    }
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  try {
    const options = optionsFrom(argv);
    if (options.profile !== undefined) await profile(options.profile, options.messages);
    else {
      const { printResults } = await import('./run.js');
      printResults([{ name, ...(await run({ argv })) }]);
    }
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
}
