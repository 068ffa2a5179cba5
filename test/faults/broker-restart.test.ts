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

const TOTAL = 10_000;
const RATE = 2000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
      const counts = new Uint8Array(TOTAL + 1);
      let outputs = 0;
      sink.on('message', (_t, payload) => {
        const seq = Number(payload.toString());
        if (counts[seq]! < 255) counts[seq]!++;
        outputs++;
      });
      await sink.subscribeAsync('work/out', { qos: 1 });
      const started = Date.now();
      let next = 1;
      let acked = 0;
      const sending = (async () => {
        while (next <= TOTAL) {
          const due = Math.min(TOTAL, Math.floor(((Date.now() - started) * RATE) / 1000));
          // mqtt.js keeps unacknowledged QoS 1 publishes and resends them after a reconnect.
          for (; next <= due; next++) load.publish('work/in', String(next), { qos: 1 }, (error) => (error ? undefined : acked++));
          await sleep(10);
        }
      })();
      while (outputs < TOTAL / 3) await sleep(20);
      await broker.restart({ downMs: 500 });
      await sending;
      const missing = (): number => counts.slice(1).filter((c) => c === 0).length;
      for (let i = 0; i < 600 && missing() > 0; i++) await sleep(50);
      console.log(`broker restart: ${TOTAL} sent (${acked} acknowledged to the load generator), ${outputs} outputs, ${outputs - TOTAL} duplicates, ${missing()} missing; mqflow reconnects: ${mq.lines.filter((l) => l.event === 'connected').length - 1} publisher, ${mq.lines.filter((l) => l.event === 'subscribed').length - 1} trigger`);
      expect(missing()).toBe(0);
      expect(counts.slice(1).filter((c) => c > 0).length).toBe(TOTAL);
      expect(mq.lines.filter((l) => l.event === 'subscribed').length).toBeGreaterThanOrEqual(2);
    } finally {
      await sink.endAsync();
      await load.endAsync();
    }
  }, 90_000);
});
