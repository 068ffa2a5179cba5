/**
 * Counting sink of the runtime benchmark: subscribes the output filter, counts messages and
 * distinct `seq` values, and measures throughput (first to last output) and latency (now − the
 * payload's `ts`, which the load generator sets to its Date.now() at publish). Prints "ready"
 * once subscribed, then one JSON line with the results when it has `expected` distinct messages
 * or nothing arrived for `idleMs` (after the first message; 60 s before it).
 *
 *   node bench/_sink.js <url> <qos> <filter> <expected> [idleMs]
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import mqtt from 'mqtt';

const [url, qosText, filter, expectedText, idleText] = process.argv.slice(2);
const qos = Number(qosText);
const expected = Number(expectedText);
const idleMs = Number(idleText ?? 2000);

const seen = new Uint8Array(expected + 1);
const latencies = new Float64Array(expected * 2 + 16);
let received = 0;
let distinct = 0;
let duplicates = 0;
let invalid = 0;
let first = 0;
let last = 0;
let timer;

const client = mqtt.connect(url, { clientId: `bench-sink-${process.pid}`, clean: true, reconnectPeriod: 0 });
let finished = false;
client.on('error', (error) => {
  if (finished) return;
  console.error(`sink: ${error.message}`);
  process.exit(1);
});

function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  const n = Math.min(received, latencies.length);
  const sorted = latencies.slice(0, n).sort();
  const pct = (p) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.floor((p / 100) * n))]);
  const spanMs = last - first;
  process.stdout.write(
    `${JSON.stringify({ received, distinct, duplicates, invalid, spanMs, msgPerSec: spanMs > 0 ? (received - 1) / (spanMs / 1000) : NaN, p50Ms: pct(50), p99Ms: pct(99), maxMs: pct(100) })}\n`,
  );
  client.end(false, () => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}

const arm = (ms) => {
  clearTimeout(timer);
  timer = setTimeout(finish, ms);
};

client.on('message', (_topic, payload) => {
  const now = Date.now();
  if (received === 0) first = performance.now();
  last = performance.now();
  let body;
  try {
    body = JSON.parse(payload.toString());
  } catch {
    invalid += 1;
    return;
  }
  const seq = body.seq;
  if (!Number.isInteger(seq) || seq < 0 || seq > expected || typeof body.ts !== 'number') {
    invalid += 1;
    return;
  }
  if (received < latencies.length) latencies[received] = now - body.ts;
  received += 1;
  if (seen[seq] === 0) {
    seen[seq] = 1;
    distinct += 1;
  } else duplicates += 1;
  if (distinct === expected) finish();
  else if ((received & 255) === 1) arm(idleMs);
});
client.on('connect', () => {
  client.subscribe(filter, { qos }, (error) => {
    if (error) {
      console.error(`sink: subscribe failed: ${error.message}`);
      process.exit(1);
    }
    arm(60_000);
    process.stdout.write('ready\n');
  });
});
