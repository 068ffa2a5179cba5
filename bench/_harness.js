/**
 * Process plumbing shared by the benchmarks: free ports, a Mosquitto started for the run, child
 * node processes with a readiness check and their tracking, /proc readings (CPU time of a process
 * or of its tree, RSS), the monotonic clock roles share, and a window of a CPU profile.
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BENCH = fileURLToPath(new URL('.', import.meta.url));
export const MQFLOW = join(ROOT, 'bin', 'mqflow.js');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function mosquittoBinary() {
  return spawnSync('mosquitto', ['-h']).error === undefined ? 'mosquitto' : '/usr/sbin/mosquitto';
}

export function mosquittoVersion() {
  const out = spawnSync(mosquittoBinary(), ['-h'], { encoding: 'utf8' }).stdout ?? '';
  return /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown';
}

export function freePort() {
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

/**
 * Starts Mosquitto for a benchmark; returns { url, pid, output, stop }. Unbounded queues (the
 * default max_queued_messages 1000 drops QoS 0 messages to a subscriber that falls behind), TCP
 * no-delay, and a raised file limit so 1,000 clients can connect.
 */
export async function startBroker(dir) {
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
  const child = spawn('sh', ['-c', `ulimit -n 20000 2>/dev/null; exec ${mosquittoBinary()} -c "$0"`, config], { stdio: ['ignore', 'ignore', 'pipe'] });
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

export function stopChild(child, signal = 'SIGTERM', timeoutMs = 15000) {
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

/** Spawns a node process; `started` resolves once its stdout satisfies `ready`. Collects all output. */
export function spawnNode(args, { ready, env, timeoutMs = 30000, label }) {
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
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

/** Children alive now, so a signal or an error cleans them up (each benchmark kills what is left). */
export const live = new Set();

/**
 * On SIGINT or SIGTERM: kills the live children and the broker (`broker()`, once started), removes
 * the folder `work`, and exits 130 or 143. Returns what removes these handlers (once the run
 * cleaned up by itself).
 */
export function cleanUpOnSignal(work, broker) {
  const onSignal = (signal) => {
    for (const child of live) child.kill('SIGKILL');
    const started = broker();
    if (started) {
      try {
        process.kill(started.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(work, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Adds `child` to `live` until it exits; returns it. */
export function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/**
 * utime + stime + the reaped children's (cutime + cstime) of a process and all its live
 * descendants, in µs (`us`), the system (kernel) part of it (`sysUs`), and how many processes.
 */
export function treeCpuMicros(root) {
  const procs = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    procs.set(Number(entry), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), sys: Number(f[12]) + Number(f[14]) });
  }
  let ticks = 0;
  let sys = 0;
  let processes = 0;
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop();
    const p = procs.get(pid);
    if (p === undefined) continue;
    ticks += p.ticks;
    sys += p.sys;
    processes += 1;
    for (const [child, q] of procs) if (q.ppid === pid) todo.push(child);
  }
  return { us: (ticks * 1e6) / CLK_TCK, sysUs: (sys * 1e6) / CLK_TCK, processes };
}

/** Milliseconds on the machine's monotonic clock, which the processes of a run share. */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/** The samples of a .cpuprofile whose time (µs, the monotonic clock of process.hrtime) lies in [fromUs, toUs]. */
export function cpuProfileWindow(profile, fromUs, toUs) {
  const samples = [];
  const timeDeltas = [];
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    samples.push(profile.samples[i]);
    timeDeltas.push(profile.timeDeltas[i] ?? 0);
  }
  return { ...profile, samples, timeDeltas, startTime: fromUs, endTime: toUs };
}

function statusMb(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
/** Peak resident set size (VmHWM) in MB. */
export const peakRssMb = (pid) => statusMb(pid, 'VmHWM');
/** Current resident set size (VmRSS) in MB. */
export const rssMb = (pid) => statusMb(pid, 'VmRSS');

const sortedCopy = (values) => [...values].sort((a, b) => a - b);
export function median(values) {
  const s = sortedCopy(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
export const r1 = (x) => Math.round(x * 10) / 10;
export const r2 = (x) => Math.round(x * 100) / 100;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
