/**
 * Plain mqtt.js relays, the baselines of the runtime benchmark. QoS 1 messages are acknowledged
 * as mqtt.js does by default (PUBACK once the message handler returned, before an asynchronous
 * handler finishes). Prints "ready" once subscribed; exits on SIGTERM after a clean disconnect.
 *   identity – subscribes `load/in`, publishes each message unchanged to `load/out` at the same QoS:
 *              the ceiling for any Node.js runtime.
 *   jsonata  – parses the JSON, applies a JSONata expression with the jsonata package and publishes
 *              the result (JSON) to `out/<device>`: what a hand-written transform costs.
 *
 *   node bench/_relay.js <url> <qos> [identity | jsonata <expression>]
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import jsonata from 'jsonata';
import mqtt from 'mqtt';

const [url, qosText, mode = 'identity', transform] = process.argv.slice(2);
const qos = Number(qosText);
const client = mqtt.connect(url, { clientId: `bench-relay-${process.pid}`, clean: true, reconnectPeriod: 0 });
client.on('error', (error) => {
  console.error(`relay: ${error.message}`);
  process.exit(1);
});
if (mode === 'jsonata') {
  const expression = jsonata(transform);
  client.on('message', (_topic, payload) => {
    expression.evaluate(JSON.parse(payload.toString())).then(
      (out) => client.publish(`out/${out.device}`, JSON.stringify(out), { qos }),
      (error) => console.error(`relay: ${error.message}`),
    );
  });
} else {
  client.on('message', (_topic, payload) => {
    client.publish('load/out', payload, { qos });
  });
}
client.on('connect', () => {
  client.stream.setNoDelay?.(true); // TCP no-delay, as every process of the benchmark
  client.subscribe('load/in', { qos }, (error) => {
    if (error) {
      console.error(`relay: subscribe failed: ${error.message}`);
      process.exit(1);
    }
    process.stdout.write('ready\n');
  });
});
process.on('SIGTERM', () => client.end(false, () => process.exit(0)));
