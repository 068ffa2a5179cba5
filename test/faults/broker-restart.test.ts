/**
 * Fault: the broker restarts in the middle of a QoS 1 stream (Mosquitto with persistence, every
 * client on a persistent session). mqflow reconnects its trigger and publishing clients, the broker
 * redelivers what was not acknowledged, mqflow resends what it had not got acknowledged: every
 * message comes out at least once, inbound and outbound (docs/reliability.md).
 */
import { rmSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';
import { publishPaced, SeqCounter } from '../support/stream.js';

const TOTAL = 10_000;
const RATE = 2000;

describe.runIf(RUN_MOSQUITTO)('fault: broker restart mid-stream', () => {
  let broker: Mosquitto;
  let dir: string;
  let mq: MqflowProcess;

  beforeAll(async () => {
    broker = await startMosquitto('', { persistence: true });
    dir = flowFolder({
      'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 100ms
triggers:
  work-in:
    connection: plant
    topic: work/in
    qos: 1
    service: work
    processing: concurrent
    maxConcurrency: 16
services:
  work:
    steps:
      - publish:
          topic: work/out
          qos: 1
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url }, ['--log-level', 'info']);
    await mq.ready(['work-in']);
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.stop();
  }, 30_000);

  it(`delivers all ${TOTAL} messages through a broker restart: 0 lost`, async () => {
    // The sink and the load generator keep persistent sessions too: their own messages survive the restart.
    const sink: MqttClient = await connectAsync(broker.url, { clientId: 'fault-restart-sink', clean: false, reconnectPeriod: 100 });
    const load: MqttClient = await connectAsync(broker.url, { clientId: 'fault-restart-load', clean: false, reconnectPeriod: 100 });
    try {
      const out = new SeqCounter(TOTAL);
      sink.on('message', (_t, payload) => out.add(Number(payload.toString())));
      await sink.subscribeAsync('work/out', { qos: 1 });
      let acked = 0;
      const sending = publishPaced(load, 'work/in', TOTAL, RATE, String, (error) => (error ? undefined : acked++));
      await out.reach(TOTAL / 3);
      await broker.restart({ downMs: 500 });
      await sending;
      await out.complete();
      console.log(`broker restart: ${TOTAL} sent (${acked} acknowledged to the load generator), ${out.outputs} outputs, ${out.duplicates} duplicates, ${out.missing} missing; mqflow reconnects: ${mq.lines.filter((l) => l.event === 'connected').length - 1} publisher, ${mq.lines.filter((l) => l.event === 'subscribed').length - 1} trigger`);
      expect(out.missing).toBe(0);
      expect(out.distinct).toBe(TOTAL);
      expect(mq.lines.filter((l) => l.event === 'subscribed').length).toBeGreaterThanOrEqual(2);
    } finally {
      await sink.endAsync();
      await load.endAsync();
    }
  }, 90_000);
});
