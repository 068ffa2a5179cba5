/**
 * The http step end to end: `mqflow run` against Mosquitto calls real HTTP and HTTPS servers
 * started here (docs/architecture.md, invariants 45–46): success and enrichment, 4xx (not retried),
 * 5xx (retried, then the error route), timeouts, connection refused, a response over the size
 * limit, TLS verification, values that try to change the host or inject a header, and a slow
 * server whose backpressure keeps the trigger within its queue bound and the host within
 * maxConnections.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { makeTestPki, opensslAvailable, type TestPki } from '../support/certs.js';
import { json, startHttpServer, type TestHttpServer } from '../support/http-server.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { freePort } from '../support/ports.js';
import { repoRoot } from '../support/cli.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Report {
  error: { code: string; message: string };
  attempts: number;
  message: { payload: unknown };
}

describe.runIf(RUN_MOSQUITTO && opensslAvailable())('http step, against real HTTP servers', () => {
  let broker: Mosquitto;
  let api: TestHttpServer;
  let secure: TestHttpServer;
  let slow: TestHttpServer;
  let pki: TestPki;
  let closedPort: number;
  let dir: string;
  let mq: MqflowProcess;
  let sink: TestClient;
  let producer: TestClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    pki = makeTestPki();
    api = await startHttpServer((req, res) => {
      const device = /^\/devices\/([^/?]+)/.exec(req.url)?.[1];
      if (req.url.startsWith('/status-')) return json(res, Number(req.url.slice('/status-'.length)), { status: req.url });
      if (req.url === '/slow') return void setTimeout(() => json(res, 200, {}), 2_000);
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: 'x'.repeat(100_000) }));
        return;
      }
      if (req.method === 'POST') return json(res, 201, { got: JSON.parse(req.body) as unknown, type: req.headers['content-type'], auth: req.headers.authorization });
      if (device === 'unknown') return json(res, 404, { error: 'no such device' });
      return json(res, 200, { device: decodeURIComponent(device ?? ''), location: `hall-${device}`, path: req.url, trace: req.headers['x-trace'] });
    });
    secure = await startHttpServer((req, res) => json(res, 200, { secure: true }), { cert: readFileSync(pki.serverCert, 'utf8'), key: readFileSync(pki.serverKey, 'utf8') });
    slow = await startHttpServer((req, res) => void setTimeout(() => json(res, 200, { ok: true }), 20));
    closedPort = await freePort();
    const errors = `    retry:
      maxAttempts: 3
      delay: 10ms
    onError:
      publish:
        topic: errors`;
    dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
triggers:
  enrich:
    connection: plant
    topic: in/enrich
    service: enrich
${errors}
  status:
    connection: plant
    topic: in/status
    service: status
${errors}
  post:
    connection: plant
    topic: in/post
    service: post
${errors}
  secure:
    connection: plant
    topic: in/secure/+
    service: secure
${errors}
  slow:
    connection: plant
    topic: in/slow
    service: slow
    processing: concurrent
    maxConcurrency: 16
    queueSize: 20
services:
  enrich:
    steps:
      - http:
          url: ${api.url}/devices/{{ device }}
          headers:
            X-Trace: '{{ trace }}'
          allowStatus: [404]
          as: info
      - publish:
          topic: out/enrich
          payload: '{ "device": device, "status": $info.status, "body": $info.body }'
  status:
    steps:
      - http:
          url: ${api.url}/{{ path }}
          timeout: 300ms
          maxResponseBytes: 1000
      - publish:
          topic: out/status
  post:
    steps:
      - http:
          method: POST
          url: ${api.url}/readings
          auth:
            bearer: \${env:API_TOKEN}
      - publish:
          topic: out/post
  secure:
    steps:
      - choice:
          - when: $wildcards[0] = "trusted"
            steps:
              - http:
                  url: ${secure.url}/x
                  tls:
                    ca: ${pki.ca}
          - when: $wildcards[0] = "untrusted"
            steps:
              - http:
                  url: ${secure.url}/x
          - otherwise:
              - http:
                  url: http://127.0.0.1:${closedPort}/x
                  timeout: 2s
      - publish:
          topic: out/secure
  slow:
    steps:
      - http:
          url: ${slow.url}/work/{{ n }}
          maxConnections: 2
          as: response
      - publish:
          topic: out/slow
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url, API_TOKEN: 'sekret-token' }, ['--log-level', 'info']);
    await mq.ready(['enrich', 'status', 'post', 'secure', 'slow']);
    sink = await TestClient.connect(broker.url);
    await sink.subscribe('#', 1);
    producer = await TestClient.connect(broker.url);
  }, 60_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    await sink?.close();
    await producer?.close();
    await Promise.all([api?.close(), secure?.close(), slow?.close()]);
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  }, 30_000);

  const errorsFor = (predicate: (r: Report) => boolean): Report[] => sink.on('errors').map((m) => JSON.parse(m.text) as Report).filter(predicate);
  const waitError = async (predicate: (r: Report) => boolean): Promise<Report> => {
    await sink.waitFor(1, (m) => m.topic === 'errors' && predicate(JSON.parse(m.text) as Report), 20_000);
    return errorsFor(predicate)[0]!;
  };

  it('enriches a reading with the response, and sees an allowed 404 as a status', async () => {
    await producer.publish('in/enrich', { device: 'd1', trace: 't-1' });
    await producer.publish('in/enrich', { device: 'unknown' });
    await sink.waitFor(2, (m) => m.topic === 'out/enrich');
    const [first, second] = sink.on('out/enrich').map((m) => JSON.parse(m.text) as { status: number; body: Record<string, unknown> });
    expect(first).toEqual({ device: 'd1', status: 200, body: { device: 'd1', location: 'hall-d1', path: '/devices/d1', trace: 't-1' } });
    expect(second).toMatchObject({ status: 404, body: { error: 'no such device' } });
  });

  it('posts the payload as JSON with the bearer token from the environment', async () => {
    await producer.publish('in/post', { reading: 21.5 });
    await sink.waitFor(1, (m) => m.topic === 'out/post');
    expect(JSON.parse(sink.on('out/post')[0]!.text)).toEqual({ got: { reading: 21.5 }, type: 'application/json', auth: 'Bearer sekret-token' });
    expect(mq.lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain('sekret-token');
  });

  it('a 4xx fails the message at once; a 5xx is retried, then routed', async () => {
    await producer.publish('in/status', { path: 'status-422' });
    const client = await waitError((r) => JSON.stringify(r.message.payload).includes('422'));
    expect(client.error.code).toBe('MQFLOW_HTTP_STATUS');
    expect(client.attempts).toBe(1);
    const before = api.requests.filter((r) => r.url === '/status-503').length;
    await producer.publish('in/status', { path: 'status-503' });
    const server = await waitError((r) => JSON.stringify(r.message.payload).includes('503'));
    expect(server.error.code).toBe('MQFLOW_HTTP_STATUS');
    expect(server.attempts).toBe(3);
    expect(api.requests.filter((r) => r.url === '/status-503').length - before).toBe(3);
  });

  it('a timeout and a refused connection are retried, then routed; a response over the limit is not read', async () => {
    await producer.publish('in/status', { path: 'slow' });
    const timeout = await waitError((r) => JSON.stringify(r.message.payload).includes('slow'));
    expect(timeout).toMatchObject({ error: { code: 'MQFLOW_HTTP_TIMEOUT' }, attempts: 3 });
    await producer.publish('in/secure/refused', {});
    const refused = await waitError((r) => r.error.code === 'MQFLOW_HTTP_CONNECT' && r.error.message.includes(String(closedPort)));
    expect(refused.attempts).toBe(3);
    await producer.publish('in/status', { path: 'big' });
    const big = await waitError((r) => JSON.stringify(r.message.payload).includes('big'));
    expect(big).toMatchObject({ error: { code: 'MQFLOW_HTTP_RESPONSE_TOO_LARGE' }, attempts: 1 });
  });

  it('verifies the server certificate: the CA of the flow is trusted, nothing else is', async () => {
    await producer.publish('in/secure/trusted', {});
    await sink.waitFor(1, (m) => m.topic === 'out/secure');
    expect(JSON.parse(sink.on('out/secure')[0]!.text)).toEqual({ secure: true });
    await producer.publish('in/secure/untrusted', {});
    const refused = await waitError((r) => r.error.code === 'MQFLOW_HTTP_CONNECT' && r.error.message.includes(String(secure.port)));
    expect(refused.error.message).toMatch(/certificate|CERT/i);
    expect(sink.on('out/secure')).toHaveLength(1);
  });

  it('no payload chooses the host, climbs the path or adds a header', async () => {
    const hostile = ['evil.example.com/x', '@evil.example.com', '?admin=1#', '%2e%2e'];
    for (const device of hostile) await producer.publish('in/enrich', { device });
    await sink.waitFor(2 + hostile.length, (m) => m.topic === 'out/enrich');
    const paths = sink.on('out/enrich').slice(2).map((m) => (JSON.parse(m.text) as { body: { path: string } }).body.path);
    expect(paths).toEqual(hostile.map((d) => `/devices/${encodeURIComponent(d)}`));
    // Every request went to this server: the host never changed.
    await producer.publish('in/enrich', { device: '..' });
    const climb = await waitError((r) => r.error.code === 'MQFLOW_HTTP_URL');
    expect(climb.attempts).toBe(1);
    await producer.publish('in/enrich', { device: 'd2', trace: 'a\r\nX-Evil: 1' });
    const header = await waitError((r) => r.error.code === 'MQFLOW_HTTP_HEADER');
    expect(header.attempts).toBe(1);
    expect(api.requests.some((r) => r.headers['x-evil'] !== undefined)).toBe(false);
  });

  it('mqflow invoke sends a GET of an http step in a dry run, and a POST only with --live', async () => {
    const folder = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: ${broker.url}
services:
  look-up:
    steps:
      - http:
          url: ${api.url}/devices/{{ device }}
          as: info
      - publish:
          topic: out/look-up
          payload: $info.body.location
  post-reading:
    steps:
      - http:
          method: POST
          url: ${api.url}/readings
      - publish:
          topic: out/posted
`,
    });
    try {
      const invoke = (service: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> =>
        new Promise((resolve) => {
          execFile(process.execPath, [join(repoRoot, 'bin/mqflow.js'), 'invoke', service, '--dir', folder, '--payload', '{"device":"d5","reading":1}', ...extra], { env: { PATH: process.env.PATH ?? '' } }, (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
          );
        });
      const dry = await invoke('look-up');
      expect(dry).toMatchObject({ code: 0 });
      expect(dry.stdout).toContain('would publish to out/look-up via plant (qos 1): hall-d5');
      const posts = (): number => api.requests.filter((r) => r.method === 'POST' && r.url === '/readings').length;
      const before = posts();
      const refused = await invoke('post-reading');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('MQFLOW_HTTP_DRY_RUN');
      expect(posts()).toBe(before);
      const live = await invoke('post-reading', ['--live']);
      expect(live.code).toBe(0);
      expect(posts()).toBe(before + 1);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);

  it('a slow server applies backpressure: at most maxConnections requests in flight, the trigger within queueSize, nothing lost', async () => {
    const total = 300;
    const admin = await mq.waitFor((l) => l.event === 'admin');
    let heldPeak = 0;
    const watch = setInterval(() => {
      void fetch(`${admin.url as string}/api/status`)
        .then((r) => r.json() as Promise<{ triggers: { name: string; heldPeak: number }[] }>)
        .then((s) => (heldPeak = Math.max(heldPeak, s.triggers.find((t) => t.name === 'slow')!.heldPeak)))
        .catch(() => undefined);
    }, 100);
    for (let n = 0; n < total; n++) await producer.publish('in/slow', { n }, 1);
    await sink.waitFor(total, (m) => m.topic === 'out/slow', 60_000);
    clearInterval(watch);
    await sleep(200);
    expect(new Set(sink.on('out/slow').map((m) => m.text)).size).toBe(total);
    expect(slow.requests.length).toBe(total);
    expect(slow.peak.requests).toBeLessThanOrEqual(2);
    expect(slow.peak.sockets).toBeLessThanOrEqual(2);
    expect(heldPeak).toBeGreaterThan(2);
    expect(heldPeak).toBeLessThanOrEqual(20);
    const metrics = await (await fetch(`${admin.url as string}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`mqflow_http_requests_total\\{host="127.0.0.1:${slow.port}",status="2xx"\\} ${total}`));
    expect(metrics).toContain(`mqflow_http_request_duration_seconds_count{host="127.0.0.1:${slow.port}"} ${total}`);
  }, 90_000);
});
