/**
 * MQTT 5 request/reply benchmark: round trips per second, latency p50/p99 and CPU per round trip
 * of two processes that ask and answer through one Mosquitto (as bench/runtime.js starts it),
 * every client speaking MQTT 5. Each job `{"n": k, "sentAt": <monotonic ms>}` on `rr/jobs` makes
 * the asking process send a request to `rr/request` (response topic + correlation data), the
 * answering process reply `{"n": k}` to the response topic with the same correlation data, and
 * the asking process, once it has the reply, publish `{"n": k, "sentAt": …}` to `rr/done`.
 *
 *   mqflow         two `mqflow run` processes, each with its own flow folder and `--instance`
 *                  (asking / answering): askingFlowYaml() (a request step, then a publish) and
 *                  answeringFlowYaml() (one reply step). Both triggers concurrent; mqflow
 *                  acknowledges a job only once its request was answered and its rr/done publish
 *                  acknowledged, and a request only once its reply was acknowledged.
 *   mqtt.js pair   a hand-written requester and responder (the roles "requester" and "responder"
 *                  of this file; what they do not do is said at requesterRole()).
 *
 * Load and sink are roles of this file in their own processes (their CPU is not the system's):
 *   load   publishes `count` QoS 1 jobs n = 1…count to rr/jobs, closed-loop: at most `window`
 *          (256) jobs between their publish and their rr/done (it subscribes rr/done to count
 *          them), so both systems see the same concurrency, and latency is a round trip's, not
 *          the time a job waited in a backlog at the broker.
 *   sink   subscribes rr/done, records each n's latency (arrival − sentAt, on the monotonic clock
 *          the processes share) and checks that every n arrives exactly once.
 *
 * Per run: round trips/s = jobs ÷ (last rr/done at the sink − first job sent); latency p50 and
 * p99 over the jobs; CPU per round trip = utime + stime (with reaped children, /proc) of both
 * system processes and their descendants, from just before the load starts to after the sink is
 * done (start-up excluded), ÷ jobs. Each system is a fresh pair of processes per run; rounds
 * alternate the order of the systems. A run throws unless every n arrived exactly once.
 *
 *   npm run bench -- --only request-reply
 *   node bench/request-reply.js [--messages 20000] [--rounds 3] [--window 256] [--systems mqflow,"mqtt.js pair"]
 *                               [--profile asking|answering]                   (after npm run build)
 *   MQFLOW_BENCH_RR_MESSAGES / MQFLOW_BENCH_ROUNDS set the same through run.js.
 *   Results: bench/results/request-reply.json.
 * --profile runs the mqflow system once with one of its processes under `node --cpu-prof` and
 * prints the top self-time functions of the measured window (load start → last rr/done), in ms
 * and in µs per round trip (the profile is kept in the OS temp dir, its path printed).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { cleanUpOnSignal, cpuProfileWindow, live, median, monotonicMs, mosquittoVersion, MQFLOW, peakRssMb, r1, r2, ROOT, spawnNode, startBroker, stopChild, track, treeCpuMicros } from './_harness.js';

export const name = 'request-reply';
export const description = 'MQTT 5 request/reply round trips: two mqflow processes (request step, reply step) vs a hand-written mqtt.js requester + responder: round trips/s, latency p50/p99, CPU per round trip';

const SELF = fileURLToPath(import.meta.url);
const RESULTS = join(ROOT, 'bench', 'results', 'request-reply.json');
const WINDOW = 256;
const RUN_TIMEOUT_MS = 240_000;
/** How long the sink (and the load) wait without progress before they give up. */
const IDLE_MS = 30_000;

const SYSTEMS = [
  { name: 'mqtt.js pair', kind: 'pair' },
  { name: 'mqflow', kind: 'mqflow' },
];

/** The answering flow: one reply step, replies only to mqflow's reply topics. */
function answeringFlowYaml() {
  return `connections:
  broker:
    url: \${env:MQTT_URL}
    protocolVersion: 5
triggers:
  requests:
    connection: broker
    topic: rr/request
    qos: 1
    service: answer
    processing: concurrent
    maxConcurrency: 64
services:
  answer:
    steps:
      - reply:
          payload: '{ "n": n }'
          allow: mqflow/replies/#
`;
}

/** The asking flow: a request, then the job with its send time to rr/done. */
function askingFlowYaml() {
  return `connections:
  broker:
    url: \${env:MQTT_URL}
    protocolVersion: 5
triggers:
  jobs:
    connection: broker
    topic: rr/jobs
    qos: 1
    service: ask
    processing: concurrent
    maxConcurrency: 256
    queueSize: 1000
services:
  ask:
    steps:
      - request:
          topic: rr/request
          payload: '{ "n": n }'
          as: answer
          timeout: 10s
      - publish:
          topic: rr/done
          payload: '{ "n": n, "sentAt": sentAt }'
          qos: 1
`;
}

// ---------------------------------------------------------------------------------------------
// Child roles: `node bench/request-reply.js --role <role> …`. Each runs in its own process.
// ---------------------------------------------------------------------------------------------


/** An MQTT 5 mqtt.js client that exits the process on an error, unless `done()` says the role has finished. */
function connectOrExit(url, role, done = () => false) {
  const clientId = `bench-rr-${role}-${process.pid}`;
  const client = mqtt.connect(url, { clientId, protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  client.on('error', (error) => {
    if (done()) return;
    console.error(`${role}: ${error.message}`);
    process.exit(1);
  });
  client.on('close', () => {
    if (done()) return;
    console.error(`${role}: connection closed`);
    process.exit(1);
  });
  return { client, clientId };
}

function subscribeOrExit(client, role, topics, then) {
  client.subscribe(topics, { qos: 1 }, (error, granted) => {
    const refused = granted?.find((g) => g.qos > 2);
    if (error || refused) {
      console.error(`${role}: subscribe failed: ${error?.message ?? `reason ${refused.qos} for ${refused.topic}`}`);
      process.exit(1);
    }
    then();
  });
}

/**
 * The hand-written responder: subscribes rr/request at QoS 1; for each request publishes
 * `{"n": n}` at QoS 1 to the request's response topic with its correlation data.
 *
 * Not done (mqflow's reply step does these): mqtt.js acknowledges the request as soon as the
 * 'message' handler returned, not once the reply is acknowledged, so a crash loses the requests
 * received and not yet answered; nothing bounds where a reply may go (mqflow's `allow`) nor checks
 * the response topic for wildcards; a request without a response topic or with a payload that is
 * not JSON is only logged; nothing bounds the requests in progress; no content type on the reply.
 *
 *   node bench/request-reply.js --role responder <mqttUrl>
 */
function responderRole([url]) {
  const { client } = connectOrExit(url, 'responder', () => stopping);
  let stopping = false;
  client.on('message', (_topic, payload, packet) => {
    const responseTopic = packet.properties?.responseTopic;
    if (responseTopic === undefined) {
      console.error('responder: a request without a response topic');
      return;
    }
    let request;
    try {
      request = JSON.parse(payload.toString());
    } catch (error) {
      console.error(`responder: not JSON: ${error.message}`);
      return;
    }
    client.publish(responseTopic, JSON.stringify({ n: request.n }), { qos: 1, properties: { correlationData: packet.properties.correlationData } });
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true); // TCP no-delay, as every process of the benchmark
    subscribeOrExit(client, 'responder', 'rr/request', () => process.stdout.write('ready\n'));
  });
  process.on('SIGTERM', () => {
    stopping = true;
    client.end(false, () => process.exit(0));
  });
}

/**
 * The hand-written requester: one client subscribed (QoS 1) to rr/jobs and to its own reply topic
 * `rr/replies/<client id>`. For each job it keeps `{n, sentAt}` in a Map under a new correlation
 * id (a counter) and publishes the request `{"n": n}` to rr/request at QoS 1 with its response
 * topic and correlation data; on the reply it takes the job out of the Map and publishes
 * `{"n", "sentAt"}` to rr/done at QoS 1.
 *
 * Not done (mqflow's request step and trigger do these): mqtt.js acknowledges a job as soon as
 * the 'message' handler returned, before the request is even sent, so a crash (or a lost reply)
 * loses the jobs in progress: at-most-once from job to rr/done. No timeout: a job whose reply
 * never comes stays in the Map forever (and is never retried nor reported). Nothing bounds the
 * jobs in progress (mqflow: maxConcurrency, queueSize, the broker's Receive Maximum). Correlation
 * ids are a counter, so a reply meant for an earlier incarnation of the process could answer the
 * wrong job after a restart (mqflow: 16 random bytes). No reply-topic re-subscription after a
 * reconnect, no error route, no content type; a job that is not JSON is only logged.
 *
 *   node bench/request-reply.js --role requester <mqttUrl>
 */
function requesterRole([url]) {
  let stopping = false;
  const { client, clientId } = connectOrExit(url, 'requester', () => stopping);
  const replyTopic = `rr/replies/${clientId}`;
  const waiting = new Map();
  let next = 0;
  client.on('message', (topic, payload, packet) => {
    if (topic === replyTopic) {
      const key = packet.properties?.correlationData?.toString();
      const job = key === undefined ? undefined : waiting.get(key);
      if (job === undefined) {
        console.error(`requester: a reply that answers nothing: ${key}`);
        return;
      }
      waiting.delete(key);
      client.publish('rr/done', JSON.stringify({ n: job.n, sentAt: job.sentAt }), { qos: 1 });
      return;
    }
    let job;
    try {
      job = JSON.parse(payload.toString());
    } catch (error) {
      console.error(`requester: job not JSON: ${error.message}`);
      return;
    }
    const key = String(++next);
    waiting.set(key, job);
    client.publish('rr/request', JSON.stringify({ n: job.n }), { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from(key) } });
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true);
    subscribeOrExit(client, 'requester', [replyTopic, 'rr/jobs'], () => process.stdout.write('ready\n'));
  });
  process.on('SIGTERM', () => {
    stopping = true;
    client.end(false, () => process.exit(0));
  });
}

/**
 * The load: `count` QoS 1 jobs {"n": k, "sentAt": <monotonic ms>}, k = 1…count, to rr/jobs;
 * closed-loop: it subscribes rr/done and keeps at most `window` jobs between their publish and
 * their rr/done. Exits once every job was published and acknowledged by the broker, printing
 * {sent, startedAt, ms}; exits 1 if the done count makes no progress for IDLE_MS.
 *
 *   node bench/request-reply.js --role load <mqttUrl> <count> [window]
 */
function loadRole([url, countText, windowText]) {
  const count = Number(countText);
  const windowSize = Number(windowText ?? WINDOW);
  let finished = false;
  const { client } = connectOrExit(url, 'load', () => finished);
  let next = 1;
  let acked = 0;
  let done = 0;
  let startedAt = 0;
  let started = 0;
  let idle;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      console.error(`load: no rr/done for ${IDLE_MS / 1000} s: ${next - 1} jobs sent, ${acked} acknowledged by the broker, ${done} done`);
      process.exit(1);
    }, IDLE_MS);
  };
  const pump = () => {
    while (next <= count && next - 1 - done < windowSize) {
      const n = next++;
      client.publish('rr/jobs', JSON.stringify({ n, sentAt: monotonicMs() }), { qos: 1 }, onAcked);
    }
  };
  function onAcked(error) {
    if (error) {
      console.error(`load: publish failed: ${error.message}`);
      process.exit(1);
    }
    acked += 1;
    if (acked === count) {
      finished = true;
      clearTimeout(idle);
      process.stdout.write(`${JSON.stringify({ sent: acked, startedAt, ms: performance.now() - started })}\n`);
      client.end(false, () => process.exit(0));
    }
  }
  client.on('message', () => {
    done += 1;
    if ((done & 63) === 1) arm();
    if (next <= count) pump();
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true);
    subscribeOrExit(client, 'load', 'rr/done', () => {
      startedAt = monotonicMs();
      started = performance.now();
      arm();
      pump();
    });
  });
}

/**
 * The sink: subscribes rr/done at QoS 1, checks each output ({n, sentAt}, n in 1…expected) and
 * records each n's latency (arrival − sentAt, monotonic ms) at its first arrival. Prints "ready"
 * once subscribed, then one JSON line when every n arrived or nothing arrived for `idleMs` (60 s
 * before the first): counts, the first missing n's, p50/p99 latency, first and last arrival.
 *
 *   node bench/request-reply.js --role sink <mqttUrl> <expected> [idleMs]
 */
function sinkRole([url, expectedText, idleText]) {
  const expected = Number(expectedText);
  const idleMs = Number(idleText ?? IDLE_MS);
  const latency = new Float64Array(expected + 1).fill(NaN);
  let received = 0;
  let distinct = 0;
  let duplicates = 0;
  let invalid = 0;
  let firstInvalid;
  let firstAt = 0;
  let lastAt = 0;
  let timer;
  let finished = false;
  const { client } = connectOrExit(url, 'sink', () => finished);
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const missing = [];
    const values = [];
    for (let n = 1; n <= expected; n++) {
      if (Number.isNaN(latency[n])) {
        if (missing.length < 10) missing.push(n);
      } else values.push(latency[n]);
    }
    values.sort((a, b) => a - b);
    const at = (q) => (values.length === 0 ? NaN : values[Math.min(values.length - 1, Math.floor(q * values.length))]);
    process.stdout.write(`${JSON.stringify({ received, distinct, duplicates, invalid, firstInvalid, missing, firstAt, lastAt, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: values.at(-1) })}\n`);
    client.end(false, () => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  const arm = (ms) => {
    clearTimeout(timer);
    timer = setTimeout(finish, ms);
  };
  client.on('message', (_topic, payload) => {
    const now = monotonicMs();
    if (received + invalid === 0) firstAt = now;
    lastAt = now;
    let body;
    try {
      body = JSON.parse(payload.toString());
    } catch {
      body = undefined;
    }
    const n = body?.n;
    if (!Number.isInteger(n) || n < 1 || n > expected || typeof body.sentAt !== 'number' || Object.keys(body).length !== 2) {
      invalid += 1;
      firstInvalid ??= payload.toString().slice(0, 200);
      return;
    }
    received += 1;
    if (Number.isNaN(latency[n])) {
      latency[n] = now - body.sentAt;
      distinct += 1;
    } else duplicates += 1;
    if (distinct === expected) finish();
    else if ((received & 255) === 1) arm(idleMs);
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true);
    subscribeOrExit(client, 'sink', 'rr/done', () => {
      arm(60_000);
      process.stdout.write('ready\n');
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The benchmark.
// ---------------------------------------------------------------------------------------------



/**
 * Starts a system's two processes (asking, answering); resolves once both subscribed.
 * `profile` ('asking' or 'answering') runs that mqflow process under --cpu-prof into `profileDir`.
 */
async function startSystem(system, { url, work, run, profile, profileDir }) {
  const procs = {};
  if (system.kind === 'pair') {
    procs.answering = spawnNode([SELF, '--role', 'responder', url], { ready: (s) => s.includes('ready\n'), label: 'responder' });
    procs.asking = spawnNode([SELF, '--role', 'requester', url], { ready: (s) => s.includes('ready\n'), label: 'requester' });
  } else {
    for (const [role, yaml] of [
      ['answering', answeringFlowYaml()],
      ['asking', askingFlowYaml()],
    ]) {
      const dir = join(work, `mqflow-${run}-${role}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'flow.yaml'), yaml);
      const prof = profile === role ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      procs[role] = spawnNode([...prof, MQFLOW, 'run', dir, '--instance', role, '--admin', '127.0.0.1:0', '--no-pretty', '--log-level', 'info'], {
        ready: (s) => s.includes('"event":"subscribed"'),
        env: { MQTT_URL: url },
        label: `mqflow ${role}`,
      });
    }
  }
  for (const p of Object.values(procs)) track(p.child);
  await Promise.all(Object.values(procs).map((p) => p.started));
  return procs;
}

/** The end of both processes' output, for an error message. */
const outputOf = (procs) =>
  Object.entries(procs ?? {})
    .map(([role, p]) => `--- ${role} (stderr, then the end of stdout):\n${p.out.stderr}${p.out.stdout.slice(-3000)}`)
    .join('\n');

/** One measured run of one system. */
async function measure(system, { url, work, messages, window, run, profile, profileDir }) {
  let procs;
  let sink;
  let load;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${system.name}: run not finished after ${RUN_TIMEOUT_MS / 1000} s; its output:\n${outputOf(procs)}`)), RUN_TIMEOUT_MS);
  });
  try {
    const steps = async () => {
      procs = await startSystem(system, { url, work, run, profile, profileDir });
      sink = spawnNode([SELF, '--role', 'sink', url, String(messages), String(IDLE_MS)], { ready: (o) => o.includes('ready\n'), label: 'sink' });
      track(sink.child);
      await sink.started;
      // Only what the system logs while measured counts as a warning.
      const logFrom = Object.fromEntries(Object.entries(procs).map(([role, p]) => [role, p.out.stdout.length]));
      const cpuBefore = Object.fromEntries(Object.entries(procs).map(([role, p]) => [role, treeCpuMicros(p.child.pid)]));
      load = spawnNode([SELF, '--role', 'load', url, String(messages), String(window)], { label: 'load' });
      track(load.child);
      const loadExit = await load.exited;
      if (loadExit.code !== 0) throw new Error(`${system.name}: load failed (${loadExit.code ?? loadExit.signal}): ${load.out.stderr}\n${outputOf(procs)}`);
      const loadResult = JSON.parse(load.out.stdout.trim().split('\n').pop());
      const sinkExit = await sink.exited;
      if (sinkExit.code !== 0) throw new Error(`${system.name}: sink failed (${sinkExit.code ?? sinkExit.signal}): ${sink.out.stderr}`);
      const cpuAfter = Object.fromEntries(Object.entries(procs).map(([role, p]) => [role, treeCpuMicros(p.child.pid)]));
      const result = JSON.parse(sink.out.stdout.trim().split('\n').pop());
      const problems = Object.entries(procs).flatMap(([role, p]) =>
        p.out.stdout
          .slice(logFrom[role])
          .split('\n')
          .filter((l) => /"level":(40|50|60)/.test(l) || /message-failed/.test(l))
          .map((l) => `${role}: ${l}`),
      );
      const stderr = Object.entries(procs)
        .filter(([, p]) => p.out.stderr.trim() !== '')
        .map(([role, p]) => `${role}: ${p.out.stderr.trim().slice(0, 600)}`)
        .join('\n');
      const jobs = Math.max(1, result.distinct);
      const cpu = (role) => cpuAfter[role].us - cpuBefore[role].us;
      const sysUs = Object.keys(procs).reduce((s, role) => s + cpuAfter[role].sysUs - cpuBefore[role].sysUs, 0);
      const totalUs = cpu('asking') + cpu('answering');
      return {
        system: system.name,
        round: run,
        sent: loadResult.sent,
        received: result.received,
        distinct: result.distinct,
        duplicates: result.duplicates,
        invalid: result.invalid,
        firstInvalid: result.firstInvalid,
        missing: result.missing,
        lost: loadResult.sent - result.distinct,
        // first job sent → last rr/done at the sink (the same monotonic clock in every process)
        rtPerSec: result.distinct / ((result.lastAt - loadResult.startedAt) / 1000),
        spanMs: result.lastAt - loadResult.startedAt,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        maxMs: result.maxMs,
        cpuUsPerRt: totalUs / jobs,
        askingCpuUsPerRt: cpu('asking') / jobs,
        answeringCpuUsPerRt: cpu('answering') / jobs,
        // the kernel's part of the system's CPU: mostly the socket system calls
        sysShare: sysUs / Math.max(1, totalUs),
        processes: cpuAfter.asking.processes + cpuAfter.answering.processes,
        askingRssMb: peakRssMb(procs.asking.child.pid),
        answeringRssMb: peakRssMb(procs.answering.child.pid),
        // the measured window on the monotonic clock (--profile keeps only the samples inside it)
        windowMs: [loadResult.startedAt, result.lastAt],
        warnings: problems.length,
        firstWarning: problems[0]?.slice(0, 600),
        stderr: stderr || undefined,
        tail: result.distinct === loadResult.sent && result.duplicates === 0 ? undefined : outputOf(procs).slice(-6000),
      };
    };
    return await Promise.race([steps(), timeout]);
  } finally {
    clearTimeout(timer);
    for (const p of [load, sink, procs?.asking, procs?.answering]) if (p) await stopChild(p.child);
  }
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
  const only = text('--systems')?.split(',');
  const unknown = (only ?? []).filter((n) => !SYSTEMS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown system ${unknown.join(', ')}; known: ${SYSTEMS.map((s) => s.name).join(', ')}`);
  const profile = argv.includes('--profile') ? (text('--profile')?.startsWith('-') === false ? text('--profile') : 'asking') : undefined;
  if (profile !== undefined && profile !== 'asking' && profile !== 'answering') throw new Error('--profile takes asking or answering');
  return {
    messages: positive('--messages', 'MQFLOW_BENCH_RR_MESSAGES', 20_000),
    rounds: positive('--rounds', 'MQFLOW_BENCH_ROUNDS', 3),
    window: positive('--window', undefined, WINDOW),
    systems: only === undefined ? SYSTEMS : SYSTEMS.filter((s) => only.includes(s.name)),
    profile,
  };
}

const stat = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length });
const KEYS = ['rtPerSec', 'p50Ms', 'p99Ms', 'maxMs', 'cpuUsPerRt', 'askingCpuUsPerRt', 'answeringCpuUsPerRt', 'sysShare', 'askingRssMb', 'answeringRssMb'];

/** Medians per system, and mqflow ÷ the pair (ratio of medians, and per round). */
function tabulate(runs, systems) {
  const table = systems.map((s) => {
    const rs = runs.filter((r) => r.system === s.name);
    return { system: s.name, kind: s.kind, ...Object.fromEntries(KEYS.map((k) => [k, stat(rs.map((r) => r[k]))])), warnings: rs.reduce((n, r) => n + r.warnings, 0) };
  });
  const mq = table.find((t) => t.kind === 'mqflow');
  const pair = table.find((t) => t.kind === 'pair');
  if (mq === undefined || pair === undefined) return { table, ratios: undefined };
  const paired = (key) =>
    runs
      .filter((r) => r.system === mq.system)
      .map((r) => {
        const b = runs.find((x) => x.system === pair.system && x.round === r.round);
        return b === undefined ? undefined : r[key] / b[key];
      })
      .filter((x) => x !== undefined);
  const ratios = Object.fromEntries(['rtPerSec', 'cpuUsPerRt', 'p50Ms', 'p99Ms'].map((k) => [k, { ratio: mq[k].median / pair[k].median, perRound: paired(k) }]));
  return { table, ratios };
}

/** The rounds: every system once per round, the order alternating; throws on a wrong run. */
async function runRounds(systems, { log, url, work, messages, window, rounds }) {
  const runs = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? systems : [...systems].reverse();
    for (const system of order) {
      const m = await measure(system, { url, work, messages, window, run: round });
      runs.push(m);
      log(
        `request-reply: round ${round} ${system.name.padEnd(12)} ${String(Math.round(m.rtPerSec)).padStart(6)} rt/s, latency p50 ${r2(m.p50Ms)} ms p99 ${r2(m.p99Ms)} ms max ${r2(m.maxMs)} ms, ` +
          `${r1(m.cpuUsPerRt)} µs CPU/rt (asking ${r1(m.askingCpuUsPerRt)}, answering ${r1(m.answeringCpuUsPerRt)}; ${Math.round(m.sysShare * 100)}% kernel, ${m.processes} processes), ` +
          `RSS ${r1(m.askingRssMb)}/${r1(m.answeringRssMb)} MB, lost ${m.lost}, dup ${m.duplicates}, invalid ${m.invalid}, warnings ${m.warnings}`,
      );
      if (m.firstWarning) log(`request-reply:   first ${system.name} warning/error: ${m.firstWarning}`);
      if (m.stderr) log(`request-reply:   ${system.name} stderr: ${m.stderr}`);
      if (m.lost !== 0) throw new Error(`${system.name}: lost ${m.lost} of ${m.sent} jobs (first missing n ${m.missing.join(', ')}); the end of its output:\n${m.tail}`);
      if (m.duplicates !== 0) throw new Error(`${system.name}: ${m.duplicates} jobs arrived at rr/done more than once; the end of its output:\n${m.tail}`);
      if (m.invalid !== 0) throw new Error(`${system.name}: ${m.invalid} wrong outputs on rr/done, the first: ${m.firstInvalid}`);
    }
  }
  return runs;
}

/** Writes the results file; returns rows and summary lines. */
function report(runs, systems, { messages, window, rounds, loadAverage, code, machine, versions }) {
  const { table, ratios } = tabulate(runs, systems);
  const workload = `${messages} QoS 1 jobs per run to rr/jobs, closed-loop window ${window} (jobs between their publish and their rr/done), every client MQTT 5, one Mosquitto; ${rounds} alternating rounds, each system fresh processes per run; round trips/s = jobs ÷ (last rr/done − first job sent); latency = rr/done arrival − the job's sentAt; CPU of the system's two processes only (not the broker's, load's or sink's)`;
  const results = {
    benchmark: name,
    date: new Date().toISOString(),
    machine,
    code,
    versions,
    loadAverage,
    workload: {
      messages,
      rounds,
      window,
      qos: 1,
      load: 'mqtt.js MQTT 5, publishes {n, sentAt} to rr/jobs, at most `window` jobs not yet seen on rr/done',
      mqflow: 'two `mqflow run` (--instance asking / answering): request step (timeout 10s, as) + publish rr/done; reply step (allow mqflow/replies/#). Asking trigger concurrent, maxConcurrency 256, queueSize 1000; answering trigger concurrent, maxConcurrency 64 (queueSize 100)',
      pair: 'mqtt.js v5 requester (Map correlation → job, acknowledges jobs on receipt, no timeout) + responder (replies to responseTopic with correlationData, acknowledges on receipt)',
      mosquitto: 'max_queued_messages 0 (unbounded), max_inflight_messages 20, set_tcp_nodelay true',
      throughput: 'jobs ÷ (last rr/done at the sink − first job sent)',
      cpu: 'both system processes and descendants, utime + stime (+ reaped children), load start → sink done',
    },
    table,
    ratios,
    runs,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  const rows = [];
  for (const t of table) {
    rows.push({ metric: `${t.system}: round trips`, ...t.rtPerSec, unit: 'rt/s' });
    rows.push({ metric: `${t.system}: latency p50`, ...t.p50Ms, unit: 'ms', note: `closed loop, ${window} jobs in flight` });
    rows.push({ metric: `${t.system}: latency p99`, ...t.p99Ms, unit: 'ms', note: `max ${r2(t.maxMs.median)} ms (median of runs)` });
    rows.push({ metric: `${t.system}: CPU per round trip`, ...t.cpuUsPerRt, unit: 'µs', note: `asking ${r1(t.askingCpuUsPerRt.median)} + answering ${r1(t.answeringCpuUsPerRt.median)}; kernel ${Math.round(t.sysShare.median * 100)}%` });
    rows.push({ metric: `${t.system}: peak RSS asking`, ...t.askingRssMb, unit: 'MB' });
    rows.push({ metric: `${t.system}: peak RSS answering`, ...t.answeringRssMb, unit: 'MB' });
  }
  const list = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
  const summary = [];
  if (ratios !== undefined) {
    const line = (label, r) => `mqflow ÷ mqtt.js pair: ${label} ×${r2(r.ratio)} (per round ${list(r.perRound)})`;
    summary.push(line('round trips/s', ratios.rtPerSec), line('CPU per round trip', ratios.cpuUsPerRt), line('latency p50', ratios.p50Ms), line('latency p99', ratios.p99Ms));
  }
  summary.push(
    `workload: ${workload}`,
    `load average (1/5/15 min) on ${machine.cpus} CPUs: before ${loadAverage.before.join(' ')}, after ${loadAverage.after.join(' ')}; load, sink, broker and both system processes share the CPUs`,
    `code: commit ${code.commit}${code.srcModified ? ' with uncommitted changes in src/' : ''}; results written to ${RESULTS}`,
  );
  return { rows, summary };
}

/** Runs the benchmark; throws when a run lost a job, delivered one twice, or produced a wrong output. */
export async function run({ log = console.log, argv = [] } = {}) {
  const { messages, rounds, window, systems } = optionsFrom(argv);
  const { codeVersion, machine } = await import('./loader.js');
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-rr-'));
  // dist/ is what runs: record the commit it was (presumably) built from before the runs.
  const code = codeVersion();
  let broker;
  const signalCleanUp = cleanUpOnSignal(work, () => broker);
  try {
    broker = await startBroker(work);
    const before = loadavg();
    log(`request-reply: Mosquitto ${mosquittoVersion()} at ${broker.url}; ${messages} jobs per run, window ${window}, ${rounds} rounds; systems ${systems.map((s) => s.name).join(', ')}`);
    const runs = await runRounds(systems, { log, url: broker.url, work, messages, window, rounds });
    return report(runs, systems, { messages, window, rounds, code, machine: machine(), versions: { mosquitto: mosquittoVersion() }, loadAverage: { before: before.map(r2), after: loadavg().map(r2) } });
  } finally {
    signalCleanUp();
    for (const child of live) child.kill('SIGKILL');
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}


/** Runs the mqflow system once with one process under --cpu-prof; prints the top self-time functions of the measured window. */
async function profileRun(role, { messages, window }) {
  const { summarise } = await import('./_cpuprofile-summary.js');
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-rr-prof-'));
  let broker;
  try {
    broker = await startBroker(work);
    const profileDir = join(work, 'prof');
    const m = await measure(SYSTEMS.find((s) => s.kind === 'mqflow'), { url: broker.url, work, messages, window, run: 1, profile: role, profileDir });
    console.log(`profiled run (mqflow, ${role} process profiled): ${Math.round(m.rtPerSec)} rt/s, ${r1(m.askingCpuUsPerRt)} µs CPU/rt asking, ${r1(m.answeringCpuUsPerRt)} answering (profiling adds overhead), lost ${m.lost}`);
    const file = join(profileDir, readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')));
    const kept = join(tmpdir(), `mqflow-bench-request-reply-${role}.cpuprofile`);
    copyFileSync(file, kept);
    const full = JSON.parse(readFileSync(file, 'utf8'));
    const s = summarise(cpuProfileWindow(full, m.windowMs[0] * 1000, m.windowMs[1] * 1000));
    const perRt = (ms) => `${((ms * 1000) / m.distinct).toFixed(2).padStart(7)} µs/rt`;
    console.log(`profile: measured window (load start → last rr/done) ${s.totalMs} ms, ${s.busyMs} ms busy on the main thread = ${perRt(s.busyMs).trim()}; shares are of the window's busy time; kept as ${kept}`);
    const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
    for (const [title, entries] of [['self time by group', s.groups], ['self time by area', s.areas], ['self time by function', s.functions], ['total (inclusive) time of mqflow functions', s.inclusive]]) {
      console.log(`\n${title}`);
      for (const r of entries.slice(0, 25)) console.log(`  ${String(r.ms).padStart(6)} ms ${pct(r.share)} ${perRt(r.ms)}  ${r.name}`);
    }
  } finally {
    for (const child of live) child.kill('SIGKILL');
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const role = argv[0] === '--role' ? argv[1] : undefined;
  const roles = { responder: responderRole, requester: requesterRole, load: loadRole, sink: sinkRole };
  if (role !== undefined) {
    if (roles[role] === undefined) {
      console.error(`unknown role ${role}: ${Object.keys(roles).join(', ')}`);
      process.exitCode = 2;
    } else roles[role](argv.slice(2));
  } else {
    try {
      const options = optionsFrom(argv);
      if (options.profile !== undefined) await profileRun(options.profile, options);
      else {
        const { printResults } = await import('./run.js');
        printResults([{ name, ...(await run({ argv })) }]);
      }
    } catch (error) {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
    }
  }
}
