/**
 * Load generator of the runtime benchmark: publishes `count` JSON sensor readings of about 200
 * bytes to `load/in` as fast as the broker accepts them: at QoS 1 with `window` publishes awaiting
 * their PUBACK, at QoS 0 with `window` publishes not yet written to the socket. `ts` is Date.now()
 * at publish, `seq` runs 1…count. Prints one JSON line (sent, ms) when done.
 *
 *   node bench/_load.js <url> <qos> <count> [window]
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import mqtt from 'mqtt';

const [url, qosText, countText, windowText] = process.argv.slice(2);
const qos = Number(qosText);
const count = Number(countText);
const windowSize = Number(windowText ?? (qos === 0 ? 1000 : 100));
const PADDING = 'x'.repeat(80);
const SITES = ['north', 'south', 'east', 'west'];

/** A ~200-byte reading. */
export function reading(seq) {
  return JSON.stringify({
    deviceId: `oven-${seq % 50}`,
    temp_f: 150 + (seq % 600) / 10,
    ts: Date.now(),
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
  const started = performance.now();
  let next = 1;
  let done = 0;
  let inFlight = 0;
  const pump = () => {
    while (inFlight < windowSize && next <= count) {
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
      process.stdout.write(`${JSON.stringify({ sent: done, ms: performance.now() - started })}\n`);
      finished = true;
      client.end(false, () => process.exit(0));
    } else if (inFlight <= windowSize / 2) setImmediate(pump);
  }
  pump();
});
