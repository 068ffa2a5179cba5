/**
 * Load generator of the runtime benchmark: publishes `count` JSON sensor readings of about 200
 * bytes to `load/in`, either as fast as the broker accepts them (rate 0) or at a fixed rate in
 * messages per second. At QoS 1 at most `window` publishes await their PUBACK; at QoS 0 at most
 * `window` are not yet written to the socket. `ts` is the send time on the system's monotonic clock
 * (process.hrtime, in ms with µs precision, the same clock in every process of the machine), so
 * the sink can measure sub-millisecond latency. `seq` runs 1…count. Prints one JSON line
 * (sent, ms) when done. `devices` (default 50) is how many distinct deviceIds the readings cycle
 * through (`oven-<seq % devices>`).
 *
 *   node bench/_load.js <url> <qos> <count> [window] [rate] [devices]
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import mqtt from 'mqtt';

const [url, qosText, countText, windowText, rateText, devicesText] = process.argv.slice(2);
const qos = Number(qosText);
const count = Number(countText);
const windowSize = Number(windowText ?? (qos === 0 ? 1000 : 100));
const rate = Number(rateText ?? 0);
const devices = Number(devicesText ?? 50);
const PADDING = 'x'.repeat(80);
const SITES = ['north', 'south', 'east', 'west'];

/** Monotonic milliseconds, comparable across processes on this machine. */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/** A ~200-byte reading. */
export function reading(seq) {
  return JSON.stringify({
    deviceId: `oven-${seq % devices}`,
    temp_f: 150 + (seq % 600) / 10,
    ts: monotonicMs(),
    seq,
    site: SITES[seq % SITES.length],
    firmware: '2.4.1-rc3',
    padding: PADDING,
  });
}

const client = mqtt.connect(url, { clientId: `bench-load-${process.pid}`, clean: true, reconnectPeriod: 0 });
let finished = false;
client.on('error', (error) => {
  if (finished) return;
  console.error(`load: ${error.message}`);
  process.exit(1);
});
client.on('connect', () => {
  client.stream.setNoDelay?.(true); // TCP no-delay, as every process of the benchmark
  const started = performance.now();
  let next = 1;
  let done = 0;
  let inFlight = 0;
  // At a fixed rate, how many messages should have been sent by now.
  const due = () => (rate > 0 ? Math.min(count, Math.floor(((performance.now() - started) * rate) / 1000) + 1) : count);
  const pump = () => {
    const limit = due();
    while (inFlight < windowSize && next <= limit) {
      inFlight += 1;
      client.publish('load/in', reading(next++), { qos }, onSent);
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
      clearInterval(ticker);
      process.stdout.write(`${JSON.stringify({ sent: done, ms: performance.now() - started })}\n`);
      finished = true;
      client.end(false, () => process.exit(0));
    } else if (rate === 0 && inFlight <= windowSize / 2) setImmediate(pump);
  }
  // Fixed rate: a 1 ms tick sends what is due (about 5 messages at 5,000 msg/s) without spinning a core.
  const ticker = rate > 0 ? setInterval(pump, 1) : undefined;
  pump();
});
