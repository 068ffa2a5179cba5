/**
 * Counting sink of the runtime benchmark: subscribes the output filters (comma-separated), counts
 * messages per `seq`, and measures throughput (first to last output) and latency (now − the
 * payload's `ts`, the load generator's send time on the machine's monotonic clock). A flow may
 * publish `copies` outputs per input (the four-step flow publishes two): a `seq` is complete when
 * `copies` outputs carried it, and every output beyond that is a duplicate. Prints "ready" once
 * subscribed, then one JSON line with the results when every `seq` is complete or nothing arrived
 * for `idleMs` (after the first message; 60 s before it). msgPerSec counts inputs (outputs ÷ copies).
 *
 *   node bench/_sink.js <url> <qos> <filters> <expected> [idleMs] [copies]
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import mqtt from 'mqtt';

const [url, qosText, filters, expectedText, idleText, copiesText] = process.argv.slice(2);
const qos = Number(qosText);
const expected = Number(expectedText);
const idleMs = Number(idleText ?? 2000);
const copies = Number(copiesText ?? 1);

const seen = new Uint8Array(expected + 1);
const latencies = new Float64Array(expected * copies * 2 + 16);
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
    `${JSON.stringify({ received, distinct, duplicates, invalid, spanMs, msgPerSec: spanMs > 0 ? (received / copies - 1) / (spanMs / 1000) : NaN, p50Ms: pct(50), p99Ms: pct(99), maxMs: pct(100) })}\n`,
  );
  client.end(false, () => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}

const arm = (ms) => {
  clearTimeout(timer);
  timer = setTimeout(finish, ms);
};

client.on('message', (_topic, payload) => {
  const now = Number(process.hrtime.bigint()) / 1e6;
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
  if (seen[seq] < copies) {
    seen[seq] += 1;
    if (seen[seq] === copies) distinct += 1;
  } else duplicates += 1;
  if (distinct === expected) finish();
  else if ((received & 255) === 1) arm(idleMs);
});
client.on('connect', () => {
  client.stream.setNoDelay?.(true); // TCP no-delay, as every process of the benchmark
  client.subscribe(filters.split(','), { qos }, (error) => {
    if (error) {
      console.error(`sink: subscribe failed: ${error.message}`);
      process.exit(1);
    }
    arm(60_000);
    process.stdout.write('ready\n');
  });
});
