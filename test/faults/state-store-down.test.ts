/**
 * A store that cannot answer fails the message, transiently (docs/architecture.md, invariant 37):
 * with Redis stopped, a message through a dedupe on a Redis store is retried, then goes to its
 * error route with MQFLOW_STATE_UNAVAILABLE; mqflow keeps running, and once Redis is back the
 * next message passes. Never a guess of "new" while the store is down. And a message retried after
 * its dedupe claimed its key in Redis finds its own claim, not a busy key.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { RUN_REDIS, startRedis, type RedisServer } from '../support/redis.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const FLOWS = {
  'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
stores:
  shared:
    type: redis
    url: \${env:REDIS_URL}
    password: \${env:REDIS_PASSWORD}
    timeout: 500ms
triggers:
  in:
    connection: plant
    topic: in
    qos: 1
    service: once
    retry:
      maxAttempts: 3
      delay: 100ms
    onError:
      publish:
        topic: dead-letter
services:
  once:
    steps:
      - dedupe:
          key: id
          store: shared
      - publish:
          topic: out
`,
};

const RETRY_FLOWS = {
  'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
stores:
  shared:
    type: redis
    url: \${env:REDIS_URL}
    password: \${env:REDIS_PASSWORD}
triggers:
  readings:
    connection: plant
    topic: readings
    service: enrich
    retry:
      maxAttempts: 20
      delay: 200ms
      backoff: fixed
  config:
    connection: plant
    topic: config
    service: keep-config
services:
  enrich:
    steps:
      - dedupe:
          key: id
          store: shared
      - lookup:
          namespace: config
          key: device
          as: config
          required: true
          store: shared
      - publish:
          topic: out
          payload: '{ "id": id, "unit": $config.unit }'
  keep-config:
    steps:
      - remember:
          namespace: config
          key: device
          store: shared
`,
};

describe.runIf(RUN_MOSQUITTO && RUN_REDIS)('a Redis store that is down, and one that is up', () => {
  let broker: Mosquitto;
  let redis: RedisServer;
  let dir: string;
  let retryDir: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    broker = await startMosquitto();
    redis = await startRedis({ password: 'a-redis-secret' });
    dir = flowFolder(FLOWS);
    retryDir = flowFolder(RETRY_FLOWS);
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await broker.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(retryDir, { recursive: true, force: true });
  });

  it('fails messages transiently into the error route, never passes them as new, and recovers', async () => {
    mqflow = startMqflow(dir, { MQTT_URL: broker.url, REDIS_URL: redis.url, REDIS_PASSWORD: 'a-redis-secret' }, ['--log-level', 'info']);
    await mqflow.ready(['in']);
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe(['out', 'dead-letter'], 1);
    const producer = await TestClient.connect(broker.url);

    await producer.publish('in', { id: 'first' });
    await sink.waitFor(1, (m) => m.topic === 'out');

    await redis.restart({
      whileDown: async () => {
        await producer.publish('in', { id: 'while-down' });
        await sink.waitFor(1, (m) => m.topic === 'dead-letter', 20_000);
      },
    });
    const report = sink.json('dead-letter')[0] as { error: { code: string; message: string }; attempts: number };
    expect(report.error.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(report.attempts).toBe(3);
    expect(sink.on('out').map((m) => m.text)).toEqual(['{"id":"first"}']);

    // Back up (empty: the test server keeps nothing): the next messages pass, the repeated one once.
    await producer.publish('in', { id: 'after' });
    await producer.publish('in', { id: 'after' });
    await producer.publish('in', { id: 'last' });
    await sink.waitFor(3, (m) => m.topic === 'out', 20_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.on('out').map((m) => (JSON.parse(m.text) as { id: string }).id)).toEqual(['first', 'after', 'last']);

    const admin = await mqflow.waitFor((l) => l.event === 'admin');
    const metrics = await (await fetch(`${admin.url as string}/metrics`)).text();
    expect(metrics).toMatch(/mqflow_store_errors_total\{store="shared"\} [1-9]/);
    const everything = JSON.stringify(mqflow.lines) + mqflow.stderr;
    expect(everything).not.toContain('a-redis-secret');
    mqflow.kill('SIGTERM');
    expect(await mqflow.exited).toBe(0);
    await sink.close();
    await producer.close();
  }, 90_000);

  it('a message retried until its lookup finds a value passes its dedupe again, once', async () => {
    mqflow = startMqflow(retryDir, { MQTT_URL: broker.url, REDIS_URL: redis.url, REDIS_PASSWORD: 'a-redis-secret' }, ['--log-level', 'info']);
    await mqflow.ready(['readings', 'config']);
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('out', 1);
    const producer = await TestClient.connect(broker.url);
    await producer.publish('readings', { id: 'r1', device: 'd1' });
    // It fails (MQFLOW_LOOKUP_MISSING) and is retried, holding its claim on r1.
    await mqflow.waitFor((l) => l.event === 'retry', 10_000);
    await producer.publish('config', { device: 'd1', unit: 'bar' });
    await sink.waitFor(1, () => true, 15_000);
    await producer.publish('readings', { id: 'r1', device: 'd1' });
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.json('out')).toEqual([{ id: 'r1', unit: 'bar' }]);
    expect(mqflow.lines.filter((l) => l.event === 'message-failed')).toEqual([]);
    await sink.close();
    await producer.close();
  }, 60_000);
});
