/**
 * Runtime benchmark: message throughput, CPU per message, latency and memory of `mqflow run`
 * against a plain mqtt.js relay, on one Mosquitto started for the run.
 *
 * Systems under test (each a fresh process per run, on its own):
 *   relay     – bench/_relay.js: load/in → load/out, same QoS, mqtt.js default acknowledgement
 *   identity  – mqflow: trigger load/in → publish load/out, payload unchanged
 *   transform – mqflow: {device, celsius, ts, seq} published to out/{{ device }}
 * For QoS 0 and QoS 1, in rounds that alternate the systems, bench/_load.js (its own process)
 * publishes N ~200-byte readings as fast as the broker takes them (QoS 1: 100 in flight) and
 * bench/_sink.js (its own process) counts the outputs. CPU time of the system under test is read
 * from /proc/<pid>/stat (utime + stime, all threads) just before the load starts and after the
 * sink is done, so start-up is excluded; peak RSS is VmHWM. mqflow triggers use
 * processing: concurrent, maxConcurrency 64, queueSize 256.
 *
 * Every QoS 1 run throws unless every message arrived (lost == 0); QoS 0 losses are reported.
 *
 *   npm run bench -- --only runtime
 *   node bench/runtime.js [--messages 20000] [--rounds 3] [--profile]      (after npm run build)
 *   MQFLOW_BENCH_MESSAGES / MQFLOW_BENCH_ROUNDS set the same through run.js.
 * --profile runs the transform flow at QoS 1 once under `node --cpu-prof` and prints the top
 * self-time functions (profile kept as bench/results/runtime.cpuprofile).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { codeVersion, machine } from './loader.js';

export const name = 'runtime';
export const description = 'mqflow run vs a plain mqtt.js relay on Mosquitto: msg/s, CPU/msg, latency, RSS';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results', 'runtime.json');
const MQFLOW = join(ROOT, 'bin', 'mqflow.js');
const SYSTEMS = ['relay', 'identity', 'transform'];
const QOS_LEVELS = [0, 1];
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function mosquittoBinary() {
  return spawnSync('mosquitto', ['-h']).error === undefined ? 'mosquitto' : '/usr/sbin/mosquitto';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts Mosquitto with the benchmark's config; returns { url, pid, stop }. */
async function startBroker(dir) {
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(
    config,
    `listener ${port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 20
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
`,
  );
  const child = spawn(mosquittoBinary(), ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d) => (output += d.toString()));
  try {
    await waitForPort(port);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`mosquitto did not start: ${error.message}\n${output}`);
  }
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid, output: () => output, stop: () => stopChild(child, 'SIGTERM') };
}

function stopChild(child, signal = 'SIGTERM', timeoutMs = 15000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Spawns a node process; resolves once a stdout line satisfies `ready`. Collects all output. */
function spawnNode(args, { ready, env, timeoutMs = 20000, label }) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d.toString()));
  child.stderr.on('data', (d) => (out.stderr += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const started =
    ready === undefined
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${label}: not ready after ${timeoutMs} ms\n${out.stderr}${out.stdout.slice(-2000)}`)), timeoutMs);
          const check = () => {
            if (ready(out.stdout)) {
              clearTimeout(timer);
              child.stdout.off('data', check);
              resolve();
            }
          };
          child.stdout.on('data', check);
          void exited.then(({ code, signal }) => {
            clearTimeout(timer);
            reject(new Error(`${label}: exited (${code ?? signal}) before ready\n${out.stderr}${out.stdout.slice(-2000)}`));
          });
        });
  return { child, out, exited, started };
}

/** utime + stime of a process (all its threads), in µs. */
function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The flow folder of an mqflow system at a QoS. */
function writeFlows(dir, system, qos, url) {
  mkdirSync(dir, { recursive: true });
  const publish =
    system === 'identity'
      ? `      - publish:\n          topic: load/out\n          qos: ${qos}\n`
      : `      - transform: '{"device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "ts": ts, "seq": seq}'\n      - publish:\n          topic: out/{{ device }}\n          qos: ${qos}\n`;
  writeFileSync(
    join(dir, 'flow.yaml'),
    `connections:
  bench:
    url: ${url}
triggers:
  load-in:
    connection: bench
    topic: load/in
    qos: ${qos}
    service: relay
    processing: concurrent
    maxConcurrency: 64
    queueSize: 256
services:
  relay:
    steps:
${publish}`,
  );
}

function startSystem(system, qos, url, work, { profileDir } = {}) {
  if (system === 'relay') return spawnNode([join(BENCH, '_relay.js'), url, String(qos)], { ready: (s) => s.includes('ready\n'), label: 'relay' });
  const dir = join(work, `flows-${system}-${qos}`);
  writeFlows(dir, system, qos, url);
  const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  return spawnNode([...prof, MQFLOW, 'run', dir, '--no-pretty', '--log-level', 'info'], { ready: (s) => s.includes('"event":"subscribed"'), label: `mqflow ${system}` });
}

/** One measured run of one system at one QoS. */
async function measure(system, qos, { url, work, messages, profileDir }) {
  const sut = startSystem(system, qos, url, work, { profileDir });
  const sink = { child: undefined };
  try {
    await sut.started;
    const filter = system === 'transform' ? 'out/#' : 'load/out';
    const s = spawnNode([join(BENCH, '_sink.js'), url, String(qos), filter, String(messages), '2000'], { ready: (o) => o.includes('ready\n'), label: 'sink' });
    sink.child = s.child;
    await s.started;
    const cpuBefore = cpuMicros(sut.child.pid);
    const load = spawnNode([join(BENCH, '_load.js'), url, String(qos), String(messages), qos === 0 ? '1000' : '100'], { label: 'load' });
    const loadExit = await load.exited;
    if (loadExit.code !== 0) throw new Error(`load generator failed (${loadExit.code ?? loadExit.signal}): ${load.out.stderr}`);
    const loadResult = JSON.parse(load.out.stdout.trim().split('\n').pop());
    const sinkExit = await s.exited;
    if (sinkExit.code !== 0) throw new Error(`sink failed (${sinkExit.code ?? sinkExit.signal}): ${s.out.stderr}`);
    const cpuAfter = cpuMicros(sut.child.pid);
    const rssMb = peakRssMb(sut.child.pid);
    const result = JSON.parse(s.out.stdout.trim().split('\n').pop());
    const lost = loadResult.sent - result.distinct;
    return {
      system,
      qos,
      sent: loadResult.sent,
      loadMs: loadResult.ms,
      ...result,
      lost,
      cpuUsPerMsg: (cpuAfter - cpuBefore) / Math.max(1, result.received),
      cpuMs: (cpuAfter - cpuBefore) / 1000,
      rssMb,
      sutErrors: sut.out.stdout.split('\n').filter((l) => /"level":(50|60)/.test(l) || /message-failed/.test(l)).length,
    };
  } finally {
    if (sink.child) await stopChild(sink.child);
    await stopChild(sut.child);
  }
}

const sortedCopy = (values) => [...values].sort((a, b) => a - b);
function median(values) {
  const s = sortedCopy(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
const r1 = (x) => Math.round(x * 10) / 10;
const r2 = (x) => Math.round(x * 100) / 100;

function optionsFrom(argv) {
  const value = (flag, env, fallback) => {
    const i = argv.indexOf(flag);
    const text = i === -1 ? process.env[env] : argv[i + 1];
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  return { messages: value('--messages', 'MQFLOW_BENCH_MESSAGES', 20000), rounds: value('--rounds', 'MQFLOW_BENCH_ROUNDS', 3), profile: argv.includes('--profile') };
}

/** Runs the benchmark; throws when a QoS 1 run lost a message. */
export async function run({ log = console.log, argv = [] } = {}) {
  const { messages, rounds } = optionsFrom(argv);
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-runtime-'));
  const loadBefore = loadavg();
  const broker = await startBroker(work);
  const runs = [];
  try {
    log(`runtime: Mosquitto at ${broker.url}; ${messages} messages per run, ${rounds} rounds, systems ${SYSTEMS.join(', ')}`);
    for (const qos of QOS_LEVELS) {
      for (let round = 0; round < rounds; round++) {
        // Alternate the order so no system always runs first (or last) in a round.
        const order = round % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
        for (const system of order) {
          const m = await measure(system, qos, { url: broker.url, work, messages });
          runs.push(m);
          log(
            `runtime: qos ${qos} round ${round + 1} ${system.padEnd(9)} ${Math.round(m.msgPerSec)} msg/s, ${r1(m.cpuUsPerMsg)} µs CPU/msg, p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms, RSS ${r1(m.rssMb)} MB, received ${m.received}, lost ${m.lost}, dup ${m.duplicates}, load ${Math.round(m.loadMs)} ms`,
          );
          if (qos >= 1 && m.lost !== 0) throw new Error(`qos ${qos} ${system}: lost ${m.lost} of ${m.sent} messages (at-least-once broken)`);
          if (m.invalid !== 0) throw new Error(`qos ${qos} ${system}: ${m.invalid} outputs without a valid seq/ts`);
          if (system === 'transform' && m.received === 0) throw new Error('transform produced nothing');
        }
      }
    }
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadavg();

  const table = [];
  for (const qos of QOS_LEVELS) {
    for (const system of SYSTEMS) {
      const rs = runs.filter((r) => r.qos === qos && r.system === system);
      const stat = (key) => ({ median: median(rs.map((r) => r[key])), min: Math.min(...rs.map((r) => r[key])), max: Math.max(...rs.map((r) => r[key])), runs: rs.length });
      table.push({ system, qos, msgPerSec: stat('msgPerSec'), cpuUsPerMsg: stat('cpuUsPerMsg'), p50Ms: stat('p50Ms'), p99Ms: stat('p99Ms'), rssMb: stat('rssMb'), lost: stat('lost'), duplicates: stat('duplicates') });
    }
  }
  const find = (system, qos) => table.find((t) => t.system === system && t.qos === qos);
  const ratios = table
    .filter((t) => t.system !== 'relay')
    .map((t) => {
      const base = find('relay', t.qos);
      return { system: t.system, qos: t.qos, throughput: t.msgPerSec.median / base.msgPerSec.median, cpu: t.cpuUsPerMsg.median / base.cpuUsPerMsg.median };
    });

  const results = {
    benchmark: name,
    date: new Date().toISOString(),
    machine: machine(),
    code: codeVersion(),
    loadAverage: { before: loadBefore.map(r2), after: loadAfter.map(r2) },
    workload: { messages, rounds, payloadBytes: 200, qos0Window: 1000, qos1Window: 100, mosquitto: 'max_queued_messages 0, max_inflight_messages 20, set_tcp_nodelay true', mqflowTrigger: 'processing concurrent, maxConcurrency 64, queueSize 256' },
    table,
    ratios,
    runs,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  const rows = [];
  for (const t of table) {
    const label = `q${t.qos} ${t.system}`;
    const row = (metric, s, unit, note = '') => ({ metric: `${label}: ${metric}`, median: s.median, min: s.min, max: s.max, runs: s.runs, unit, note });
    rows.push(row('throughput', t.msgPerSec, 'msg/s'));
    rows.push(row('CPU per message', t.cpuUsPerMsg, 'µs'));
    rows.push(row('latency p50', t.p50Ms, 'ms'));
    rows.push(row('latency p99', t.p99Ms, 'ms'));
    rows.push(row('peak RSS', t.rssMb, 'MB'));
    rows.push(row('lost', t.lost, 'msgs', `duplicates median ${t.duplicates.median}, max ${t.duplicates.max}`));
  }
  return {
    rows,
    summary: [
      ...ratios.map((r) => `QoS ${r.qos} ${r.system} ÷ relay: throughput ×${r2(r.throughput)}, CPU per message ×${r2(r.cpu)}`),
      `workload: ${messages} messages of ~200 bytes per run, ${rounds} alternating rounds per QoS, each system a fresh process per run`,
      `load average (1/5/15 min) on ${results.machine.cpus} CPUs: before ${results.loadAverage.before.join(' ')}, after ${results.loadAverage.after.join(' ')}; load generator, sink, broker and system share the CPUs`,
      `code: commit ${results.code.commit}${results.code.srcModified ? ' with uncommitted changes in src/' : ''}; results written to ${RESULTS}`,
    ],
  };
}

/** Runs the transform flow at QoS 1 once under --cpu-prof and prints the top self-time functions. */
async function profile(messages) {
  const { summarise } = await import('./_cpuprofile-summary.js');
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-runtime-prof-'));
  const broker = await startBroker(work);
  try {
    const profileDir = join(work, 'prof');
    const m = await measure('transform', 1, { url: broker.url, work, messages, profileDir });
    console.log(`profiled run: ${Math.round(m.msgPerSec)} msg/s, ${r1(m.cpuUsPerMsg)} µs CPU/msg (profiling adds overhead), lost ${m.lost}`);
    const file = join(profileDir, readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    copyFileSync(file, join(ROOT, 'bench', 'results', 'runtime.cpuprofile'));
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')));
    console.log(`profile: ${s.busyMs} ms busy of ${s.totalMs} ms (includes start-up); shares are of busy time`);
    const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
    for (const [title, list] of [['self time by group', s.groups], ['self time by area', s.areas], ['self time by function', s.functions]]) {
      console.log(`\n${title}`);
      for (const r of list.slice(0, 20)) console.log(`  ${String(r.ms).padStart(6)} ms ${pct(r.share)}  ${r.name}`);
    }
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  try {
    if (argv.includes('--profile')) await profile(optionsFrom(argv).messages);
    else {
      const { printResults } = await import('./run.js');
      printResults([{ name, ...(await run({ argv })) }]);
    }
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
}
