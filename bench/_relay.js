/**
 * Plain mqtt.js relay, the baseline of the runtime benchmark: subscribes `load/in` and publishes
 * each message unchanged to `load/out` at the same QoS. QoS 1 messages are acknowledged as mqtt.js
 * does by default (PUBACK once the message handler returned). Prints "ready" once subscribed;
 * exits on SIGTERM after a clean disconnect.
 *
 *   node bench/_relay.js <url> <qos>
 *
 * Not a benchmark module (run.js skips files starting with "_").
 */
import mqtt from 'mqtt';

const [url, qosText] = process.argv.slice(2);
const qos = Number(qosText);
const client = mqtt.connect(url, { clientId: `bench-relay-${process.pid}`, clean: true, reconnectPeriod: 0 });
client.on('error', (error) => {
  console.error(`relay: ${error.message}`);
  process.exit(1);
});
client.on('message', (_topic, payload) => {
  client.publish('load/out', payload, { qos });
});
client.on('connect', () => {
  client.subscribe('load/in', { qos }, (error) => {
    if (error) {
      console.error(`relay: subscribe failed: ${error.message}`);
      process.exit(1);
    }
    process.stdout.write('ready\n');
  });
});
process.on('SIGTERM', () => client.end(false, () => process.exit(0)));
