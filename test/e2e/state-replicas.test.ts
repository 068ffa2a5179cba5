/**
 * Shared state across replicas (docs/architecture.md, invariant 38): three mqflow replicas on a
 * shared subscription against Mosquitto, with a dedupe on a Redis store. Every id sent three
 * times comes out exactly once while no replica dies.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { RUN_REDIS, startRedis, type RedisServer } from '../support/redis.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const IDS = 1_000;

const FLOWS = {
  'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 200ms
stores:
  shared:
    type: redis
    url: \${env:REDIS_URL}
    keyPrefix: "replicas-test:"
triggers:
  work-in:
    connection: plant
    topic: work/+
    share: workers
    qos: 1
    service: once
    processing: concurrent
    maxConcurrency: 16
services:
  once:
    steps:
      - dedupe:
          key: id
          store: shared
      - publish:
          topic: done/all
          qos: 1
`,
};

describe.runIf(RUN_MOSQUITTO && RUN_REDIS)('dedupe across 3 replicas with a Redis store', () => {
  let broker: Mosquitto;
  let redis: RedisServer;
  let dir: string;
  const replicas: MqflowProcess[] = [];
  beforeAll(async () => {
    broker = await startMosquitto();
    redis = await startRedis();
    dir = flowFolder(FLOWS);
  });
  afterAll(async () => {
    for (const r of replicas) r.kill('SIGKILL');
    await broker.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every id once although each arrives three times, spread over the replicas', async () => {
    const env = { MQTT_URL: broker.url, REDIS_URL: redis.url };
    for (const instance of ['a', 'b', 'c']) {
      const mq = startMqflow(dir, env, ['--instance', instance, '--log-level', 'info']);
      replicas.push(mq);
      await mq.ready(['work-in'], 20_000);
    }
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('done/all', 1);
    const producer = await TestClient.connect(broker.url);
    // Each id three times, the copies close together so that replicas race for them.
    for (let i = 0; i < IDS; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => i + j);
      await Promise.all([...batch, ...batch, ...batch].map((id, k) => producer.publish(`work/${k % 7}`, { id }, 1)));
    }
    await sink.waitFor(IDS, () => true, 60_000);
    // Late duplicates would arrive now, if any replica passed one.
    await new Promise((r) => setTimeout(r, 1_500));
    const ids = sink.received.map((m) => (JSON.parse(m.text) as { id: number }).id);
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    const shares = await Promise.all(
      replicas.map(async (mq) => {
        const admin = await mq.waitFor((l) => l.event === 'admin');
        const status = (await (await fetch(`${admin.url as string}/api/status`)).json()) as { triggers: { counters: { processed: number } }[]; stores: { name: string; errors: number }[] };
        return { processed: status.triggers[0]!.counters.processed, errors: status.stores.find((s) => s.name === 'shared')!.errors };
      }),
    );
    console.log(`replicas: ${3 * IDS} sent, ${ids.length} out, ${counts.size} distinct, ${twice.length} twice; processed per replica ${shares.map((s) => s.processed).join('/')}`);
    expect(counts.size).toBe(IDS);
    expect(twice).toEqual([]);
    expect(shares.every((s) => s.processed > 0)).toBe(true);
    expect(shares.reduce((n, s) => n + s.processed, 0)).toBe(3 * IDS);
    expect(shares.every((s) => s.errors === 0)).toBe(true);
    await sink.close();
    await producer.close();
  }, 120_000);
});
