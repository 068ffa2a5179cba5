/**
 * At-least-once under crashes (docs/architecture.md): 10,000 QoS 1 messages flow through a
 * transform-and-publish service while mqflow is killed with SIGKILL twice and restarted. With a
 * persistent session every message's output must arrive at least once.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOTAL = 10_000;

const flows = {
  'flow.yaml': `connections:
  broker:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 100ms
triggers:
  load:
    connection: broker
    topic: load/in
    qos: 1
    processing: concurrent
    maxConcurrency: 16
    service: relay
services:
  relay:
    steps:
      - transform: '{ "seq": seq, "doubled": seq * 2 }'
      - publish: { topic: load/out, qos: 1 }
`,
};

describe.runIf(RUN_MOSQUITTO)('crash safety (SIGKILL) with a persistent session, against mosquitto', () => {
  let mosquitto: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    mosquitto = await startMosquitto();
    dir = flowFolder(flows);
  });
  afterAll(async () => {
    // A failed assertion must not leave mqflow running.
    mqflow?.kill('SIGKILL');
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the output of every message at least once across two kill -9', async () => {
    const env = { MQTT_URL: mosquitto.url };
    const sink = await TestClient.connect(mosquitto.url);
    await sink.subscribe('load/out', 1);
    const producer = await TestClient.connect(mosquitto.url);

    mqflow = startMqflow(dir, env, ['--log-level', 'info']);
    await mqflow.ready(['load']);

    const distinct = (): number => new Set(sink.received.map((m) => (JSON.parse(m.text) as { seq: number }).seq)).size;
    const sending = (async () => {
      for (let seq = 0; seq < TOTAL; seq += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, i) => producer.publish('load/in', { seq: seq + i }, 1)));
      }
    })();

    const kills: number[] = [];
    for (const at of [2_500, 6_000]) {
      await sink.waitFor(at, () => true, 60_000);
      mqflow.kill('SIGKILL');
      await mqflow.exited;
      kills.push(distinct());
      mqflow = startMqflow(dir, env, ['--log-level', 'info']);
      await mqflow.ready(['load']);
    }
    await sending;
    await sink.waitFor(TOTAL, () => true, 90_000).catch(() => undefined);
    // Give redeliveries a moment to land before counting.
    const deadline = Date.now() + 60_000;
    while (distinct() < TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));

    const seen = new Set(sink.received.map((m) => (JSON.parse(m.text) as { seq: number }).seq));
    const missing = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => !seen.has(i));
    const duplicates = sink.received.length - seen.size;
    console.log(`crash test: ${TOTAL} sent, ${seen.size} distinct outputs, ${duplicates} duplicates, ${missing.length} missing; kills after ${kills.join(' and ')} outputs`);
    expect(kills.length).toBe(2);
    expect(missing).toEqual([]);
    expect(seen.size).toBe(TOTAL);

    mqflow.kill('SIGTERM');
    expect(await mqflow.exited).toBe(0);
    await sink.close();
    await producer.close();
  }, 240_000);
});
