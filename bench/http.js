/**
 * HTTP benchmarks, two scenarios (--scenario enrich|webhook|both; both by default):
 *
 * enrich: an MQTT → HTTP → MQTT enrichment flow. Each QoS 1 reading `{"device": "d<k>",
 * "seq": n}` on `load/in` is enriched with `GET /devices/<device>` from a local API and published
 * as `{"device", "seq", "location"}` to `load/out` at QoS 1. One Mosquitto (as bench/runtime.js
 * starts it) and one API server serve every system:
 *
 *   API server       node:http in a child process (its CPU is not the system's) on a free
 *                    127.0.0.1 port: `GET /devices/:id` → `{"device": id, "location": "hall-<n>"}`
 *                    (JSON, ~40 bytes), answered at once, keep-alive on. It counts requests, so
 *                    each run checks one request per message (no retries, no caching).
 *   mqflow default   `mqflow run` of the flow below, written as a user would: the trigger has no
 *                    processing options (serial, queueSize 100).
 *   mqflow tuned     the same flow with `processing: concurrent` and `maxConcurrency: 32`.
 *                    (Mosquitto sends an MQTT 3.1.1 client at most 20 unacknowledged QoS 1
 *                    messages, max_inflight_messages, and mqflow acknowledges a message once it
 *                    is done, so at most 20 run at once here.)
 *   relay            hand-written mqtt.js + node:http (the "relay" role of this file; see relayRole()).
 *   node-red         Node-RED 4.1 (with --peers): mqtt in → change (msg.url, keep the reading) →
 *                    http request (GET, parsed JSON, keep-alive) → change (JSONata) → mqtt out;
 *                    bench/_nodered.js, system "http".
 *
 * Load and sink are roles of this file in their own processes: bench/_load.js and bench/_sink.js
 * cannot be reused as they are (the load publishes `deviceId` readings with padding; the sink
 * requires a numeric `ts` in every output, which this flow's output does not carry). The load role
 * is _load.js's maximum-rate loop: at most `window` (100) publishes await their PUBACK. The sink
 * checks every output (device, seq, location as the API gives it) and throws (via the run) unless
 * every seq arrived.
 *
 * webhook: an HTTP → MQTT webhook flow. A load generator POSTs `{"seq": n}` to
 * `/hooks/readings/d<n % 50>` of the system, which publishes `{"device": "d<k>", "seq": n}` to
 * `load/out` at QoS 1 (same Mosquitto) and answers 2xx:
 *
 *   mqflow default   `mqflow run` of webhookFlowYaml(): a listener on a free port and an endpoint
 *                    without processing options (serial, queueSize 100). mqflow answers 204 only
 *                    once the broker acknowledged the publish (PUBACK).
 *   mqflow tuned     the same endpoint with `processing: concurrent` and `maxConcurrency: 32`.
 *   relay            hand-written node:http + mqtt.js (role "hook-relay", see hookRelayRole()):
 *                    answers 204 in the publish callback, after the PUBACK, as mqflow does.
 *   node-red         Node-RED 4.1 (with --peers): http in (POST /hooks/readings/:device) → change
 *                    (JSONata {device, seq}) → mqtt out load/out QoS 1, and → http response 204;
 *                    bench/_nodered.js, system "webhook". Node-RED answers without waiting for the
 *                    PUBACK (the http response node does not wait for the mqtt out node): a
 *                    weaker guarantee than the other three give.
 *
 * The load (role "post") is an undici Pool in its own process: 32 connections, 32 requests in
 * flight, each answer checked to be 2xx (the run fails otherwise). The sink (role "sink", mode
 * webhook) checks every output and that every seq arrived.
 *
 * Per run: throughput = messages ÷ (last output at the sink − load start), on the machine's
 * monotonic clock shared by the processes; CPU per message of the system process and its
 * descendants (utime + stime + reaped children's, /proc) from just before the load starts to
 * after the sink is done (start-up excluded); in enrich the API server's CPU per message likewise,
 * as a note. Each system is a fresh process per run; rounds alternate the order of the systems.
 * Rows and summary lines of the webhook scenario start with "webhook".
 *
 *   npm run bench -- --only http          npm run bench:peers -- --only http (adds Node-RED)
 *   node bench/http.js [--messages 10000] [--rounds 3] [--peers] [--systems name,name]
 *                      [--scenario enrich|webhook|both]
 *                      [--profile "mqflow default"]                            (after npm run build)
 *   MQFLOW_BENCH_HTTP_MESSAGES / MQFLOW_BENCH_ROUNDS / MQFLOW_BENCH_HTTP_SCENARIO set the same
 *   through run.js. Results: bench/results/http.json (enrich), http-webhook.json (webhook).
 * --profile runs one mqflow system (or "relay", to compare) once under `node --cpu-prof`, in the
 * first scenario chosen (--scenario webhook profiles the webhook), and prints the top self-time
 * functions of the measured window (load start → last output; start-up excluded) in ms and in µs
 * per message (the profile is kept in the OS temp dir, its path printed).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { cleanUpOnSignal, cpuProfileWindow, freePort, live, median, monotonicMs, mosquittoVersion, MQFLOW, peakRssMb, r1, r2, ROOT, spawnNode, startBroker, stopChild, track, treeCpuMicros } from './_harness.js';

export const name = 'http';
export const description = 'MQTT → HTTP GET → MQTT enrichment and HTTP POST → MQTT webhook: mqflow (default, tuned) vs an mqtt.js + node:http relay (and Node-RED with --peers): msg/s, CPU/msg';

const SELF = fileURLToPath(import.meta.url);
const RESULTS = { enrich: join(ROOT, 'bench', 'results', 'http.json'), webhook: join(ROOT, 'bench', 'results', 'http-webhook.json') };
const SCENARIOS = ['enrich', 'webhook'];
const DEVICES = 50;
const WINDOW = 100;
/** The webhook load: connections of its undici Pool, and requests in flight (one per connection). */
const HOOK_CONNECTIONS = 32;
const RUN_TIMEOUT_MS = 180_000;
/**
 * How long the sink waits after an output before it gives up: long, since Node-RED sends nothing
 * for several seconds while it opens a connection per waiting message (about 9,000 at 10,000
 * messages: its http request node has no connection limit, and every message is acknowledged, so
 * handed to it, at once).
 */
const IDLE_MS = 30_000;
/** Targets (stated, not asserted). */
const RELAY_CPU_TARGET = 1.3;
const NODE_RED_CPU_TARGET = 0.35;

/** The API's answer for a device: the sink checks each output against it. */
const locationOf = (device) => `hall-${Number(/\d+$/.exec(device)?.[0] ?? 0) % 7}`;

const SYSTEMS = [
  { name: 'relay', kind: 'relay' },
  { name: 'mqflow default', kind: 'mqflow' },
  { name: 'mqflow tuned', kind: 'mqflow', tuned: true },
];
const PEERS = [{ name: 'node-red', kind: 'nodered' }];

/** The flow, as the docs' http section has users write it; tuned adds the trigger's processing options. */
function flowYaml(tuned) {
  return `connections:
  plant:
    url: \${env:MQTT_URL}
triggers:
  readings:
    connection: plant
    topic: load/in
    service: enrich
    qos: 1
${tuned ? '    processing: concurrent\n    maxConcurrency: 32\n' : ''}services:
  enrich:
    steps:
      - http:
          url: \${env:API_URL}/devices/{{ device }}
          as: info
      - publish:
          topic: load/out
          payload: '{ "device": device, "seq": seq, "location": $info.body.location }'
`;
}

/**
 * The webhook flow, as docs/flow-language.md ("HTTP triggers: listeners and endpoints") has
 * users write it: no respond step, so a done request gets 204. Tuned adds the endpoint's
 * processing options.
 */
function webhookFlowYaml(tuned) {
  return `connections:
  plant:
    url: \${env:MQTT_URL}
listeners:
  hooks:
    port: \${env:HOOK_PORT}
endpoints:
  reading:
    listener: hooks
    path: /hooks/readings/{device}
    service: to-mqtt
${tuned ? '    processing: concurrent\n    maxConcurrency: 32\n' : ''}services:
  to-mqtt:
    steps:
      - publish:
          topic: load/out
          payload: '{ "device": $wildcards[0], "seq": seq }'
`;
}

// ---------------------------------------------------------------------------------------------
// Child roles: `node bench/http.js --role <role> …`. Each runs in its own process.
// ---------------------------------------------------------------------------------------------


/** An mqtt.js client that exits the process on an error, unless `done()` says the role has finished. */
function connectOrExit(url, role, done = () => false) {
  const client = mqtt.connect(url, { clientId: `bench-http-${role}-${process.pid}`, clean: true, reconnectPeriod: 0 });
  client.on('error', (error) => {
    if (done()) return;
    console.error(`${role}: ${error.message}`);
    process.exit(1);
  });
  return client;
}

/**
 * The API server: GET /devices/:id → {"device": id, "location": "hall-<n>"} at once, keep-alive;
 * GET /stats → {"requests": <device requests so far>}. Prints "listening <port>"; exits when its
 * stdin closes, so it cannot outlive the bench process.
 */
function serverRole() {
  const bodies = new Map();
  let requests = 0;
  const server = http.createServer((req, res) => {
    const m = /^\/devices\/([^/?#]+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && m !== null) {
      requests += 1;
      const id = decodeURIComponent(m[1]);
      let body = bodies.get(id);
      if (body === undefined) bodies.set(id, (body = Buffer.from(JSON.stringify({ device: id, location: locationOf(id) }))));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    } else if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 9 });
      res.end('not found');
    }
  });
  // Idle connections of one system stay open while the others run (Node's default is 5 s).
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 610_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

/**
 * The hand-written relay: subscribes load/in at QoS 1; for each message, GET /devices/<device>
 * through a keep-alive http.Agent (maxSockets 10: more requests wait in the agent's queue),
 * JSON-parses the body, publishes {device, seq, location} to load/out at QoS 1.
 *
 * What it guarantees, and what not: mqtt.js acknowledges a QoS 1 message (PUBACK) as soon as the
 * 'message' handler returned, before the request is even sent, so a crash (or a failed request,
 * which is only logged) loses the messages received and not yet published: at-most-once from
 * input to output. Nothing bounds the messages waiting for a socket: a slow API grows the
 * agent's queue without limit. No retries, no timeouts, no URL/JSON checks beyond parsing. It is
 * the least a programmer would write, and the cheapest correct-on-the-happy-path baseline.
 *
 *   node bench/http.js --role relay <mqttUrl> <apiUrl>
 */
function relayRole([url, apiUrl]) {
  const api = new URL(apiUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
  const client = connectOrExit(url, 'relay');
  client.on('message', (_topic, payload) => {
    let reading;
    try {
      reading = JSON.parse(payload.toString());
    } catch (error) {
      console.error(`relay: not JSON: ${error.message}`);
      return;
    }
    const request = http.get({ agent, hostname: api.hostname, port: api.port, path: `/devices/${encodeURIComponent(reading.device)}` }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          console.error(`relay: GET /devices/${reading.device} answered ${res.statusCode}`);
          return;
        }
        let info;
        try {
          info = JSON.parse(text);
        } catch (error) {
          console.error(`relay: response not JSON: ${error.message}`);
          return;
        }
        client.publish('load/out', JSON.stringify({ device: reading.device, seq: reading.seq, location: info.location }), { qos: 1 });
      });
    });
    request.on('error', (error) => console.error(`relay: GET failed: ${error.message}`));
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true); // TCP no-delay, as every process of the benchmark
    client.subscribe('load/in', { qos: 1 }, (error) => {
      if (error) {
        console.error(`relay: subscribe failed: ${error.message}`);
        process.exit(1);
      }
      process.stdout.write('ready\n');
    });
  });
  process.on('SIGTERM', () => {
    agent.destroy();
    client.end(false, () => process.exit(0));
  });
}

/**
 * The hand-written webhook relay: a node:http server on a free 127.0.0.1 port; for each
 * `POST /hooks/readings/<device>` it JSON-parses the body and publishes {device, seq} to load/out
 * at QoS 1 with mqtt.js, and answers 204 in the publish callback, i.e. once the broker
 * acknowledged the message (PUBACK): the same guarantee as mqflow's endpoint (a 2xx means the
 * message reached the broker; a crash before the PUBACK leaves the sender without an answer, so
 * it can send again). A body that is not JSON gets 400, a failed publish 500, anything else 404.
 * Nothing bounds the requests in progress; no body size limit, no timeouts beyond node:http's
 * defaults, no checks beyond parsing: the least a programmer would write for this guarantee.
 * Prints "ready <port>" once connected to the broker and listening.
 *
 *   node bench/http.js --role hook-relay <mqttUrl>
 */
function hookRelayRole([url]) {
  const client = connectOrExit(url, 'hook-relay');
  const answer = (res, status) => {
    res.writeHead(status, { 'content-length': 0 });
    res.end();
  };
  const server = http.createServer((req, res) => {
    const m = /^\/hooks\/readings\/([^/?#]+)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || m === null) {
      req.resume();
      answer(res, 404);
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let device;
      let reading;
      try {
        device = decodeURIComponent(m[1]);
        reading = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        answer(res, 400);
        return;
      }
      client.publish('load/out', JSON.stringify({ device, seq: reading?.seq }), { qos: 1 }, (error) => {
        if (error) console.error(`hook-relay: publish failed: ${error.message}`);
        answer(res, error ? 500 : 204);
      });
    });
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true); // TCP no-delay, as every process of the benchmark
    if (!server.listening) server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close();
    client.end(false, () => process.exit(0));
  });
}

/**
 * The load: `count` QoS 1 readings {"device": "d<seq % 50>", "seq": seq}, seq 1…count, to
 * load/in as fast as the broker acknowledges them, at most `window` awaiting their PUBACK
 * (bench/_load.js's maximum-rate loop). Prints {sent, ms, startedAt} (startedAt: monotonic ms).
 *
 *   node bench/http.js --role load <mqttUrl> <count> [window]
 */
function loadRole([url, countText, windowText]) {
  const count = Number(countText);
  const windowSize = Number(windowText ?? WINDOW);
  let finished = false;
  const client = connectOrExit(url, 'load', () => finished);
  client.on('connect', () => {
    client.stream.setNoDelay?.(true);
    const startedAt = monotonicMs();
    const started = performance.now();
    let next = 1;
    let done = 0;
    let inFlight = 0;
    const pump = () => {
      while (inFlight < windowSize && next <= count) {
        inFlight += 1;
        const seq = next++;
        client.publish('load/in', JSON.stringify({ device: `d${seq % DEVICES}`, seq }), { qos: 1 }, onSent);
      }
    };
    function onSent(error) {
      if (error) {
        console.error(`load: publish failed: ${error.message}`);
        process.exit(1);
      }
      inFlight -= 1;
      done += 1;
      if (done === count) {
        process.stdout.write(`${JSON.stringify({ sent: done, ms: performance.now() - started, startedAt })}\n`);
        finished = true;
        client.end(false, () => process.exit(0));
      } else if (inFlight <= windowSize / 2) setImmediate(pump);
    }
    pump();
  });
}

/**
 * The webhook load: `count` requests `POST <origin>/hooks/readings/d<seq % 50>` with the body
 * {"seq": seq} (application/json), seq 1…count, through an undici Pool of `connections`
 * keep-alive connections, one request in flight per connection. Every answer must be 2xx: the
 * first other status (or a failed request) prints it with its body and exits 1. Prints {sent, ms,
 * startedAt, statuses, p50Ms, p99Ms} (startedAt: monotonic ms; latencies per request).
 *
 *   node bench/http.js --role post <origin> <count> [connections]
 */
async function postRole([origin, countText, connectionsText]) {
  const count = Number(countText);
  const connections = Number(connectionsText ?? HOOK_CONNECTIONS);
  const { Pool } = await import('undici');
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const headers = { 'content-type': 'application/json' };
  const latencies = new Float64Array(count);
  const statuses = {};
  let next = 1;
  const worker = async () => {
    while (next <= count) {
      const seq = next++;
      const sentAt = performance.now();
      let statusCode;
      let text;
      try {
        const response = await pool.request({ method: 'POST', path: `/hooks/readings/d${seq % DEVICES}`, headers, body: JSON.stringify({ seq }) });
        statusCode = response.statusCode;
        text = await response.body.text();
      } catch (error) {
        console.error(`post: request ${seq} failed: ${error.message}`);
        process.exit(1);
      }
      latencies[seq - 1] = performance.now() - sentAt;
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (statusCode < 200 || statusCode > 299) {
        console.error(`post: request ${seq} answered ${statusCode}: ${text.slice(0, 500)}`);
        process.exit(1);
      }
    }
  };
  const startedAt = monotonicMs();
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(connections, count) }, worker));
  const ms = performance.now() - started;
  latencies.sort();
  const at = (q) => latencies[Math.min(count - 1, Math.floor(q * count))];
  process.stdout.write(`${JSON.stringify({ sent: count, ms, startedAt, statuses, p50Ms: at(0.5), p99Ms: at(0.99) })}\n`);
  await pool.close();
  process.exit(0);
}

/**
 * The sink: subscribes load/out at QoS 1, checks each output ({device: "d<seq % 50>", seq,
 * location as the API answers}; in mode webhook exactly {device: "d<seq % 50>", seq}) and counts
 * distinct seqs. Prints "ready" once subscribed, then one JSON line when every seq arrived or
 * nothing arrived for `idleMs` (60 s before the first).
 *
 *   node bench/http.js --role sink <mqttUrl> <expected> [idleMs] [enrich|webhook]
 */
function sinkRole([url, expectedText, idleText, mode = 'enrich']) {
  const expected = Number(expectedText);
  const idleMs = Number(idleText ?? IDLE_MS);
  const webhook = mode === 'webhook';
  const seen = new Uint8Array(expected + 1);
  let received = 0;
  let distinct = 0;
  let duplicates = 0;
  let invalid = 0;
  let firstInvalid;
  let firstAt = 0;
  let lastAt = 0;
  let timer;
  let finished = false;
  const client = connectOrExit(url, 'sink', () => finished);
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const missing = [];
    for (let seq = 1; seq <= expected && missing.length < 10; seq++) if (seen[seq] === 0) missing.push(seq);
    process.stdout.write(`${JSON.stringify({ received, distinct, duplicates, invalid, firstInvalid, missing, firstAt, lastAt })}\n`);
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
    const seq = body?.seq;
    const extra = webhook ? Object.keys(body ?? {}).length !== 2 : body?.location !== locationOf(body?.device);
    if (!Number.isInteger(seq) || seq < 1 || seq > expected || body.device !== `d${seq % DEVICES}` || extra) {
      invalid += 1;
      firstInvalid ??= payload.toString().slice(0, 200);
      return;
    }
    received += 1;
    if (seen[seq] === 0) {
      seen[seq] = 1;
      distinct += 1;
    } else duplicates += 1;
    if (distinct === expected) finish();
    else if ((received & 255) === 1) arm(idleMs);
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true);
    client.subscribe('load/out', { qos: 1 }, (error) => {
      if (error) {
        console.error(`sink: subscribe failed: ${error.message}`);
        process.exit(1);
      }
      arm(60_000);
      process.stdout.write('ready\n');
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The benchmark.
// ---------------------------------------------------------------------------------------------



/**
 * Read and write system calls (/proc/<pid>/io, all threads) and voluntary context switches of the
 * main thread (/proc/<pid>/status: how often the event loop went to sleep) of one process.
 */
function ioCounters(pid) {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (text, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
  return { reads: field(io, 'syscr'), writes: field(io, 'syscw'), sleeps: field(status, 'voluntary_ctxt_switches') };
}

/** Starts the API server child; returns { child, origin }. */
async function startApi() {
  const child = track(spawn(process.execPath, [SELF, '--role', 'server'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d.toString()));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API server did not start in 10 s: ${err}`)), 10_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`API server exited (${code ?? signal}) before listening: ${err}`));
    });
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  const origin = `http://127.0.0.1:${port}`;
  return {
    child,
    origin,
    requests: async () => (await (await fetch(`${origin}/stats`)).json()).requests,
    stop: () => {
      child.stdin.end();
      return stopChild(child, 'SIGTERM', 5000);
    },
  };
}

/**
 * Starts a system under test; resolves once its load/in subscription was acknowledged (enrich),
 * or once it listens and its broker connection is up (webhook; `sut.hookOrigin` is where it listens).
 */
async function startSystem(system, { scenario, url, api, work, run, nodeRed, profileDir }) {
  const dir = join(work, `${scenario}-${system.name.replace(/\W+/g, '-')}-${run}`);
  mkdirSync(dir, { recursive: true });
  if (scenario === 'webhook') return startWebhookSystem(system, { url, dir, nodeRed, profileDir });
  let sut;
  if (system.kind === 'relay') {
    const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
    sut = spawnNode([...prof, SELF, '--role', 'relay', url, api.origin], { ready: (s) => s.includes('ready\n'), label: system.name });
  } else if (system.kind === 'nodered') {
    const { nodeRedSystem } = await import('./_nodered.js');
    const { args, ready, env } = await nodeRedSystem({ redJs: nodeRed.redJs, dir, system: 'http', qos: 1, url, apiUrl: api.origin });
    sut = spawnNode(args, { ready, env, label: system.name, timeoutMs: 60_000 });
  } else {
    writeFileSync(join(dir, 'flow.yaml'), flowYaml(system.tuned === true));
    const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
    sut = spawnNode([...prof, MQFLOW, 'run', dir, '--admin', '127.0.0.1:0', '--no-pretty', '--log-level', 'info'], {
      ready: (s) => s.includes('"event":"subscribed"'),
      env: { MQTT_URL: url, API_URL: api.origin },
      label: system.name,
    });
  }
  track(sut.child);
  await sut.started;
  return sut;
}

async function startWebhookSystem(system, { url, dir, nodeRed, profileDir }) {
  const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  let sut;
  let port;
  if (system.kind === 'relay') {
    sut = spawnNode([...prof, SELF, '--role', 'hook-relay', url], { ready: (s) => /ready \d+\n/.test(s), label: system.name });
  } else if (system.kind === 'nodered') {
    port = await freePort();
    const { nodeRedSystem } = await import('./_nodered.js');
    const { args, ready } = await nodeRedSystem({ redJs: nodeRed.redJs, dir, system: 'webhook', qos: 1, url, httpPort: port });
    sut = spawnNode(args, { ready, label: system.name, timeoutMs: 60_000 });
  } else {
    port = await freePort();
    writeFileSync(join(dir, 'flow.yaml'), webhookFlowYaml(system.tuned === true));
    sut = spawnNode([...prof, MQFLOW, 'run', dir, '--admin', '127.0.0.1:0', '--no-pretty', '--log-level', 'info'], {
      ready: (s) => s.includes('"event":"listening"') && s.includes('"event":"connected"'),
      env: { MQTT_URL: url, HOOK_PORT: String(port) },
      label: system.name,
    });
  }
  track(sut.child);
  await sut.started;
  port ??= Number(/ready (\d+)\n/.exec(sut.out.stdout)[1]);
  return Object.assign(sut, { hookOrigin: `http://127.0.0.1:${port}` });
}

/** One measured run of one system in one scenario. */
async function measure(system, { scenario = 'enrich', url, api, work, messages, run, nodeRed, profileDir }) {
  const webhook = scenario === 'webhook';
  let sut;
  let sink;
  let load;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${system.name}: run not finished after ${RUN_TIMEOUT_MS / 1000} s${sut ? `; its output:\n${sut.out.stderr}${sut.out.stdout.slice(-3000)}` : ''}`)), RUN_TIMEOUT_MS);
  });
  try {
    const body = async () => {
      sut = await startSystem(system, { scenario, url, api, work, run, nodeRed, profileDir });
      sink = spawnNode([SELF, '--role', 'sink', url, String(messages), String(IDLE_MS), scenario], { ready: (o) => o.includes('ready\n'), label: 'sink' });
      track(sink.child);
      await sink.started;
      const requestsBefore = webhook ? 0 : await api.requests();
      // Only what the system logs while measured counts as a warning (Node-RED warns at start-up).
      const logFrom = sut.out.stdout.length;
      const cpuBefore = treeCpuMicros(sut.child.pid);
      const ioBefore = ioCounters(sut.child.pid);
      const apiCpuBefore = webhook ? undefined : treeCpuMicros(api.child.pid);
      const apiIoBefore = webhook ? undefined : ioCounters(api.child.pid);
      const loadArgs = webhook ? ['post', sut.hookOrigin, String(messages), String(HOOK_CONNECTIONS)] : ['load', url, String(messages), String(WINDOW)];
      load = spawnNode([SELF, '--role', ...loadArgs], { label: 'load' });
      track(load.child);
      const loadExit = await load.exited;
      if (loadExit.code !== 0) throw new Error(`load generator failed (${loadExit.code ?? loadExit.signal}): ${load.out.stderr}\n${system.name}'s output (end):\n${sut.out.stderr}${sut.out.stdout.slice(-3000)}`);
      const loadResult = JSON.parse(load.out.stdout.trim().split('\n').pop());
      const sinkExit = await sink.exited;
      if (sinkExit.code !== 0) throw new Error(`sink failed (${sinkExit.code ?? sinkExit.signal}): ${sink.out.stderr}`);
      const cpuAfter = treeCpuMicros(sut.child.pid);
      const ioAfter = ioCounters(sut.child.pid);
      const apiCpuAfter = webhook ? undefined : treeCpuMicros(api.child.pid);
      const apiIoAfter = webhook ? undefined : ioCounters(api.child.pid);
      const requests = webhook ? undefined : (await api.requests()) - requestsBefore;
      const result = JSON.parse(sink.out.stdout.trim().split('\n').pop());
      const problems = sut.out.stdout.slice(logFrom).split('\n').filter((l) => /"level":(40|50|60)/.test(l) || /message-failed/.test(l) || /\[(warn|error)\]/.test(l));
      const inputs = Math.max(1, result.distinct);
      return {
        scenario,
        system: system.name,
        round: run,
        sent: loadResult.sent,
        loadMs: loadResult.ms,
        received: result.received,
        distinct: result.distinct,
        duplicates: result.duplicates,
        invalid: result.invalid,
        firstInvalid: result.firstInvalid,
        missing: result.missing,
        lost: loadResult.sent - result.distinct,
        // load start → last output at the sink (the same monotonic clock in every process)
        msgPerSec: result.distinct / ((result.lastAt - loadResult.startedAt) / 1000),
        spanMs: result.lastAt - loadResult.startedAt,
        cpuUsPerMsg: (cpuAfter.us - cpuBefore.us) / inputs,
        cpuMs: (cpuAfter.us - cpuBefore.us) / 1000,
        // the kernel's part of the system's CPU: mostly the socket system calls (on loopback a write
        // also runs the receiving side's TCP processing and wakes the receiver)
        sysShare: (cpuAfter.sysUs - cpuBefore.sysUs) / Math.max(1, cpuAfter.us - cpuBefore.us),
        processes: cpuAfter.processes,
        // per message: the system's read and write system calls and event-loop sleeps, and the API server's
        readsPerMsg: (ioAfter.reads - ioBefore.reads) / inputs,
        writesPerMsg: (ioAfter.writes - ioBefore.writes) / inputs,
        sleepsPerMsg: (ioAfter.sleeps - ioBefore.sleeps) / inputs,
        ...(webhook
          ? { statuses: loadResult.statuses, p50Ms: loadResult.p50Ms, p99Ms: loadResult.p99Ms }
          : { apiSleepsPerMsg: (apiIoAfter.sleeps - apiIoBefore.sleeps) / inputs, apiCpuUsPerMsg: (apiCpuAfter.us - apiCpuBefore.us) / inputs, apiRequests: requests }),
        // the measured window on the monotonic clock (--profile keeps only the samples inside it)
        windowMs: [loadResult.startedAt, result.lastAt],
        rssMb: peakRssMb(sut.child.pid),
        sutWarnings: problems.length,
        sutFirstWarning: problems[0]?.slice(0, 600),
        sutStderr: sut.out.stderr.trim().slice(0, 600) || undefined,
        sutTail: result.distinct === loadResult.sent ? undefined : sut.out.stdout.slice(-3000),
      };
    };
    return await Promise.race([body(), timeout]);
  } finally {
    clearTimeout(timer);
    for (const p of [load, sink, sut]) if (p) await stopChild(p.child);
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
  const scenario = text('--scenario') ?? process.env.MQFLOW_BENCH_HTTP_SCENARIO ?? 'both';
  if (![...SCENARIOS, 'both'].includes(scenario)) throw new Error(`--scenario takes ${SCENARIOS.join(', ')} or both (got ${scenario})`);
  const profile = argv.includes('--profile') ? (text('--profile')?.startsWith('-') === false ? text('--profile') : 'mqflow default') : undefined;
  return {
    messages: positive('--messages', 'MQFLOW_BENCH_HTTP_MESSAGES', 10_000),
    rounds: positive('--rounds', 'MQFLOW_BENCH_ROUNDS', 3),
    peers,
    systems: only === undefined ? all : all.filter((s) => only.includes(s.name)),
    scenarios: scenario === 'both' ? SCENARIOS : [scenario],
    profile,
  };
}

/** Three decimals: a target's value is shown as compared (0.3548 is not ≤ 0.35). */
const r3 = (x) => Math.round(x * 1000) / 1000;
const stat = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length });
/** "webhook " before the webhook scenario's metric, target and system names; nothing for enrich (its names predate the scenarios). */
const prefixOf = (scenario) => (scenario === 'webhook' ? 'webhook ' : '');

/** Medians per system, and each mqflow system ÷ the relay and ÷ Node-RED (ratio of medians, and per round). */
function tabulate(runs, systems, scenario) {
  const keys = ['msgPerSec', 'cpuUsPerMsg', 'sysShare', 'writesPerMsg', 'readsPerMsg', 'sleepsPerMsg', 'rssMb', 'duplicates', ...(scenario === 'webhook' ? ['p50Ms', 'p99Ms'] : ['apiCpuUsPerMsg', 'apiSleepsPerMsg'])];
  const table = systems.map((s) => {
    const rs = runs.filter((r) => r.system === s.name);
    return { system: s.name, kind: s.kind, ...Object.fromEntries(keys.map((k) => [k, stat(rs.map((r) => r[k]))])), warnings: rs.reduce((n, r) => n + r.sutWarnings, 0) };
  });
  const row = (n) => table.find((t) => t.system === n);
  const ratios = [];
  for (const t of table.filter((x) => x.kind === 'mqflow')) {
    for (const versus of ['relay', 'node-red']) {
      const base = row(versus);
      if (base === undefined) continue;
      const paired = (key) =>
        runs
          .filter((r) => r.system === t.system)
          .map((r) => {
            const b = runs.find((x) => x.system === versus && x.round === r.round);
            return b === undefined ? undefined : r[key] / b[key];
          })
          .filter((x) => x !== undefined);
      ratios.push({ system: t.system, versus, throughput: t.msgPerSec.median / base.msgPerSec.median, cpu: t.cpuUsPerMsg.median / base.cpuUsPerMsg.median, pairedThroughput: paired('msgPerSec'), pairedCpu: paired('cpuUsPerMsg') });
    }
  }
  const prefix = prefixOf(scenario);
  const targets = [];
  for (const r of ratios) {
    if (r.versus === 'relay') targets.push({ target: `${prefix}${r.system}: CPU/msg ≤ ${RELAY_CPU_TARGET} × relay`, value: r3(r.cpu), met: r.cpu <= RELAY_CPU_TARGET });
    else {
      targets.push({ target: `${prefix}${r.system}: throughput ≥ Node-RED`, value: r3(r.throughput), met: r.throughput >= 1 });
      targets.push({ target: `${prefix}${r.system}: CPU/msg ≤ ${NODE_RED_CPU_TARGET} × Node-RED`, value: r3(r.cpu), met: r.cpu <= NODE_RED_CPU_TARGET });
    }
  }
  return { table, ratios, targets };
}

/** The rounds of one scenario: every system once per round, the order alternating; throws on a wrong run. */
async function runScenario(scenario, systems, { log, url, api, work, messages, rounds, nodeRed }) {
  const runs = [];
  const tag = scenario === 'webhook' ? 'http: webhook' : 'http:';
  for (let round = 1; round <= rounds; round++) {
    // Alternate the order so no system always runs first (or last) in a round.
    const order = round % 2 === 1 ? systems : [...systems].reverse();
    for (const system of order) {
      const m = await measure(system, { scenario, url, api, work, messages, run: round, nodeRed });
      runs.push(m);
      const per = scenario === 'webhook' ? 'req' : 'msg';
      const common = `${r1(m.cpuUsPerMsg)} µs CPU/${per} (${Math.round(m.sysShare * 100)}% kernel, ${m.processes} process${m.processes === 1 ? '' : 'es'}), ${r2(m.writesPerMsg)} writes, ${r2(m.readsPerMsg)} reads, ${r2(m.sleepsPerMsg)} sleeps per ${per}`;
      const specific =
        scenario === 'webhook'
          ? `request latency p50 ${r2(m.p50Ms)} ms, p99 ${r2(m.p99Ms)} ms, answers ${Object.entries(m.statuses).map(([k, v]) => `${v}×${k}`).join(' ')}`
          : `API server ${r1(m.apiCpuUsPerMsg)} µs/msg, ${r2(m.apiSleepsPerMsg)} sleeps/msg, ${m.apiRequests} requests`;
      log(`${tag} round ${round} ${system.name.padEnd(15)} ${String(Math.round(m.msgPerSec)).padStart(6)} ${scenario === 'webhook' ? 'req/s' : 'msg/s'}, ${common}; ${specific}; RSS ${r1(m.rssMb)} MB, lost ${m.lost}, dup ${m.duplicates}, warnings ${m.sutWarnings}`);
      if (m.sutFirstWarning) log(`${tag}   first ${system.name} warning/error: ${m.sutFirstWarning}`);
      if (m.sutStderr) log(`${tag}   ${system.name} stderr: ${m.sutStderr}`);
      if (m.lost !== 0) throw new Error(`${scenario} ${system.name}: lost ${m.lost} of ${m.sent} messages (first missing seqs ${m.missing.join(', ')}); the end of its output:\n${m.sutTail}`);
      if (m.invalid !== 0) throw new Error(`${scenario} ${system.name}: ${m.invalid} wrong outputs, the first: ${m.firstInvalid}`);
      if (scenario === 'enrich' && m.apiRequests < m.sent) throw new Error(`${system.name}: ${m.apiRequests} API requests for ${m.sent} messages`);
    }
  }
  return runs;
}

const WORKLOAD = {
  enrich: (messages, rounds) => ({
    text: `${messages} QoS 1 messages {device, seq} from ${DEVICES} devices per run, window ${WINDOW}, one GET per message to a local node:http API (child process), ${rounds} alternating rounds, each system a fresh process per run; throughput = messages ÷ (last output − load start)`,
    detail: {
      messages,
      rounds,
      devices: DEVICES,
      qos: 1,
      window: WINDOW,
      api: 'node:http child process, GET /devices/:id → {"device","location"} (~40 bytes) at once, keep-alive',
      mqflowTrigger: 'default (serial, queueSize 100); "tuned": processing concurrent, maxConcurrency 32',
      relay: 'mqtt.js (PUBACK on receipt) + node:http Agent keepAlive, maxSockets 10',
      mosquitto: 'max_queued_messages 0 (unbounded), max_inflight_messages 20, set_tcp_nodelay true',
      throughput: 'messages ÷ (last output at the sink − load start)',
      cpu: 'system process and descendants, utime + stime (+ reaped children), load start → sink done',
    },
  }),
  webhook: (messages, rounds) => ({
    text: `${messages} POSTs {"seq": n} to /hooks/readings/d<n % ${DEVICES}> per run from an undici Pool in its own process (${HOOK_CONNECTIONS} keep-alive connections, ${HOOK_CONNECTIONS} in flight, every answer checked 2xx), each published {device, seq} to load/out at QoS 1; ${rounds} alternating rounds, each system a fresh process per run; throughput = requests ÷ (last output at the sink − first send); CPU of the system's processes only (not the load's, not the broker's)`,
    detail: {
      messages,
      rounds,
      devices: DEVICES,
      qos: 1,
      connections: HOOK_CONNECTIONS,
      inFlight: HOOK_CONNECTIONS,
      load: 'undici Pool (pipelining 1) in a child process, POST application/json {"seq": n}; any non-2xx fails the run',
      mqflowEndpoint: 'default (serial, queueSize 100); "tuned": processing concurrent, maxConcurrency 32; answers 204 after the PUBACK',
      relay: 'node:http server + mqtt.js publish QoS 1, 204 in the publish callback (after the PUBACK)',
      nodeRed: 'http in → change (JSONata) → mqtt out QoS 1 and http response 204: answers before the PUBACK',
      mosquitto: 'max_queued_messages 0 (unbounded), max_inflight_messages 20, set_tcp_nodelay true',
      throughput: 'requests ÷ (last output at the sink − first send)',
      cpu: 'system process and descendants, utime + stime (+ reaped children), load start → sink done',
    },
  }),
};

/** Writes one scenario's results file; returns its rows and summary lines. */
function report(scenario, runs, systems, { messages, rounds, loadAverage, code, machine, versions }) {
  const { table, ratios, targets } = tabulate(runs, systems, scenario);
  const workload = WORKLOAD[scenario](messages, rounds);
  const results = { benchmark: name, scenario, date: new Date().toISOString(), machine, code, versions, loadAverage, workload: workload.detail, table, ratios, targets, runs };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS[scenario], `${JSON.stringify(results, null, 2)}\n`);

  const prefix = prefixOf(scenario);
  const unit = scenario === 'webhook' ? 'request' : 'message';
  const rows = [];
  for (const t of table) {
    rows.push({ metric: `${prefix}${t.system}: throughput`, ...t.msgPerSec, unit: scenario === 'webhook' ? 'req/s' : 'msg/s' });
    rows.push({ metric: `${prefix}${t.system}: CPU per ${unit}`, ...t.cpuUsPerMsg, unit: 'µs', note: `kernel ${Math.round(t.sysShare.median * 100)}%; per ${unit} ${r2(t.writesPerMsg.median)} write and ${r2(t.readsPerMsg.median)} read syscalls, ${r2(t.sleepsPerMsg.median)} event-loop sleeps` });
    if (scenario === 'webhook') rows.push({ metric: `${prefix}${t.system}: request latency p50`, ...t.p50Ms, unit: 'ms', note: `p99 ${r2(t.p99Ms.median)} ms (median of runs), at the load, ${HOOK_CONNECTIONS} in flight` });
    else rows.push({ metric: `${prefix}${t.system}: API server CPU per message`, ...t.apiCpuUsPerMsg, unit: 'µs', note: `not counted in the system's; ${r2(t.apiSleepsPerMsg.median)} sleeps per message` });
    rows.push({ metric: `${prefix}${t.system}: peak RSS`, ...t.rssMb, unit: 'MB' });
  }
  const list = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
  const lead = scenario === 'webhook' ? 'webhook: ' : '';
  const summary = [
    ...ratios.map((r) => `${lead}${r.system} ÷ ${r.versus}: CPU per ${unit} ×${r2(r.cpu)} (per round ${list(r.pairedCpu)}), throughput ×${r2(r.throughput)} (per round ${list(r.pairedThroughput)})`),
    ...targets.map((t) => `${lead}target ${t.met ? 'met' : 'MISSED'}: ${t.target} (${t.value})`),
  ];
  if (scenario === 'webhook' && systems.some((s) => s.kind === 'nodered')) summary.push(`${lead}Node-RED answers 204 before the broker acknowledged the publish (its http response node does not wait for mqtt out); mqflow and the relay answer after the PUBACK`);
  summary.push(
    `${lead}workload: ${workload.text}`,
    `${lead}load average (1/5/15 min) on ${machine.cpus} CPUs: before ${loadAverage.before.join(' ')}, after ${loadAverage.after.join(' ')}; load, sink, broker${scenario === 'enrich' ? ', API server' : ''} and system share the CPUs`,
    `${lead}code: commit ${code.commit}${code.srcModified ? ' with uncommitted changes in src/' : ''}; results written to ${RESULTS[scenario]}`,
  );
  return { rows, summary };
}

/** Runs the benchmark; throws when a run lost a message, produced a wrong output, got a non-2xx answer, or sent a request too many or too few. */
export async function run({ log = console.log, argv = [] } = {}) {
  const { messages, rounds, systems, scenarios } = optionsFrom(argv);
  const { codeVersion, machine } = await import('./loader.js');
  const nodeRed = systems.some((s) => s.kind === 'nodered') ? await (await import('./_nodered.js')).ensureNodeRed(log) : undefined;
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-http-'));
  // dist/ is what runs: record the commit it was (presumably) built from before the runs.
  const code = codeVersion();
  const context = { messages, rounds, code, machine: machine(), versions: { mosquitto: mosquittoVersion(), nodeRed: nodeRed?.version } };
  let broker;
  let api;
  const rows = [];
  const summary = [];
  const signalCleanUp = cleanUpOnSignal(work, () => broker);
  try {
    broker = await startBroker(work);
    if (scenarios.includes('enrich')) api = await startApi();
    for (const scenario of scenarios) {
      const before = loadavg();
      if (scenario === 'enrich') log(`http: Mosquitto ${mosquittoVersion()} at ${broker.url}, API server (node:http, pid ${api.child.pid}) at ${api.origin}; ${messages} QoS 1 messages from ${DEVICES} devices per run, window ${WINDOW}, ${rounds} rounds; systems ${systems.map((s) => s.name).join(', ')}${nodeRed ? ` (Node-RED ${nodeRed.version})` : ''}`);
      else log(`http: webhook: Mosquitto ${mosquittoVersion()} at ${broker.url}; ${messages} POSTs per run from ${DEVICES} devices, ${HOOK_CONNECTIONS} connections and in flight, ${rounds} rounds; systems ${systems.map((s) => s.name).join(', ')}${nodeRed ? ` (Node-RED ${nodeRed.version})` : ''}`);
      const runs = await runScenario(scenario, systems, { log, url: broker.url, api, work, messages, rounds, nodeRed });
      const outcome = report(scenario, runs, systems, { ...context, loadAverage: { before: before.map(r2), after: loadavg().map(r2) } });
      rows.push(...outcome.rows);
      summary.push(...outcome.summary);
    }
  } finally {
    signalCleanUp();
    for (const child of live) if (child !== api?.child) child.kill('SIGKILL');
    await api?.stop();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return { rows, summary };
}


/** Runs one mqflow system (or the relay, for comparison) once under --cpu-prof and prints the top self-time functions of the measured window. */
async function profile(systemName, { messages, scenarios }) {
  const scenario = scenarios[0];
  const system = SYSTEMS.find((s) => s.name === systemName);
  if (system === undefined) throw new Error(`--profile takes ${SYSTEMS.map((s) => `"${s.name}"`).join(', ')}`);
  const { summarise } = await import('./_cpuprofile-summary.js');
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-http-prof-'));
  let broker;
  let api;
  try {
    broker = await startBroker(work);
    if (scenario === 'enrich') api = await startApi();
    const profileDir = join(work, 'prof');
    const m = await measure(system, { scenario, url: broker.url, api, work, messages, run: 1, profileDir });
    console.log(`profiled run (${scenario}, ${system.name}): ${Math.round(m.msgPerSec)} msg/s, ${r1(m.cpuUsPerMsg)} µs CPU/msg of the process (profiling adds overhead), lost ${m.lost}`);
    const file = join(profileDir, readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')));
    const kept = join(tmpdir(), `mqflow-bench-http-${scenario}-${system.name.replace(/\W+/g, '-')}.cpuprofile`);
    copyFileSync(file, kept);
    const full = JSON.parse(readFileSync(file, 'utf8'));
    const whole = summarise(full);
    const s = summarise(cpuProfileWindow(full, m.windowMs[0] * 1000, m.windowMs[1] * 1000));
    const perMsg = (ms) => `${((ms * 1000) / m.distinct).toFixed(2).padStart(7)} µs/msg`;
    console.log(`profile: whole run ${whole.busyMs} ms busy of ${whole.totalMs} ms (with start-up); measured window (load start → last output) ${s.totalMs} ms, ${s.busyMs} ms busy on the main thread = ${perMsg(s.busyMs).trim()}; shares are of the window's busy time; kept as ${kept}`);
    const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
    for (const [title, entries] of [['self time by group', s.groups], ['self time by area', s.areas], ['self time by function', s.functions], ['total (inclusive) time of mqflow functions', s.inclusive]]) {
      console.log(`\n${title}`);
      for (const r of entries.slice(0, 25)) console.log(`  ${String(r.ms).padStart(6)} ms ${pct(r.share)} ${perMsg(r.ms)}  ${r.name}`);
    }
  } finally {
    for (const child of live) if (child !== api?.child) child.kill('SIGKILL');
    await api?.stop();
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const role = argv[0] === '--role' ? argv[1] : undefined;
  const roles = { server: serverRole, relay: relayRole, load: loadRole, sink: sinkRole, 'hook-relay': hookRelayRole, post: postRole };
  if (role !== undefined) {
    if (roles[role] === undefined) {
      console.error(`unknown role ${role}: ${Object.keys(roles).join(', ')}`);
      process.exitCode = 2;
    } else roles[role](argv.slice(2));
  } else {
    try {
      const options = optionsFrom(argv);
      if (options.profile !== undefined) await profile(options.profile, options);
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
