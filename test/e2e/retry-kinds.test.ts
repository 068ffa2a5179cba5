/**
 * Retry by failure kind, end to end (docs/flow-language.md, "retry" and "Failure kinds";
 * docs/architecture.md, invariants 61 and 62): `mqflow run` against the embedded broker and a real
 * HTTP server started here. With `maxAttempts: 3` a schema failure (deterministic) goes to the
 * error route after one attempt, an HTTP 503 (transient) is tried three times, and with
 * `failures: all` the schema failure is tried three times too; every report carries its kind.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { json, startHttpServer, type TestHttpServer } from '../support/http-server.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

interface Report {
  error: { code: string; kind: string };
  trigger: string;
  attempts: number;
}

describe('retry by failure kind, against the embedded broker and a real HTTP server', () => {
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let api: TestHttpServer;
  let dir: string;
  let mq: MqflowProcess;
  let sink: TestClient;

  const retry = (failures?: string): string => `    retry:
      maxAttempts: 3
      delay: 20ms${failures === undefined ? '' : `\n      failures: ${failures}`}
    onError:
      publish:
        topic: errors`;

  beforeAll(async () => {
    broker = await startEmbeddedBroker('127.0.0.1', 0);
    api = await startHttpServer((_req, res) => json(res, 503, { error: 'down for maintenance' }));
    dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
triggers:
  checked:
    connection: plant
    topic: in/checked
    service: checked
${retry()}
  checked-all:
    connection: plant
    topic: in/checked-all
    service: checked
${retry('all')}
  enrich:
    connection: plant
    topic: in/enrich
    service: enrich
${retry()}
services:
  checked:
    steps:
      - publish:
          topic: attempts/{{ $message.trigger }}
      - validate:
          schema: { type: object, required: [temp] }
  enrich:
    steps:
      - http:
          url: ${api.url}/devices/{{ device }}
      - publish:
          topic: out/enrich
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url }, ['--log-level', 'info']);
    await mq.ready(['checked', 'checked-all', 'enrich'], 20_000);
    sink = await TestClient.connect(broker.url);
    await sink.subscribe(['errors', 'attempts/#', 'out/#'], 1);
  }, 40_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    await sink?.close();
    await api?.close();
    await broker?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const reportOf = async (trigger: string): Promise<Report> => {
    await sink.waitFor(1, (m) => m.topic === 'errors' && (JSON.parse(m.text) as Report).trigger === trigger, 20_000);
    return sink.json('errors').map((r) => r as Report).find((r) => r.trigger === trigger)!;
  };

  it('a schema failure with maxAttempts 3 goes to the error route after one attempt', async () => {
    const producer = await TestClient.connect(broker.url);
    await producer.publish('in/checked', { hum: 40 });
    await producer.close();
    const report = await reportOf('checked');
    expect(report).toMatchObject({ attempts: 1, error: { code: 'MQFLOW_VALIDATE', kind: 'deterministic' } });
    expect(sink.on('attempts/checked')).toHaveLength(1);
    expect(mq.lines.filter((l) => l.event === 'retry' && l.trigger === 'checked')).toEqual([]);
  });

  it('an HTTP 503 from a real server is tried three times, then routed', async () => {
    const producer = await TestClient.connect(broker.url);
    await producer.publish('in/enrich', { device: 'd1' });
    await producer.close();
    const report = await reportOf('enrich');
    expect(report).toMatchObject({ attempts: 3, error: { code: 'MQFLOW_HTTP_STATUS', kind: 'transient' } });
    expect(api.requests.filter((r) => r.url === '/devices/d1')).toHaveLength(3);
    expect(sink.on('out/enrich')).toEqual([]);
    await mq.waitFor((l) => l.event === 'message-failed' && l.trigger === 'enrich');
    const retries = mq.lines.filter((l) => l.event === 'retry' && l.trigger === 'enrich');
    expect(retries.map((l) => [l.attempt, l.code, l.kind])).toEqual([
      [1, 'MQFLOW_HTTP_STATUS', 'transient'],
      [2, 'MQFLOW_HTTP_STATUS', 'transient'],
    ]);
  });

  it('with failures: all the schema failure is tried three times', async () => {
    const producer = await TestClient.connect(broker.url);
    await producer.publish('in/checked-all', { hum: 40 });
    await producer.close();
    const report = await reportOf('checked-all');
    expect(report).toMatchObject({ attempts: 3, error: { code: 'MQFLOW_VALIDATE', kind: 'deterministic' } });
    expect(sink.on('attempts/checked-all')).toHaveLength(3);
  });
});
