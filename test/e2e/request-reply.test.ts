/**
 * MQTT 5 request/response end to end against Mosquitto (docs/architecture.md, invariants 51–52):
 * mqflow answers a real MQTT 5 requester with its correlation data, and only on topics `allow`
 * permits; two mqflow processes ask and answer 1,000 requests in flight at once, every reply
 * matched to its request; a request nobody answers times out, is retried, then routed.
 */
import { rmSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOTAL = 1_000;

const ANSWERING = `connections:
  plant:
    url: \${env:MQTT_URL}
    protocolVersion: 5
triggers:
  double:
    connection: plant
    topic: svc/double
    service: double
    processing: concurrent
    maxConcurrency: 64
    onError:
      publish:
        topic: errors/answering
services:
  double:
    steps:
      - reply:
          payload: '{ "n": n, "doubled": n * 2 }'
          allow: mqflow/replies/#
`;

const ASKING = `connections:
  plant:
    url: \${env:MQTT_URL}
    protocolVersion: 5
triggers:
  jobs:
    connection: plant
    topic: jobs/in
    service: ask
    processing: concurrent
    maxConcurrency: 1000
    queueSize: 1000
  lonely:
    connection: plant
    topic: lonely/in
    service: ask-nobody
    retry:
      maxAttempts: 2
      delay: 10ms
    onError:
      publish:
        topic: errors/asking
services:
  ask:
    steps:
      - request:
          topic: svc/double
          payload: '{ "n": n }'
          timeout: 20s
          as: answer
      - publish:
          topic: jobs/out
          payload: '{ "n": n, "doubled": $answer.payload.doubled, "answered": $answer.payload.n }'
  ask-nobody:
    steps:
      - request:
          topic: svc/nobody
          timeout: 300ms
      - publish:
          topic: lonely/out
`;

describe.runIf(RUN_MOSQUITTO)('MQTT 5 request/response, against mosquitto', () => {
  let broker: Mosquitto;
  let answering: MqflowProcess;
  let asking: MqflowProcess;
  const dirs: string[] = [];
  let sink: TestClient;
  let requester: MqttClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    dirs.push(flowFolder({ 'flow.yaml': ANSWERING }), flowFolder({ 'flow.yaml': ASKING }));
    answering = startMqflow(dirs[0]!, { MQTT_URL: broker.url }, ['--log-level', 'info', '--instance', 'answering']);
    asking = startMqflow(dirs[1]!, { MQTT_URL: broker.url }, ['--log-level', 'info', '--instance', 'asking']);
    await answering.ready(['double']);
    await asking.ready(['jobs', 'lonely']);
    sink = await TestClient.connect(broker.url);
    await sink.subscribe(['jobs/out', 'errors/#', 'lonely/out'], 1);
    requester = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'test-requester' });
  }, 60_000);

  afterAll(async () => {
    for (const mq of [answering, asking]) {
      mq?.kill('SIGTERM');
      await mq?.exited;
    }
    await requester?.endAsync();
    await sink?.close();
    await broker?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('answers a real MQTT 5 requester on its response topic, with its correlation data', async () => {
    const replies: { topic: string; payload: string; correlation?: string }[] = [];
    requester.on('message', (topic, payload, packet) => replies.push({ topic, payload: payload.toString(), correlation: packet.properties?.correlationData?.toString('hex') }));
    await requester.subscribeAsync('mqflow/replies/test', { qos: 1 });
    await requester.publishAsync('svc/double', JSON.stringify({ n: 21 }), { qos: 1, properties: { responseTopic: 'mqflow/replies/test', correlationData: Buffer.from('c0ffee', 'hex') } });
    await expect.poll(() => replies.length, { timeout: 10_000 }).toBe(1);
    expect(replies[0]).toEqual({ topic: 'mqflow/replies/test', payload: '{"n":21,"doubled":42}', correlation: 'c0ffee' });
  });

  it('refuses a request without a response topic, or one outside allow, to the error route', async () => {
    await requester.publishAsync('svc/double', JSON.stringify({ n: 1 }), { qos: 1 });
    await requester.publishAsync('svc/double', JSON.stringify({ n: 2 }), { qos: 1, properties: { responseTopic: 'plant/valves/open', correlationData: Buffer.from('01', 'hex') } });
    await sink.waitFor(2, (m) => m.topic === 'errors/answering', 10_000);
    const reasons = sink.on('errors/answering').map((m) => JSON.parse(m.text) as { error: { code: string; message: string } });
    expect(reasons.map((r) => r.error.code)).toEqual(['MQFLOW_REPLY_TOPIC', 'MQFLOW_REPLY_TOPIC']);
    expect(reasons[0]!.error.message).toContain('no response topic');
    expect(reasons[1]!.error.message).toContain('not under allow: mqflow/replies/#');
  });

  it(`asks and answers ${TOTAL} requests in flight at once, every reply matched to its request`, async () => {
    const producer = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'test-producer' });
    await Promise.all(Array.from({ length: TOTAL }, (_, n) => producer.publishAsync('jobs/in', JSON.stringify({ n }), { qos: 1 })));
    await sink.waitFor(TOTAL, (m) => m.topic === 'jobs/out', 60_000);
    await producer.endAsync();
    const outputs = sink.on('jobs/out').map((m) => JSON.parse(m.text) as { n: number; doubled: number; answered: number });
    expect(new Set(outputs.map((o) => o.n)).size).toBe(TOTAL);
    expect(outputs.filter((o) => o.answered !== o.n || o.doubled !== 2 * o.n)).toEqual([]);
    const admin = await asking.waitFor((l) => l.event === 'admin');
    const status = (await (await fetch(`${admin.url as string}/api/status`)).json()) as { triggers: { name: string; heldPeak: number }[] };
    const peak = status.triggers.find((t) => t.name === 'jobs')!.heldPeak;
    console.log(`request/reply: ${TOTAL} requests, all matched; at most ${peak} in flight at once`);
    expect(peak).toBeGreaterThan(100);
    const metrics = await (await fetch(`${admin.url as string}/metrics`)).text();
    expect(metrics).toContain(`mqflow_mqtt_requests_total{connection="plant",outcome="replied"} ${TOTAL}`);
    expect(metrics).toContain(`mqflow_mqtt_request_duration_seconds_count{connection="plant"} ${TOTAL}`);
  }, 90_000);

  it('a request nobody answers times out, is retried, then goes to the error route', async () => {
    const producer = await TestClient.connect(broker.url);
    await producer.publish('lonely/in', { x: 1 });
    await producer.close();
    await sink.waitFor(1, (m) => m.topic === 'errors/asking', 10_000);
    const report = JSON.parse(sink.on('errors/asking')[0]!.text) as { error: { code: string }; attempts: number };
    expect(report).toMatchObject({ error: { code: 'MQFLOW_REQUEST_TIMEOUT' }, attempts: 2 });
    expect(sink.on('lonely/out')).toEqual([]);
  });
});
