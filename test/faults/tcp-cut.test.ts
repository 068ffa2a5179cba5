/**
 * Fault: the network between mqflow and its broker drops, twice, in the middle of a QoS 1 stream
 * (a TCP proxy cuts every connection). mqflow's clients reconnect; with persistent sessions the
 * broker redelivers what was not acknowledged and mqflow resends what was not acknowledged to it:
 * every message comes out at least once (docs/reliability.md).
 */
import { rmSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { startProxy, type MqttProxy } from '../support/proxy.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOTAL = 6000;
const RATE = 1500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(RUN_MOSQUITTO)('fault: dropped TCP connections', () => {
  let broker: Mosquitto;
  let proxy: MqttProxy;
  let dir: string;
  let mq: MqflowProcess;

  beforeAll(async () => {
    broker = await startMosquitto();
    proxy = await startProxy(broker.url);
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
services:
  work:
    steps:
      - publish:
          topic: work/out
          qos: 1
`,
    });
    mq = startMqflow(dir, { MQTT_URL: proxy.url }, ['--log-level', 'info']);
    await mq.ready(['work-in']);
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await proxy?.close();
    await broker?.stop();
  }, 30_000);

  it(`delivers all ${TOTAL} messages through two network cuts: 0 lost`, async () => {
    const sink: MqttClient = await connectAsync(broker.url, { clientId: 'fault-cut-sink', clean: true });
    const load: MqttClient = await connectAsync(broker.url, { clientId: 'fault-cut-load', clean: true });
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
      const sending = (async () => {
        while (next <= TOTAL) {
          const due = Math.min(TOTAL, Math.floor(((Date.now() - started) * RATE) / 1000));
          for (; next <= due; next++) load.publish('work/in', String(next), { qos: 1 });
          await sleep(10);
        }
      })();
      const cuts: number[] = [];
      while (outputs < TOTAL / 3) await sleep(20);
      cuts.push(proxy.cut());
      while (outputs < (TOTAL * 2) / 3) await sleep(20);
      cuts.push(proxy.cut());
      await sending;
      const missing = (): number => counts.slice(1).filter((c) => c === 0).length;
      for (let i = 0; i < 600 && missing() > 0; i++) await sleep(50);
      console.log(`tcp cuts: ${TOTAL} sent, ${outputs} outputs, ${outputs - TOTAL} duplicates, ${missing()} missing; connections cut ${cuts.join(' and ')}`);
      expect(cuts).toEqual([2, 2]); // the publishing client and the trigger's client, each time
      expect(missing()).toBe(0);
      expect(counts.slice(1).filter((c) => c > 0).length).toBe(TOTAL);
      expect(mq.lines.filter((l) => l.event === 'subscribed').length).toBe(3);
    } finally {
      await sink.endAsync();
      await load.endAsync();
    }
  }, 90_000);
});
