/**
 * Payload codec benchmark (issue: Sparkplug B, Protobuf, CBOR): what decoding Sparkplug B costs,
 * as ratios to baselines measured in the same run.
 *
 * 1. decode (in this process): one edge node's NBIRTH and a DBIRTH declaring 20 metrics with
 *    aliases (Float ×5, Double ×4, Int32 ×3, Int64 ×2, UInt64 ×2, Boolean ×2, String ×2), encoded
 *    by Eclipse Tahu's JS encoder (sparkplug-payload), then DDATA payloads with the 20 metrics by
 *    alias only (no names; Tahu writes each metric's datatype), values that change per message
 *    and a timestamp per metric (a pool of DECODE_POOL different payloads, cycled). Per message:
 *      mqflow         sparkplugSession(openStore).decode(bytes, topic, settings, hooks, now) of
 *                     dist/codecs/sparkplug/session.js over a MemoryStore, sequence 'ignore' (so
 *                     re-decoding the pool reports no gaps): the JSON a service sees, names
 *                     resolved from the BIRTH's aliases, datatypes applied
 *      protobufjs     Payload.decode(bytes) with the same schema (dist/codecs/sparkplug/schema.js)
 *      protobufjs+toObject   Payload.toObject(Payload.decode(bytes), { longs: String }): decoded
 *                     to plain objects, no alias resolution
 *    Each variant decodes `decodes` messages per round; rounds alternate the order; after a
 *    warm-up. Reported: median µs per message, and mqflow ÷ each baseline (ratio of medians, and
 *    per round). Every decoded message is checked first (names, datatypes, values), and the
 *    benchmark throws when one is wrong or the session reported anything.
 *
 * 2. flows (through one Mosquitto and `mqflow run`, default options, QoS 1): the same transform
 *    `{ "device": device, "values": $merge(metrics.{ name: value }) }`, then a publish to
 *    bench/out/{{ device }}, behind three triggers:
 *      sparkplugB   payload: sparkplugB on spBv1.0/bench/DDATA/+/+: the DDATA above, one edge node,
 *                   one device, seq 2, 3, … (mod 256) after the NBIRTH (seq 0) and DBIRTH (seq 1),
 *                   which this benchmark sends before the load, to a second trigger of the flow
 *                   (payload: sparkplugB on the NBIRTH and DBIRTH topics) whose service publishes
 *                   to bench/born; it waits for both
 *      json         the default payload (JSON) on bench/json/+/+: each DDATA's content as JSON,
 *                   exactly the object mqflow's Sparkplug decode gives for it (group, messageType,
 *                   edgeNode, device, timestamp, seq, the 20 metrics with name, alias, datatype,
 *                   value, timestamp)
 *      cbor         payload: cbor on bench/cbor/+/+: the same object encoded by cbor-x (plain
 *                   CBOR maps: useRecords false)
 *    Every flow has both triggers (the births trigger idles in the json and cbor flows), so the
 *    processes differ only in the decoding. A run: a fresh mqflow process; the sink (a role of this
 *    file) subscribes bench/out/#; the load (a role) publishes `messages` payloads at QoS 1 as fast
 *    as the broker takes them (at most WINDOW unacknowledged), read from a file written before.
 *    Throughput = (outputs − 1) ÷ (last output − first output) at the sink; CPU per message = the
 *    mqflow process tree's utime + stime (treeCpuMicros) from just before the load starts to after
 *    the sink is done, ÷ messages. The metric Counters/Cycles carries the message's number n, so
 *    the sink checks that every n arrived exactly once with 20 values; the output of n = 1 must be
 *    the same from the three flows. Rounds alternate the order of the variants. Reported: the
 *    medians, sparkplugB ÷ json and cbor ÷ json (ratio of medians, and per round).
 *
 *   npm run bench -- --only codecs
 *   node bench/codecs.js [--messages 20000] [--rounds 5] [--decodes 20000] [--decode-rounds 5]
 *                        [--variants sparkplugB,json,cbor] [--skip-flows] [--skip-decode]
 *                                                                      (after npm run build)
 *   MQFLOW_BENCH_CODECS_MESSAGES, MQFLOW_BENCH_ROUNDS and MQFLOW_BENCH_CODECS_DECODES set the same
 *   through run.js. Results: bench/results/codecs.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { cleanUpOnSignal, live, median, monotonicMs, mosquittoVersion, MQFLOW, peakRssMb, r1, r2, ROOT, spawnNode, startBroker, stopChild, track, treeCpuMicros } from './_harness.js';
import { codeVersion, machine } from './loader.js';

export const name = 'codecs';
export const description = 'Sparkplug B decode µs/msg vs protobufjs (in process); sparkplugB → JSON flow vs the JSON (and CBOR) flow: msg/s and CPU/msg at QoS 1';

const SELF = fileURLToPath(import.meta.url);
const DIST = join(ROOT, 'dist');
const RESULTS = join(ROOT, 'bench', 'results', 'codecs.json');
const require = createRequire(import.meta.url);

const QOS = 1;
/** Publishes of the load awaiting their PUBACK at most (as bench/_load.js's default at QoS 1). */
const WINDOW = 100;
const RUN_TIMEOUT_MS = 120_000;
/** How long the sink waits without an output (after the first) before it gives up. */
const IDLE_MS = 10_000;
/** Different DDATA payloads the decode benchmark cycles through (a power of two). */
const DECODE_POOL = 256;
const WARMUP_DECODES = 5000;

const GROUP = 'bench';
const EDGE = 'edge-1';
const DEVICE = 'press-1';
const T0 = 1_764_000_000_000;
const ID_METRIC = 'Counters/Cycles';
const TRANSFORM = '{ "device": device, "values": $merge(metrics.{ name: value }) }';
const SETTINGS = { store: 'memory', rebirthMs: 30_000, sequence: 'ignore' };

/** The 20 metrics: name, Sparkplug datatype, value of message n (n = 0 in the DBIRTH). */
const METRICS = [
  ['Inputs/Pressure', 'Float', (n) => 4 + (n % 100) / 64],
  ['Inputs/Temperature', 'Float', (n) => 180.5 + (n % 37) * 0.1],
  ['Inputs/Flow', 'Float', (n) => 12.75 + (n % 13) * 0.3],
  ['Inputs/Vibration', 'Float', (n) => 0.02 + (n % 11) / 1000],
  ['Inputs/Current', 'Float', (n) => 31.2 + (n % 29) / 8],
  ['Process/Setpoint', 'Double', () => 182.25],
  ['Process/Energy', 'Double', (n) => 125_431.0625 + n * 0.0417],
  ['Process/Position', 'Double', (n) => Math.sin(n / 50) * 250],
  ['Process/Speed', 'Double', (n) => 1450.5 + (n % 17) * 1.3],
  ['Status/Mode', 'Int32', (n) => n % 4],
  ['Status/Alarm Code', 'Int32', (n) => (n % 97 === 0 ? 1204 : 0)],
  ['Status/Offset', 'Int32', (n) => -((n % 50) + 1)],
  ['Counters/Run Time', 'Int64', (n) => 86_400_000 + n * 250],
  ['Counters/Rejects', 'Int64', (n) => Math.floor(n / 40)],
  [ID_METRIC, 'UInt64', (n) => n],
  ['Counters/Parts', 'UInt64', (n) => 4_000_000_000 + n * 3],
  ['Outputs/Running', 'Boolean', (n) => n % 500 !== 0],
  ['Outputs/Fault', 'Boolean', (n) => n % 97 === 0],
  ['Status/Operator', 'String', (n) => ['A. Moreau', 'K. Tanaka', 'R. Okafor'][Math.floor(n / 1000) % 3]],
  ['Status/Batch', 'String', (n) => `B-2025-${String(1000 + Math.floor(n / 250)).padStart(5, '0')}`],
];

/** The flow variants of part 2: the data trigger's topic filter, its payload setting, where the load publishes. */
const VARIANTS = [
  { name: 'sparkplugB', filter: `spBv1.0/${GROUP}/DDATA/+/+`, payload: 'sparkplugB', topic: `spBv1.0/${GROUP}/DDATA/${EDGE}/${DEVICE}` },
  { name: 'json', filter: 'bench/json/+/+', payload: undefined, topic: `bench/json/${EDGE}/${DEVICE}` },
  { name: 'cbor', filter: 'bench/cbor/+/+', payload: 'cbor', topic: `bench/cbor/${EDGE}/${DEVICE}` },
];

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

function tahu() {
  return require('sparkplug-payload').get('spBv1.0');
}

const birthTopic = (type) => `spBv1.0/${GROUP}/${type}/${EDGE}${type.startsWith('D') ? `/${DEVICE}` : ''}`;

/** The NBIRTH (seq 0, bdSeq 0) and the DBIRTH (seq 1) declaring the 20 metrics with aliases 1…20. */
function births() {
  const { encodePayload } = tahu();
  const nbirth = encodePayload({
    timestamp: T0,
    seq: 0,
    metrics: [
      { name: 'bdSeq', type: 'UInt64', value: 0 },
      { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
    ],
  });
  const dbirth = encodePayload({ timestamp: T0, seq: 1, metrics: METRICS.map(([metric, type, value], i) => ({ name: metric, alias: i + 1, type, value: value(0), timestamp: T0 })) });
  return { nbirth: Buffer.from(nbirth), dbirth: Buffer.from(dbirth) };
}

/** DDATA number n (n ≥ 1): the 20 metrics by alias only, seq n + 1 (mod 256), a timestamp per metric. */
function ddata(n) {
  const ts = T0 + n * 100;
  const bytes = tahu().encodePayload({ timestamp: ts, seq: (n + 1) % 256, metrics: METRICS.map(([, type, value], i) => ({ alias: i + 1, type, value: value(n), timestamp: ts })) });
  return Buffer.from(bytes);
}

async function distModules() {
  const load = (path) => import(pathToFileURL(join(DIST, path)).href);
  const [session, schema, openStore, memoryStore, cbor] = await Promise.all([
    load('codecs/sparkplug/session.js'),
    load('codecs/sparkplug/schema.js'),
    load('state/open-store.js'),
    load('state/memory-store.js'),
    load('codecs/cbor.js'),
  ]);
  return { sparkplugSession: session.sparkplugSession, Payload: schema.Payload, OpenStore: openStore.OpenStore, MemoryStore: memoryStore.MemoryStore, cbor: cbor.cbor };
}

/** A session of its own over a fresh memory store, with the births decoded; `events` counts its reports. */
async function newSession(dist, settings = SETTINGS) {
  const store = new dist.OpenStore('memory', new dist.MemoryStore(1_000_000), { maxKeyBytes: 1024, maxValueBytes: 65_536, lockTimeoutMs: 30_000, claimLeaseMs: 30_000 });
  const session = dist.sparkplugSession(store);
  const events = [];
  const hooks = {
    report: (event, node, detail) => events.push(`${event} ${node}: ${detail}`),
    rebirth: (topic) => events.push(`rebirth request to ${topic}`),
  };
  const { nbirth, dbirth } = births();
  await session.decode(nbirth, birthTopic('NBIRTH'), settings, hooks, Date.now());
  await session.decode(dbirth, birthTopic('DBIRTH'), settings, hooks, Date.now());
  return { session, hooks, events };
}

const close = (a, b) => a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)));

/** Throws unless `decoded` is DDATA number n as mqflow should give it. */
function checkDecoded(decoded, n) {
  if (decoded === null || typeof decoded !== 'object' || decoded instanceof Promise) throw new Error(`DDATA ${n}: the decode gave ${decoded instanceof Promise ? 'a promise' : JSON.stringify(decoded)}`);
  const where = `DDATA ${n}`;
  if (decoded.group !== GROUP || decoded.messageType !== 'DDATA' || decoded.edgeNode !== EDGE || decoded.device !== DEVICE) throw new Error(`${where}: wrong envelope ${JSON.stringify({ ...decoded, metrics: undefined })}`);
  if (decoded.seq !== (n + 1) % 256 || Number(decoded.timestamp) !== T0 + n * 100) throw new Error(`${where}: seq ${decoded.seq}, timestamp ${decoded.timestamp}`);
  if (!Array.isArray(decoded.metrics) || decoded.metrics.length !== METRICS.length) throw new Error(`${where}: ${decoded.metrics?.length} metrics`);
  METRICS.forEach(([metric, type, value], i) => {
    const m = decoded.metrics[i];
    const want = type === 'Float' ? Math.fround(value(n)) : value(n);
    const got = typeof m.value === 'string' && typeof want === 'number' ? Number(m.value) : m.value;
    if (m.name !== metric || m.datatype !== type || Number(m.alias) !== i + 1 || !close(got, want) || Number(m.timestamp) !== T0 + n * 100) {
      throw new Error(`${where}: metric ${i} is ${JSON.stringify(m)}; expected ${metric} (${type}, alias ${i + 1}) = ${JSON.stringify(want)}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Part 1: decode per message, in this process
// ---------------------------------------------------------------------------------------------

/** µs per message of `decode` over `count` messages of `pool`; `keep` keeps the results alive. */
function timeDecodes(decode, pool, count) {
  const mask = pool.length - 1;
  let keep = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) keep += decode(pool[i & mask]);
  const us = Number(process.hrtime.bigint() - started) / 1000 / count;
  if (keep !== count * METRICS.length) throw new Error(`decoded ${keep} metrics, ${count * METRICS.length} expected`);
  return us;
}

async function decodeBenchmark(dist, { decodes, rounds, log }) {
  const { session, hooks, events } = await newSession(dist);
  const { Payload } = dist;
  const pool = Array.from({ length: DECODE_POOL }, (_, i) => ddata(i + 1));
  const topic = `spBv1.0/${GROUP}/DDATA/${EDGE}/${DEVICE}`;
  const now = Date.now();
  // Check every payload of the pool through each variant before timing.
  pool.forEach((bytes, i) => {
    checkDecoded(session.decode(bytes, topic, SETTINGS, hooks, now), i + 1);
    const message = Payload.decode(bytes);
    if (message.metrics.length !== METRICS.length || message.metrics.some((m) => Object.hasOwn(m, 'name'))) throw new Error(`DDATA ${i + 1}: metrics with names, or not ${METRICS.length}`);
    const plain = Payload.toObject(message, { longs: String });
    if (plain.metrics.length !== METRICS.length || plain.metrics[14].longValue !== String(i + 1)) throw new Error(`DDATA ${i + 1}: toObject gave ${JSON.stringify(plain.metrics[14])}`);
  });
  if (events.length > 0) throw new Error(`the Sparkplug session reported: ${events.slice(0, 3).join('; ')}`);
  const variants = {
    mqflow: (bytes) => session.decode(bytes, topic, SETTINGS, hooks, now).metrics.length,
    protobufjs: (bytes) => Payload.decode(bytes).metrics.length,
    'protobufjs+toObject': (bytes) => Payload.toObject(Payload.decode(bytes), { longs: String }).metrics.length,
  };
  const names = Object.keys(variants);
  for (const v of names) timeDecodes(variants[v], pool, WARMUP_DECODES);
  const times = Object.fromEntries(names.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const v of order) times[v].push(timeDecodes(variants[v], pool, decodes));
    log(`codecs: decode round ${round + 1}: ${names.map((v) => `${v} ${times[v][round].toFixed(2)} µs`).join(', ')}`);
  }
  if (events.length > 0) throw new Error(`the Sparkplug session reported while timed: ${events.slice(0, 3).join('; ')}`);
  const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length });
  const perRound = (a, b) => times[a].map((x, i) => x / times[b][i]);
  const ddataBytes = median(pool.map((b) => b.length));
  return {
    table: Object.fromEntries(names.map((v) => [v, stat(times[v])])),
    ratios: {
      'mqflow / protobufjs': { ratio: median(times.mqflow) / median(times.protobufjs), perRound: perRound('mqflow', 'protobufjs') },
      'mqflow / protobufjs+toObject': { ratio: median(times.mqflow) / median(times['protobufjs+toObject']), perRound: perRound('mqflow', 'protobufjs+toObject') },
    },
    ddataBytes,
    times,
  };
}

// ---------------------------------------------------------------------------------------------
// Part 2: flows through Mosquitto and mqflow. Child roles: `node bench/codecs.js --role <role> …`.
// ---------------------------------------------------------------------------------------------

/** An mqtt.js client that exits the process on an error, unless `done()` says the role has finished. */
function connectOrExit(url, role, done = () => false) {
  const client = mqtt.connect(url, { clientId: `bench-codecs-${role}-${process.pid}`, clean: true, reconnectPeriod: 0 });
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
  return client;
}

/** Frames of a payload file: a 4-byte big-endian length, then the bytes. */
function writeFrames(file, payloads) {
  const parts = [];
  for (const p of payloads) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(p.length);
    parts.push(length, p);
  }
  writeFileSync(file, Buffer.concat(parts));
}

function readFrames(file) {
  const data = readFileSync(file);
  const payloads = [];
  for (let at = 0; at < data.length; ) {
    const length = data.readUInt32BE(at);
    payloads.push(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return payloads;
}

/**
 * The load: publishes the payloads of `file` in order to `topic` at QoS 1 as fast as the broker
 * acknowledges them, at most `window` unacknowledged. Prints {sent, startedAt (monotonic ms), ms}.
 *
 *   node bench/codecs.js --role load <url> <topic> <file> [window]
 */
function loadRole([url, topic, file, windowText]) {
  const payloads = readFrames(file);
  const windowSize = Number(windowText ?? WINDOW);
  let finished = false;
  const client = connectOrExit(url, 'load', () => finished);
  client.on('connect', () => {
    client.stream.setNoDelay?.(true); // TCP no-delay, as every process of the benchmark
    const startedAt = monotonicMs();
    const started = performance.now();
    let next = 0;
    let inFlight = 0;
    let done = 0;
    const pump = () => {
      while (inFlight < windowSize && next < payloads.length) {
        inFlight += 1;
        client.publish(topic, payloads[next++], { qos: QOS }, onSent);
      }
    };
    function onSent(error) {
      if (error) {
        console.error(`load: publish failed: ${error.message}`);
        process.exit(1);
      }
      inFlight -= 1;
      done += 1;
      if (done === payloads.length) {
        finished = true;
        process.stdout.write(`${JSON.stringify({ sent: done, startedAt, ms: performance.now() - started })}\n`);
        client.end(false, () => process.exit(0));
      } else if (inFlight <= windowSize / 2) setImmediate(pump);
    }
    pump();
  });
}

/**
 * The sink: subscribes bench/out/# at QoS 1; an output is valid when it is {device, values} with
 * the 20 values and values["Counters/Cycles"] = n in 1…expected. Prints "ready" once subscribed,
 * then one JSON line when every n arrived or nothing arrived for `idleMs` (60 s before the first):
 * counts, the first missing n's, first and last arrival (monotonic ms), and the output of n = 1.
 *
 *   node bench/codecs.js --role sink <url> <expected> [idleMs]
 */
function sinkRole([url, expectedText, idleText]) {
  const expected = Number(expectedText);
  const idleMs = Number(idleText ?? IDLE_MS);
  const seen = new Uint8Array(expected + 1);
  let received = 0;
  let distinct = 0;
  let duplicates = 0;
  let invalid = 0;
  let firstInvalid;
  let firstAt = 0;
  let lastAt = 0;
  let sample;
  let timer;
  let finished = false;
  const client = connectOrExit(url, 'sink', () => finished);
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const missing = [];
    for (let n = 1; n <= expected && missing.length < 10; n++) if (seen[n] === 0) missing.push(n);
    process.stdout.write(`${JSON.stringify({ received, distinct, duplicates, invalid, firstInvalid, missing, firstAt, lastAt, sample })}\n`);
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
    const n = body?.values?.[ID_METRIC];
    if (!Number.isInteger(n) || n < 1 || n > expected || body.device !== DEVICE || Object.keys(body.values).length !== METRICS.length) {
      invalid += 1;
      firstInvalid ??= payload.toString().slice(0, 300);
      return;
    }
    received += 1;
    if (n === 1) sample = payload.toString();
    if (seen[n] === 0) {
      seen[n] = 1;
      distinct += 1;
    } else duplicates += 1;
    if (distinct === expected) finish();
    else if ((received & 255) === 1) arm(idleMs);
  });
  client.on('connect', () => {
    client.stream.setNoDelay?.(true);
    client.subscribe('bench/out/#', { qos: QOS }, (error) => {
      if (error) {
        console.error(`sink: subscribe failed: ${error.message}`);
        process.exit(1);
      }
      arm(60_000);
      process.stdout.write('ready\n');
    });
  });
}

/** The flow of a variant: the births trigger (sparkplugB on NBIRTH/DBIRTH) and the data trigger. */
function flowYaml(variant, url) {
  return `connections:
  bench:
    url: ${url}
triggers:
  births:
    connection: bench
    topic: [spBv1.0/${GROUP}/NBIRTH/+, spBv1.0/${GROUP}/DBIRTH/+/+]
    qos: ${QOS}
    payload: sparkplugB
    service: born
  data:
    connection: bench
    topic: ${variant.filter}
    qos: ${QOS}
${variant.payload === undefined ? '' : `    payload: ${variant.payload}\n`}    service: to-json
services:
  born:
    steps:
      - publish:
          topic: bench/born
          qos: ${QOS}
          payload: '{ "messageType": messageType, "names": $count(metrics[$exists(name)]) }'
  to-json:
    steps:
      - transform: '${TRANSFORM}'
      - publish:
          topic: bench/out/{{ device }}
          qos: ${QOS}
`;
}

/** Publishes the NBIRTH and DBIRTH and waits until the flow's births trigger published both to bench/born. */
async function sendBirths(url) {
  const { nbirth, dbirth } = births();
  const client = mqtt.connect(url, { clientId: `bench-codecs-births-${process.pid}`, clean: true, reconnectPeriod: 0 });
  let timer;
  try {
    await new Promise((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    const born = [];
    const both = new Promise((resolve) =>
      client.on('message', (_topic, payload) => {
        born.push(JSON.parse(payload.toString()));
        if (born.length === 2) resolve();
      }),
    );
    await client.subscribeAsync('bench/born', { qos: 1 });
    await client.publishAsync(birthTopic('NBIRTH'), nbirth, { qos: 1 });
    await client.publishAsync(birthTopic('DBIRTH'), dbirth, { qos: 1 });
    await Promise.race([both, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`births: ${born.length} of 2 seen on bench/born after 30 s`)), 30_000)))]);
    const d = born.find((b) => b.messageType === 'DBIRTH');
    if (d?.names !== METRICS.length) throw new Error(`births: the DBIRTH decoded as ${JSON.stringify(d)}`);
  } finally {
    clearTimeout(timer);
    await client.endAsync();
  }
}

/**
 * The load's payloads per variant, written to files in `work`: DDATA 1…messages (Tahu), and
 * each one's decode by mqflow (a session of its own, sequence checked) as JSON and as CBOR.
 */
async function writePayloads(dist, work, messages) {
  const { Encoder } = await import('cbor-x');
  const encoder = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false });
  const { session, hooks, events } = await newSession(dist, { ...SETTINGS, sequence: 'check' });
  const topic = `spBv1.0/${GROUP}/DDATA/${EDGE}/${DEVICE}`;
  const payloads = { sparkplugB: [], json: [], cbor: [] };
  for (let n = 1; n <= messages; n++) {
    const bytes = ddata(n);
    const decoded = session.decode(bytes, topic, { ...SETTINGS, sequence: 'check' }, hooks, Date.now());
    checkDecoded(decoded, n);
    payloads.sparkplugB.push(bytes);
    payloads.json.push(Buffer.from(JSON.stringify(decoded)));
    const c = encoder.encode(decoded);
    payloads.cbor.push(Buffer.from(c.buffer, c.byteOffset, c.length));
  }
  if (events.length > 0) throw new Error(`the Sparkplug session reported: ${events.slice(0, 3).join('; ')}`);
  // The CBOR and JSON of a message must decode to the same value in mqflow.
  const viaCbor = dist.cbor.decode(payloads.cbor[0]);
  if (JSON.stringify(viaCbor) !== payloads.json[0].toString()) throw new Error(`CBOR of DDATA 1 decodes in mqflow as ${JSON.stringify(viaCbor).slice(0, 300)}, not as its JSON ${payloads.json[0].toString().slice(0, 300)}`);
  const files = {};
  const bytes = {};
  for (const [variant, list] of Object.entries(payloads)) {
    files[variant] = join(work, `${variant}.payloads`);
    writeFrames(files[variant], list);
    bytes[variant] = median(list.map((p) => p.length));
  }
  return { files, bytes };
}

/** One measured run of one variant: a fresh mqflow process, the births (sparkplugB), sink, load. */
async function measure(variant, { url, work, messages, files, round }) {
  const dir = join(work, `${variant.name}-${round}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'flow.yaml'), flowYaml(variant, url));
  const subscribed = (out) => out.split('"event":"subscribed"').length - 1;
  let sut;
  let sink;
  let load;
  let timer;
  const tail = () => `${sut?.out.stderr ?? ''}${sut?.out.stdout.slice(-3000) ?? ''}`;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${variant.name}: run not finished after ${RUN_TIMEOUT_MS / 1000} s; the end of mqflow's output:\n${tail()}`)), RUN_TIMEOUT_MS);
  });
  try {
    const body = async () => {
      sut = spawnNode([MQFLOW, 'run', dir, '--admin', '127.0.0.1:0', '--no-pretty', '--log-level', 'info'], { ready: (s) => subscribed(s) >= 2, label: `mqflow ${variant.name}` });
      track(sut.child);
      await sut.started;
      if (variant.name === 'sparkplugB') await sendBirths(url);
      sink = spawnNode([SELF, '--role', 'sink', url, String(messages), String(IDLE_MS)], { ready: (o) => o.includes('ready\n'), label: 'sink' });
      track(sink.child);
      await sink.started;
      const logFrom = sut.out.stdout.length;
      const cpuBefore = treeCpuMicros(sut.child.pid);
      load = spawnNode([SELF, '--role', 'load', url, variant.topic, files[variant.name], String(WINDOW)], { label: 'load' });
      track(load.child);
      const loadExit = await load.exited;
      if (loadExit.code !== 0) throw new Error(`${variant.name}: load failed (${loadExit.code ?? loadExit.signal}): ${load.out.stderr}`);
      const loadResult = JSON.parse(load.out.stdout.trim().split('\n').pop());
      const sinkExit = await sink.exited;
      if (sinkExit.code !== 0) throw new Error(`${variant.name}: sink failed (${sinkExit.code ?? sinkExit.signal}): ${sink.out.stderr}`);
      const cpuAfter = treeCpuMicros(sut.child.pid);
      const result = JSON.parse(sink.out.stdout.trim().split('\n').pop());
      const problems = sut.out.stdout
        .slice(logFrom)
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l) || /message-failed/.test(l));
      const spanMs = result.lastAt - result.firstAt;
      const cpuUs = cpuAfter.us - cpuBefore.us;
      return {
        variant: variant.name,
        round,
        sent: loadResult.sent,
        loadMs: loadResult.ms,
        received: result.received,
        distinct: result.distinct,
        duplicates: result.duplicates,
        invalid: result.invalid,
        firstInvalid: result.firstInvalid,
        missing: result.missing,
        lost: loadResult.sent - result.distinct,
        // first output → last output at the sink
        msgPerSec: (result.distinct - 1) / (spanMs / 1000),
        spanMs,
        // first publish of the load → last output (the same monotonic clock in every process)
        endToEndMsgPerSec: result.distinct / ((result.lastAt - loadResult.startedAt) / 1000),
        cpuUsPerMsg: cpuUs / Math.max(1, result.distinct),
        sysShare: (cpuAfter.sysUs - cpuBefore.sysUs) / Math.max(1, cpuUs),
        processes: cpuAfter.processes,
        rssMb: peakRssMb(sut.child.pid),
        warnings: problems.length,
        firstWarning: problems[0]?.slice(0, 600),
        sparkplugWarnings: problems.filter((l) => l.includes('"event":"sparkplug"')).length,
        stderr: sut.out.stderr.trim().slice(0, 600) || undefined,
        sample: result.sample,
        tail: result.distinct === loadResult.sent && result.duplicates === 0 ? undefined : tail(),
      };
    };
    return await Promise.race([body(), timeout]);
  } finally {
    clearTimeout(timer);
    for (const p of [load, sink, sut]) if (p) await stopChild(p.child);
  }
}

async function flowBenchmark(dist, { url, work, messages, rounds, variants, log }) {
  const started = performance.now();
  const { files, bytes } = await writePayloads(dist, work, messages);
  log(`codecs: ${messages} payloads per variant written in ${Math.round(performance.now() - started)} ms; median bytes: ${Object.entries(bytes).map(([v, b]) => `${v} ${b}`).join(', ')}`);
  const runs = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? variants : [...variants].reverse();
    for (const variant of order) {
      const m = await measure(variant, { url, work, messages, files, round });
      runs.push(m);
      log(
        `codecs: round ${round} ${variant.name.padEnd(10)} ${String(Math.round(m.msgPerSec)).padStart(6)} msg/s (load start → last output ${Math.round(m.endToEndMsgPerSec)}), ` +
          `${r1(m.cpuUsPerMsg)} µs CPU/msg (${Math.round(m.sysShare * 100)}% kernel, ${m.processes} processes), RSS ${r1(m.rssMb)} MB, lost ${m.lost}, dup ${m.duplicates}, invalid ${m.invalid}, warnings ${m.warnings}`,
      );
      if (m.firstWarning) log(`codecs:   first mqflow warning/error: ${m.firstWarning}`);
      if (m.stderr) log(`codecs:   mqflow stderr: ${m.stderr}`);
      if (m.lost !== 0) throw new Error(`${variant.name}: lost ${m.lost} of ${m.sent} messages (first missing n ${m.missing.join(', ')}); the end of mqflow's output:\n${m.tail}`);
      if (m.duplicates !== 0) throw new Error(`${variant.name}: ${m.duplicates} outputs arrived more than once`);
      if (m.invalid !== 0) throw new Error(`${variant.name}: ${m.invalid} wrong outputs, the first: ${m.firstInvalid}`);
      if (m.sparkplugWarnings !== 0) throw new Error(`${variant.name}: the Sparkplug decode reported ${m.sparkplugWarnings} times, the first: ${m.firstWarning}`);
    }
  }
  const samples = new Set(runs.map((r) => r.sample));
  if (samples.size !== 1) throw new Error(`the output of message 1 differs between the variants:\n${[...samples].join('\n')}`);
  return { runs, bytes, sample: runs[0].sample };
}

function flowTable(runs, variants) {
  const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length });
  const table = variants.map((v) => {
    const rs = runs.filter((r) => r.variant === v.name);
    return { variant: v.name, msgPerSec: stat(rs.map((r) => r.msgPerSec)), endToEndMsgPerSec: stat(rs.map((r) => r.endToEndMsgPerSec)), cpuUsPerMsg: stat(rs.map((r) => r.cpuUsPerMsg)), rssMb: stat(rs.map((r) => r.rssMb)), warnings: rs.reduce((n, r) => n + r.warnings, 0) };
  });
  const row = (n) => table.find((t) => t.variant === n);
  const ratios = {};
  const base = row('json');
  for (const t of table) {
    if (base === undefined || t === base) continue;
    const paired = (key) =>
      runs
        .filter((r) => r.variant === t.variant)
        .map((r) => {
          const b = runs.find((x) => x.variant === 'json' && x.round === r.round);
          return b === undefined ? undefined : r[key] / b[key];
        })
        .filter((x) => x !== undefined);
    ratios[`${t.variant} / json`] = {
      msgPerSec: { ratio: t.msgPerSec.median / base.msgPerSec.median, perRound: paired('msgPerSec') },
      cpuUsPerMsg: { ratio: t.cpuUsPerMsg.median / base.cpuUsPerMsg.median, perRound: paired('cpuUsPerMsg') },
    };
  }
  return { table, ratios };
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

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
    messages: positive('--messages', 'MQFLOW_BENCH_CODECS_MESSAGES', 20_000),
    rounds: positive('--rounds', 'MQFLOW_BENCH_ROUNDS', 5),
    decodes: positive('--decodes', 'MQFLOW_BENCH_CODECS_DECODES', 20_000),
    decodeRounds: positive('--decode-rounds', undefined, 5),
    variants: only === undefined ? VARIANTS : VARIANTS.filter((v) => only.includes(v.name)),
    flows: !argv.includes('--skip-flows'),
    decode: !argv.includes('--skip-decode'),
  };
}

const list = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
const thousands = (x) => Math.round(x).toLocaleString('en-US');

/** Runs the benchmark; throws when a decode is wrong, or a flow run lost, duplicated or garbled an output. */
export async function run({ log = console.log, argv = [] } = {}) {
  const options = optionsFrom(argv);
  const { messages, rounds, decodes, decodeRounds, variants } = options;
  const dist = await distModules();
  // dist/ is what runs: record the commit it was (presumably) built from before the runs.
  const code = codeVersion();
  const loadBefore = loadavg();
  const versions = {
    node: process.version,
    protobufjs: require('protobufjs/package.json').version,
    'cbor-x': require('cbor-x/package.json').version,
    'sparkplug-payload': require('sparkplug-payload/package.json').version,
  };

  let decode;
  if (options.decode) {
    log(`codecs: decode: ${METRICS.length}-metric DDATA by alias, ${decodeRounds} rounds × ${decodes} messages per variant, after ${WARMUP_DECODES} warm-up decodes each`);
    decode = await decodeBenchmark(dist, { decodes, rounds: decodeRounds, log });
  }

  let flows;
  if (options.flows) {
    const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-codecs-'));
    let broker;
    const signalCleanUp = cleanUpOnSignal(work, () => broker);
    try {
      broker = await startBroker(work);
      versions.mosquitto = mosquittoVersion();
      log(`codecs: flows: Mosquitto ${versions.mosquitto} at ${broker.url}; ${messages} QoS ${QOS} messages per run, ${rounds} rounds; variants ${variants.map((v) => v.name).join(', ')}`);
      const { runs, bytes, sample } = await flowBenchmark(dist, { url: broker.url, work, messages, rounds, variants, log });
      flows = { runs, bytes, sample, ...flowTable(runs, variants) };
    } finally {
      signalCleanUp();
      for (const child of live) child.kill('SIGKILL');
      await broker?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }

  const m = machine();
  const loadAverage = { before: loadBefore.map(r2), after: loadavg().map(r2) };
  const workload = {
    metrics: METRICS.map(([metric, type]) => `${metric} (${type})`),
    ddata: 'Tahu sparkplug-payload encodePayload: 20 metrics by alias (no name, with datatype and timestamp), payload timestamp and seq',
    decode: { decodes, rounds: decodeRounds, warmup: WARMUP_DECODES, pool: DECODE_POOL, settings: SETTINGS },
    flows: {
      messages,
      rounds,
      qos: QOS,
      window: WINDOW,
      transform: TRANSFORM,
      trigger: 'default (serial, queueSize 100); payload: sparkplugB (defaults: store memory, rebirth 30s, sequence check) / json (default) / cbor',
      throughput: '(outputs − 1) ÷ (last output − first output) at the sink',
      cpu: 'mqflow process tree, utime + stime (+ reaped children), load start → sink done, ÷ messages',
      mosquitto: 'max_queued_messages 0 (unbounded), max_inflight_messages 20, set_tcp_nodelay true',
    },
  };
  const results = { benchmark: name, date: new Date().toISOString(), machine: m, code, versions, loadAverage, workload, decode, flows };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  const rows = [];
  const summary = [];
  if (decode !== undefined) {
    for (const [v, s] of Object.entries(decode.table)) rows.push({ metric: `decode: ${v}`, ...s, unit: 'µs/msg', note: `${METRICS.length}-metric DDATA, ${decode.ddataBytes} bytes` });
    for (const [label, r] of Object.entries(decode.ratios)) summary.push(`decode ${label}: ×${r2(r.ratio)} (per round ${list(r.perRound)})`);
  }
  if (flows !== undefined) {
    for (const t of flows.table) {
      rows.push({ metric: `flow ${t.variant}: throughput`, ...t.msgPerSec, unit: 'msg/s', note: `${flows.bytes[t.variant]} bytes/msg in` });
      rows.push({ metric: `flow ${t.variant}: CPU per message`, ...t.cpuUsPerMsg, unit: 'µs', note: 'mqflow process' });
    }
    for (const [label, r] of Object.entries(flows.ratios)) {
      summary.push(`flow ${label}: throughput ×${r2(r.msgPerSec.ratio)} (per round ${list(r.msgPerSec.perRound)}), CPU per message ×${r2(r.cpuUsPerMsg.ratio)} (per round ${list(r.cpuUsPerMsg.perRound)})`);
    }
    summary.push(
      '| flow | bytes/msg in | msg/s | CPU µs/msg | ÷ json msg/s | ÷ json CPU |',
      '|---|---:|---:|---:|---:|---:|',
      ...flows.table.map((t) => {
        const r = flows.ratios[`${t.variant} / json`];
        return `| ${t.variant} | ${flows.bytes[t.variant]} | ${thousands(t.msgPerSec.median)} | ${t.cpuUsPerMsg.median.toFixed(1)} | ${r ? r2(r.msgPerSec.ratio).toFixed(2) : '1'} | ${r ? r2(r.cpuUsPerMsg.ratio).toFixed(2) : '1'} |`;
      }),
      `flow workload: ${messages} QoS ${QOS} messages per run (window ${WINDOW}), default trigger, transform ${TRANSFORM} then publish; ${rounds} alternating rounds, a fresh mqflow process per run`,
    );
  }
  summary.push(
    `load average (1/5/15 min) on ${m.cpus} CPUs: before ${loadAverage.before.join(' ')}, after ${loadAverage.after.join(' ')}`,
    `code: commit ${code.commit}${code.srcModified ? ' with uncommitted changes in src/' : ''}; results written to ${RESULTS}`,
  );
  return { rows, summary };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const role = argv[0] === '--role' ? argv[1] : undefined;
  const roles = { load: loadRole, sink: sinkRole };
  if (role !== undefined) {
    if (roles[role] === undefined) {
      console.error(`unknown role ${role}: ${Object.keys(roles).join(', ')}`);
      process.exitCode = 2;
    } else roles[role](argv.slice(2));
  } else {
    try {
      const { printResults } = await import('./run.js');
      printResults([{ name, ...(await run({ argv })) }]);
    } catch (error) {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
    }
  }
}
