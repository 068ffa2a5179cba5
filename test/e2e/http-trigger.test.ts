/**
 * Endpoints (HTTP triggers) end to end, `mqflow run` against Mosquitto (docs/architecture.md,
 * invariants 47–48): a webhook that publishes to MQTT is answered 2xx only after the broker
 * acknowledged the publish; failures are 4xx or 5xx by cause; credentials, body size, slow
 * clients and a full queue are refused; a SIGKILL mid-request leaves the sender with an error,
 * never a 2xx.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { json, startHttpServer, type TestHttpServer } from '../support/http-server.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { freePort } from '../support/ports.js';
import { startProxy, type MqttProxy } from '../support/proxy.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOKEN = 'webhook-secret-1';
const auth = { authorization: `Bearer ${TOKEN}` };

const flow = (slowUrl: string): string => `connections:
  plant:
    url: \${env:MQTT_URL}
listeners:
  hooks:
    port: 0
    auth:
      bearer: \${env:WEBHOOK_TOKEN}
    maxBodyBytes: 1000
    requestTimeout: 1s
endpoints:
  door:
    listener: hooks
    path: /hooks/doors/{door}
    service: door-to-mqtt
  silent:
    listener: hooks
    method: PUT
    path: /hooks/silent
    service: silent
  slow:
    listener: hooks
    path: /hooks/slow/{n}
    service: slow
    processing: concurrent
    maxConcurrency: 2
    queueSize: 2
services:
  door-to-mqtt:
    input:
      type: object
      required: [state]
    steps:
      - transform: 'state = "broken" ? $error("the door sensor is broken") : $'
      - publish:
          topic: plant/doors/{{ $message.http.params.door }}/{{ state }}
          payload: '{ "door": $wildcards[0], "state": state, "by": $message.http.headers."x-sender" }'
      - respond:
          status: 202
          headers:
            Location: /doors/{{ $wildcards[0] }}
          body: '{ "accepted": true, "door": $wildcards[0] }'
  silent:
    steps:
      - publish:
          topic: plant/silent
  slow:
    steps:
      - http:
          url: ${slowUrl}/work/{{ $wildcards[0] }}
          timeout: 10s
          as: done
      - publish:
          topic: plant/slow/{{ $wildcards[0] }}
`;

describe.runIf(RUN_MOSQUITTO)('endpoints (HTTP triggers), against mosquitto', () => {
  let broker: Mosquitto;
  let proxy: MqttProxy;
  let slow: TestHttpServer;
  let slowDelayMs = 300;
  let dir: string;
  let mq: MqflowProcess;
  let base: string;
  let sink: TestClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    proxy = await startProxy(broker.url);
    slow = await startHttpServer((req, res) => void setTimeout(() => json(res, 200, { ok: true }), slowDelayMs));
    dir = flowFolder({ 'flow.yaml': flow(slow.url) });
    mq = startMqflow(dir, { MQTT_URL: proxy.url, WEBHOOK_TOKEN: TOKEN }, ['--log-level', 'info']);
    const listening = await mq.waitFor((l) => l.event === 'listening', 20_000);
    base = listening.url as string;
    await mq.waitFor((l) => l.event === 'connected' && l.connection === 'plant', 20_000);
    sink = await TestClient.connect(broker.url);
    await sink.subscribe('plant/#', 1);
  }, 60_000);

  afterAll(async () => {
    mq?.kill('SIGKILL');
    await mq?.exited;
    await sink?.close();
    await slow?.close();
    await proxy?.close();
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const post = (path: string, body: unknown, headers: Record<string, string> = auth, method = 'POST'): Promise<Response> =>
    fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('a webhook publishes to MQTT and is answered 2xx only after the broker acknowledged the publish', async () => {
    const response = await post('/hooks/doors/d7', { state: 'open' }, { ...auth, 'x-sender': 'badge-42' });
    // The answer came after mqflow got the PUBACK: the proxy between them saw it go by first.
    const packets = proxy.connections.flatMap((c) => c.packets);
    const publish = packets.find((p) => p.type === 'publish' && p.direction === 'toBroker' && p.topic === 'plant/doors/d7/open');
    expect(publish).toBeDefined();
    expect(packets.some((p) => p.type === 'puback' && p.direction === 'toClient' && p.messageId === publish!.messageId && p.index > publish!.index)).toBe(true);
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe('/doors/d7');
    expect(await response.json()).toEqual({ accepted: true, door: 'd7' });
    await sink.waitFor(1, (m) => m.topic === 'plant/doors/d7/open');
    expect(JSON.parse(sink.on('plant/doors/d7/open')[0]!.text)).toEqual({ door: 'd7', state: 'open', by: 'badge-42' });
  });

  it('answers 204 without a respond step, 4xx for the request\'s own faults and 500 when the work failed', async () => {
    const silent = await post('/hooks/silent', { x: 1 }, auth, 'PUT');
    expect(silent.status).toBe(204);
    const schema = await post('/hooks/doors/d1', { nope: true });
    expect(schema.status).toBe(422);
    expect(await schema.json()).toMatchObject({ status: 422, code: 'MQFLOW_INPUT' });
    const bad = await post('/hooks/doors/d1', '{not json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'MQFLOW_PAYLOAD_JSON' });
    const failed = await post('/hooks/doors/d1', { state: 'broken' });
    expect(failed.status).toBe(500);
    const problem = (await failed.json()) as { detail: string; code: string };
    expect(problem.code).toBe('D3137');
    // A 5xx tells the sender the work was not done, not why (that is in mqflow's log).
    expect(problem.detail).not.toContain('broken');
    expect(sink.on('plant/doors/d1/broken')).toEqual([]);
  });

  it('refuses missing credentials, unknown paths, other methods and bodies over the limit', async () => {
    expect((await post('/hooks/doors/d1', { state: 'open' }, {})).status).toBe(401);
    expect((await post('/hooks/doors/d1', { state: 'open' }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await post('/nothing/here', {})).status).toBe(404);
    const put = await post('/hooks/doors/d1', { state: 'open' }, auth, 'PUT');
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    expect((await post('/hooks/doors/d1', { state: 'open', pad: 'x'.repeat(2_000) })).status).toBe(413);
    expect(mq.lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain(TOKEN);
  });

  it('a slow client is cut off with 408, and does not hold the listener', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () => {
        socket.write(`POST /hooks/doors/d3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"state":`);
      });
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect((await post('/hooks/doors/d4', { state: 'open' })).status).toBe(202);
  });

  it('a full queue answers 503 with Retry-After: the requests it took are done, the others were not', async () => {
    slowDelayMs = 500;
    const responses = await Promise.all([1, 2, 3, 4, 5].map((n) => post(`/hooks/slow/${n}`, {})));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([204, 204, 503, 503, 503]);
    expect(responses.find((r) => r.status === 503)!.headers.get('retry-after')).toBe('1');
    await sink.waitFor(2, (m) => m.topic.startsWith('plant/slow/'));
    expect(sink.on('plant/slow/1').length + sink.on('plant/slow/2').length + sink.on('plant/slow/3').length + sink.on('plant/slow/4').length + sink.on('plant/slow/5').length).toBe(2);
  });

  it('a SIGKILL mid-request leaves the sender with an error, never a 2xx', async () => {
    slowDelayMs = 3_000;
    const request = post('/hooks/slow/killed', {}).then(
      (r) => `status ${r.status}`,
      (error: unknown) => `error ${String((error as Error).cause ?? error)}`,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(slow.requests.some((r) => r.url === '/work/killed')).toBe(true);
    mq.kill('SIGKILL');
    const outcome = await request;
    expect(outcome).toMatch(/^error /);
    expect(sink.on('plant/slow/killed')).toEqual([]);
  });
});

describe.runIf(RUN_MOSQUITTO)('endpoints across a hot reload', () => {
  let broker: Mosquitto;
  let slow: TestHttpServer;
  let dir: string;
  let mq: MqflowProcess;
  let port: number;

  const folder = (extra: string, maxBody = 1000): string => `connections:
  plant:
    url: \${env:MQTT_URL}
listeners:
  hooks:
    port: \${env:HOOK_PORT}
    maxBodyBytes: ${maxBody}
endpoints:
  first:
    listener: hooks
    path: /first
    service: first
${extra}
services:
  first:
    steps:
      - http:
          url: ${slow.url}/work
          as: done
      - publish:
          topic: plant/first
      - respond:
          body: '"first"'
  second:
    steps:
      - respond:
          body: '"second"'
`;

  beforeAll(async () => {
    broker = await startMosquitto();
    slow = await startHttpServer((req, res) => void setTimeout(() => json(res, 200, { ok: true }), 1_500));
    port = await freePort();
    dir = flowFolder({ 'flow.yaml': folder('') });
    mq = startMqflow(dir, { MQTT_URL: broker.url, HOOK_PORT: String(port) }, ['--watch', '--log-level', 'info']);
    await mq.waitFor((l) => l.event === 'listening', 20_000);
    await mq.waitFor((l) => l.event === 'watching', 20_000);
  }, 60_000);

  afterAll(async () => {
    mq?.kill('SIGKILL');
    await mq?.exited;
    await slow?.close();
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const edit = async (text: string): Promise<void> => {
    const before = mq.lines.filter((l) => l.event === 'reload-applied').length;
    writeFileSync(join(dir, 'flow.yaml.tmp'), text);
    renameSync(join(dir, 'flow.yaml.tmp'), join(dir, 'flow.yaml'));
    await mq.waitFor(() => mq.lines.filter((l) => l.event === 'reload-applied').length > before, 15_000);
  };

  it('a request in flight is answered by its version; a new endpoint answers on the same port; a changed listener opens again', async () => {
    const url = `http://127.0.0.1:${port}`;
    const inFlight = fetch(`${url}/first`, { method: 'POST' });
    await new Promise((r) => setTimeout(r, 300));
    await edit(folder(`  second:
    listener: hooks
    path: /second
    service: second`));
    const second = await fetch(`${url}/second`, { method: 'POST' });
    expect(second.status).toBe(200);
    expect(await second.text()).toBe('second');
    const first = await inFlight;
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('first');
    expect(mq.lines.filter((l) => l.event === 'listening')).toHaveLength(1);
    // A changed listener closes and opens again, on the same port, with its new limit.
    await edit(folder('', 10));
    expect(mq.lines.filter((l) => l.event === 'listening')).toHaveLength(2);
    expect((await fetch(`${url}/first`, { method: 'POST', body: 'x'.repeat(100) })).status).toBe(413);
    expect((await fetch(`${url}/second`, { method: 'POST' })).status).toBe(404);
  }, 60_000);
});
