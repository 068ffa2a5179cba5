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
import { publishPaced, SeqCounter } from '../support/stream.js';

const TOTAL = 6000;
const RATE = 1500;

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
      const out = new SeqCounter(TOTAL);
      sink.on('message', (_t, payload) => out.add(Number(payload.toString())));
      await sink.subscribeAsync('work/out', { qos: 1 });
      const sending = publishPaced(load, 'work/in', TOTAL, RATE, String);
      const cuts: number[] = [];
      await out.reach(TOTAL / 3);
      cuts.push(proxy.cut());
      await out.reach((TOTAL * 2) / 3);
      cuts.push(proxy.cut());
      await sending;
      await out.complete();
      console.log(`tcp cuts: ${TOTAL} sent, ${out.outputs} outputs, ${out.duplicates} duplicates, ${out.missing} missing; connections cut ${cuts.join(' and ')}`);
      expect(cuts).toEqual([2, 2]); // the publishing client and the trigger's client, each time
      expect(out.missing).toBe(0);
      expect(out.distinct).toBe(TOTAL);
      expect(mq.lines.filter((l) => l.event === 'subscribed').length).toBe(3);
    } finally {
      await sink.endAsync();
      await load.endAsync();
    }
  }, 90_000);
});
