/**
 * A Redis store over TLS (docs/flow-language.md, "State"): `rediss://` with the CA to trust and a
 * client certificate, read from files next to the flow file. A server that requires client
 * certificates accepts mqflow's; with a CA that did not sign the server's certificate, nothing is
 * passed as new: the message fails (MQFLOW_STATE_UNAVAILABLE) into its error route.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { makeTestPki, opensslAvailable, type TestPki } from '../support/certs.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { RUN_REDIS, startRedis, type RedisServer } from '../support/redis.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const flows = (ca: string): Record<string, string> => ({
  'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
stores:
  shared:
    type: redis
    url: \${env:REDIS_URL}
    timeout: 1s
    tls:
      ca: certs/${ca}
      cert: certs/client.pem
      key: certs/client.key
triggers:
  in:
    connection: plant
    topic: in
    service: once
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
});

describe.runIf(RUN_MOSQUITTO && RUN_REDIS && (process.env.CI === 'true' || opensslAvailable()))('a Redis store over TLS', () => {
  let broker: Mosquitto;
  let redis: RedisServer;
  let pki: TestPki;
  const dirs: string[] = [];
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    pki = makeTestPki();
    broker = await startMosquitto();
    redis = await startRedis({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } });
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await broker.stop();
    await redis.stop();
    for (const dir of [...dirs, pki.dir]) rmSync(dir, { recursive: true, force: true });
  });

  const run = async (ca: 'ca.pem' | 'other-ca.pem'): Promise<{ mqflow: MqflowProcess; sink: TestClient; producer: TestClient }> => {
    const pem = (path: string): string => readFileSync(path, 'utf8');
    const dir = flowFolder({
      ...flows(ca),
      'certs/ca.pem': pem(pki.ca),
      'certs/other-ca.pem': pem(pki.otherCa),
      'certs/client.pem': pem(pki.clientCert),
      'certs/client.key': pem(pki.clientKey),
    });
    dirs.push(dir);
    mqflow = startMqflow(dir, { MQTT_URL: broker.url, REDIS_URL: redis.url }, ['--log-level', 'info']);
    await mqflow.ready(['in']);
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe(['out', 'dead-letter'], 1);
    return { mqflow, sink, producer: await TestClient.connect(broker.url) };
  };

  it('dedupes through rediss:// with the CA and a client certificate', async () => {
    const { mqflow: m, sink, producer } = await run('ca.pem');
    for (const id of ['a', 'a', 'b']) await producer.publish('in', { id });
    await sink.waitFor(2, (msg) => msg.topic === 'out', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.json('out')).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(sink.on('dead-letter')).toEqual([]);
    m.kill('SIGTERM');
    expect(await m.exited).toBe(0);
    await sink.close();
    await producer.close();
  }, 60_000);

  it('with a CA that did not sign the server, fails the message instead of passing it', async () => {
    const { mqflow: m, sink, producer } = await run('other-ca.pem');
    await producer.publish('in', { id: 'c' });
    await sink.waitFor(1, (msg) => msg.topic === 'dead-letter', 15_000);
    expect((sink.json('dead-letter')[0] as { error: { code: string } }).error.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(sink.on('out')).toEqual([]);
    m.kill('SIGTERM');
    expect(await m.exited).toBe(0);
    await sink.close();
    await producer.close();
  }, 60_000);
});
