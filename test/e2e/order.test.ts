/**
 * Order and at-least-once through a default trigger (docs/architecture.md, invariant 22): 20,000
 * QoS 1 readings from 10 devices, each device its own client publishing as fast as it can, through
 * a trigger written with no processing options (serial), while mqflow is killed with SIGKILL twice
 * and restarted. Per device, the first delivery of each output must come in input order (only a
 * redelivered duplicate may come out of order), and every reading must come out.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const DEVICES = 10;
const PER_DEVICE = 2_000;
const TOTAL = DEVICES * PER_DEVICE;

const flows = {
  'flow.yaml': `connections:
  broker:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 100ms
triggers:
  readings:
    connection: broker
    topic: dev/+/in
    service: relay
services:
  relay:
    steps:
      - transform: '{ "device": $wildcards[0], "seq": seq, "celsius": (temp_f - 32) * 5 / 9 }'
      - publish: { topic: 'dev/{{ device }}/out', qos: 1 }
`,
};

describe.runIf(RUN_MOSQUITTO)('order through a default (serial) trigger, across two SIGKILLs, against mosquitto', () => {
  let mosquitto: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    mosquitto = await startMosquitto();
    dir = flowFolder(flows);
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps each device in order and loses nothing', async () => {
    const env = { MQTT_URL: mosquitto.url };
    const sink = await TestClient.connect(mosquitto.url);
    await sink.subscribe('dev/+/out', 1);
    // Outputs by device, in the order they arrived (TestClient.waitFor would rescan 20,000 messages).
    const arrived = new Map<string, number[]>();
    let count = 0;
    sink.client.on('message', (_topic, payload) => {
      const { device, seq } = JSON.parse(payload.toString()) as { device: string; seq: number };
      const list = arrived.get(device) ?? [];
      list.push(seq);
      arrived.set(device, list);
      count++;
    });
    const until = async (test: () => boolean, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!test() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    const producers = await Promise.all(Array.from({ length: DEVICES }, () => TestClient.connect(mosquitto.url)));

    mqflow = startMqflow(dir, env, ['--log-level', 'info']);
    await mqflow.ready(['readings']);
    // Every device publishes its readings in order on its own client, without waiting for each.
    const sending = Promise.all(
      producers.map(async (producer, d) => {
        for (let seq = 0; seq < PER_DEVICE; seq += 200) {
          await Promise.all(Array.from({ length: 200 }, (_, i) => producer.publish(`dev/d${d}/in`, { seq: seq + i, temp_f: 70 + ((seq + i) % 50) }, 1)));
        }
      }),
    );

    const kills: number[] = [];
    for (const at of [TOTAL / 4, (TOTAL * 3) / 5]) {
      await until(() => count >= at, 60_000);
      mqflow.kill('SIGKILL');
      await mqflow.exited;
      kills.push(count);
      mqflow = startMqflow(dir, env, ['--log-level', 'info']);
      await mqflow.ready(['readings']);
    }
    await sending;
    const distinct = (): number => [...arrived.values()].reduce((n, list) => n + new Set(list).size, 0);
    await until(() => distinct() >= TOTAL, 90_000);

    let outOfOrder = 0;
    let duplicates = 0;
    const missing: string[] = [];
    for (let d = 0; d < DEVICES; d++) {
      const list = arrived.get(`d${d}`) ?? [];
      const seen = new Set<number>();
      let last = -1;
      for (const seq of list) {
        if (seen.has(seq)) {
          duplicates++;
          continue;
        }
        seen.add(seq);
        if (seq < last) outOfOrder++;
        last = seq;
      }
      for (let seq = 0; seq < PER_DEVICE; seq++) if (!seen.has(seq)) missing.push(`d${d}:${seq}`);
    }
    console.log(`order test: ${TOTAL} sent by ${DEVICES} devices, ${count} outputs (${duplicates} redelivered duplicates), ${outOfOrder} first deliveries out of order, ${missing.length} missing; kills after ${kills.join(' and ')} outputs`);
    expect(kills).toHaveLength(2);
    expect(missing.slice(0, 10)).toEqual([]);
    expect(outOfOrder).toBe(0);

    mqflow.kill('SIGTERM');
    expect(await mqflow.exited).toBe(0);
    await Promise.all([sink.close(), ...producers.map((p) => p.close())]);
  }, 240_000);
});
