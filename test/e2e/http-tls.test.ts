/**
 * HTTP with TLS both ways, and hostile clients, against `mqflow run` and Mosquitto: an http step
 * presents a client certificate to a server that requires one; a listener with `tls.ca` refuses a
 * client without a certificate its CA signed; a cached response spares requests; malformed and
 * hostile requests get an error each and the listener keeps answering (docs/architecture.md,
 * invariants 46 and 48).
 */
import { readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { makeTestPki, opensslAvailable, type TestPki } from '../support/certs.js';
import { json, startHttpServer, type TestHttpServer } from '../support/http-server.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

describe.runIf(RUN_MOSQUITTO && opensslAvailable())('HTTP with client certificates, a cache, and hostile clients', () => {
  let broker: Mosquitto;
  let pki: TestPki;
  let mtls: TestHttpServer;
  let dir: string;
  let mq: MqflowProcess;
  let listenerUrl: string;
  let sink: TestClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    pki = makeTestPki();
    // A server that requires a client certificate signed by the test CA.
    mtls = await startHttpServer((req, res) => json(res, 200, { device: req.url.split('/').pop() }), {
      cert: readFileSync(pki.serverCert, 'utf8'),
      key: readFileSync(pki.serverKey, 'utf8'),
      ca: readFileSync(pki.ca, 'utf8'),
    });
    dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
listeners:
  secure-hooks:
    port: 0
    tls:
      cert: ${pki.serverCert}
      key: ${pki.serverKey}
      ca: ${pki.ca}
endpoints:
  ping:
    listener: secure-hooks
    method: GET
    path: /ping
    service: pong
triggers:
  with-cert:
    connection: plant
    topic: in/with-cert
    service: with-cert
    onError:
      publish:
        topic: errors
  without-cert:
    connection: plant
    topic: in/without-cert
    service: without-cert
    onError:
      publish:
        topic: errors
services:
  pong:
    steps:
      - respond:
          body: '{ "pong": true }'
  with-cert:
    steps:
      - http:
          url: ${mtls.url}/devices/{{ device }}
          tls:
            ca: ${pki.ca}
            cert: ${pki.clientCert}
            key: ${pki.clientKey}
          cache:
            key: device
            ttl: 1m
      - publish:
          topic: out/with-cert
  without-cert:
    steps:
      - http:
          url: ${mtls.url}/devices/{{ device }}
          tls:
            ca: ${pki.ca}
      - publish:
          topic: out/without-cert
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url }, ['--log-level', 'info']);
    listenerUrl = (await mq.waitFor((l) => l.event === 'listening', 20_000)).url as string;
    await mq.ready(['with-cert', 'without-cert']);
    sink = await TestClient.connect(broker.url);
    await sink.subscribe('#', 1);
  }, 60_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    await sink?.close();
    await mtls?.close();
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  }, 30_000);

  it('an http step presents its client certificate; without one the server refuses it', async () => {
    const producer = await TestClient.connect(broker.url);
    await producer.publish('in/with-cert', { device: 'd1' });
    await sink.waitFor(1, (m) => m.topic === 'out/with-cert');
    expect(JSON.parse(sink.on('out/with-cert')[0]!.text)).toEqual({ device: 'd1' });
    await producer.publish('in/without-cert', { device: 'd2' });
    await sink.waitFor(1, (m) => m.topic === 'errors');
    expect((JSON.parse(sink.on('errors')[0]!.text) as { error: { code: string } }).error.code).toBe('MQFLOW_HTTP_CONNECT');
    expect(sink.on('out/without-cert')).toEqual([]);

    // A cached response: the same device again within the ttl sends no request.
    const before = mtls.requests.length;
    await producer.publish('in/with-cert', { device: 'd1' });
    await producer.publish('in/with-cert', { device: 'd1' });
    await sink.waitFor(3, (m) => m.topic === 'out/with-cert');
    expect(mtls.requests.length).toBe(before);
    await producer.close();
  });

  const get = (cert: boolean): Promise<string> =>
    new Promise((resolve) => {
      const req = httpsRequest(
        `${listenerUrl}/ping`,
        { ca: readFileSync(pki.ca), ...(cert ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}) },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        },
      );
      req.on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      req.end();
    });

  it('a listener with tls.ca answers a client with a certificate its CA signed, and no other', async () => {
    expect(await get(true)).toBe('200 {"pong":true}');
    expect(await get(false)).toMatch(/^error /);
  });

  it('malformed and hostile requests each get an error; the listener and mqflow keep running', async () => {
    const port = Number(new URL(listenerUrl).port);
    const raw = (text: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = tlsConnect({ port, host: '127.0.0.1', ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) }, () => socket.write(text));
        let out = '';
        socket.on('data', (d: Buffer) => (out += d.toString()));
        socket.on('close', () => resolve(out.split('\r\n')[0] ?? ''));
        socket.on('error', () => resolve(out.split('\r\n')[0] ?? ''));
        setTimeout(() => socket.destroy(), 3_000);
      });
    const cases: [string, RegExp][] = [
      ['NOT-HTTP\r\n\r\n', /^HTTP\/1\.1 400/],
      ['GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(20_000) + '\r\n\r\n', /^HTTP\/1\.1 431/],
      ['GET /%ff%fe/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 404/],
      ['GET /ping/../ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 200/],
      ['POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', /^HTTP\/1\.1 400/],
      ['POST /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /^HTTP\/1\.1 (400|405)/],
    ];
    for (const [text, expected] of cases) expect(await raw(text), text.slice(0, 40)).toMatch(expected);
    expect(await get(true)).toBe('200 {"pong":true}');
    expect(mq.lines.some((l) => l.level === 60)).toBe(false);
  });
});
