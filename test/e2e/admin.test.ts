/**
 * The admin HTTP server against a running mqflow and a real broker (docs/operations.md): every
 * endpoint, suspend/resume under QoS 1 load with nothing lost, connection disable/enable, the
 * token rules, and no secret in any output.
 */
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, RUN_MOSQUITTO, type TestBroker } from '../support/brokers.js';
import { CapturedMqflow } from '../support/captured-runtime.js';
import { mqflow as cli } from '../support/cli.js';
import { startMosquitto } from '../support/mosquitto.js';
import { flowFolder, type LogLine } from '../support/runtime.js';

const PASSWORD = 'pl4nt-Passw0rd-9f1c';
const TOKEN = 'admin-token-7c2e91d04b5a';

const FLOWS = {
  'connections.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    username: mqflow
    password: \${env:PLANT_PASSWORD}
    reconnectPeriod: 200ms
`,
  'main.yaml': `triggers:
  main-in:
    connection: plant
    topic: load/+
    qos: 1
    service: stamp
    processing: concurrent
    maxConcurrency: 8
services:
  stamp:
    description: Copies the sequence number
    steps:
      - transform: '{"seq": seq}'
      - publish:
          topic: out/main
          qos: 1
`,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(BROKERS)('admin API against the $name', ({ start }) => {
  let broker: TestBroker;
  let dir: string;
  let mq: CapturedMqflow;
  let base: string;
  const bodies: string[] = [];

  /** A request to the admin server; every response body is kept for the secret check. */
  async function call(path: string, options: { method?: string; token?: string | null } = {}): Promise<{ status: number; text: string; json: () => unknown }> {
    const token = options.token === undefined ? TOKEN : options.token;
    const res = await fetch(`${base}${path}`, { method: options.method ?? 'GET', headers: token === null ? {} : { authorization: `Bearer ${token}` } });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, text, json: () => JSON.parse(text) as unknown };
  }
  const logLines = (event: string): LogLine[] => mq.lines.filter((l) => l.event === event);

  beforeAll(async () => {
    broker = await start();
    dir = flowFolder(FLOWS);
    mq = new CapturedMqflow(dir, { MQTT_URL: broker.url, PLANT_PASSWORD: PASSWORD, MQFLOW_ADMIN_TOKEN: TOKEN });
    for (let i = 0; i < 200 && !mq.lines.some((l) => l.event === 'subscribed'); i++) await sleep(50);
    const admin = mq.lines.find((l) => l.event === 'admin');
    if (admin === undefined) throw new Error(`mqflow did not start its admin server:\n${mq.stdout}\n${mq.stderr}`);
    base = admin.url as string;
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.stop();
  }, 30_000);

  it('serves /healthz and /readyz without a token, and everything else only with the right one', async () => {
    expect(await call('/healthz', { token: null })).toMatchObject({ status: 200 });
    const ready = await call('/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ ready: true, reasons: [] });

    for (const path of ['/', '/metrics', '/api/status']) {
      expect((await call(path, { token: null })).status, path).toBe(401);
      expect((await call(path, { token: 'admin-token-wrong-guess' })).status, path).toBe(401);
    }
    for (let i = 0; i < 50 && logLines('admin-unauthorized').length < 6; i++) await sleep(20);
    const refused = logLines('admin-unauthorized');
    expect(refused.length).toBe(6);
    expect(refused[0]).toMatchObject({ method: 'GET', path: '/' });
    // The token given as ?token= (the status page's way) works, and never reaches the log.
    expect((await call(`/api/status?token=${TOKEN}`, { token: null })).status).toBe(200);
    expect((await call('/api/status?token=admin-token-wrong-guess', { token: null })).status).toBe(401);
    expect(JSON.stringify(logLines('admin-unauthorized'))).not.toContain('wrong-guess');
    expect((await call('/nothing-here')).status).toBe(404);
    expect((await call('/api/triggers/main-in/suspend')).status).toBe(405);
    expect((await call('/api/triggers/no-such/suspend', { method: 'POST' })).status).toBe(404);
  });

  it('reports every connection, trigger and service with state and counters; /metrics has the same numbers', async () => {
    const client = await connectAsync(broker.url, { clientId: `admin-counters-${Date.now()}` });
    try {
      const outputs: number[] = [];
      client.on('message', (_t, p) => outputs.push((JSON.parse(p.toString()) as { seq: number }).seq));
      await client.subscribeAsync('out/main', { qos: 1 });
      const before = (await call('/api/status')).json() as { triggers: { counters: { received: number } }[] };
      for (let i = 1; i <= 20; i++) await client.publishAsync('load/a', JSON.stringify({ seq: i }), { qos: 1 });
      await client.publishAsync('load/a', 'not json', { qos: 1 });
      for (let i = 0; i < 100 && outputs.length < 20; i++) await sleep(50);
      // Idle: every message received is processed or failed (counters move after the publish is acknowledged).
      const settledStatus = async (): Promise<Record<string, unknown>> => (await call('/api/status')).json() as Record<string, unknown>;
      type Counters = { received: number; processed: number; failed: number };
      const counters = (s: Record<string, unknown>): Counters => (s.triggers as { counters: Counters }[])[0]!.counters;
      let status = await settledStatus();
      const expected = before.triggers[0]!.counters.received + 21;
      for (let i = 0; i < 100 && (counters(status).received !== expected || counters(status).received !== counters(status).processed + counters(status).failed); i++) {
        await sleep(50);
        status = await settledStatus();
      }

      expect(status).toMatchObject({
        folder: dir,
        flowVersion: 1,
        reloads: { applied: 0, unchanged: 0, failed: 0 },
        connections: [{ name: 'plant', enabled: true, running: true, state: 'connected', urls: [expect.stringContaining(broker.url.replace('mqtt://', '')) as string] }],
        triggers: [
          {
            name: 'main-in',
            connection: 'plant',
            service: 'stamp',
            topics: ['load/+'],
            qos: 1,
            enabled: true,
            suspended: false,
            running: true,
            state: 'subscribed',
            counters: { received: before.triggers[0]!.counters.received + 21, failed: expect.any(Number) as number },
            lastError: expect.stringContaining('not valid JSON') as string,
          },
        ],
        services: [{ name: 'stamp', description: 'Copies the sequence number', steps: 2 }],
      });
      const metrics = (await call('/metrics')).text;
      const value = (line: string): number => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
      const t = counters(status);
      expect(value('mqflow_trigger_messages_received_total{trigger="main-in"}')).toBe(t.received);
      expect(value('mqflow_trigger_messages_processed_total{trigger="main-in"}')).toBe(t.processed);
      expect(value('mqflow_trigger_messages_failed_total{trigger="main-in"}')).toBe(t.failed);
      expect(value('mqflow_trigger_processing_seconds_count{trigger="main-in",outcome="processed"}')).toBe(t.processed);
      expect(value('mqflow_trigger_subscribed{trigger="main-in"}')).toBe(1);
      expect(value('mqflow_connection_up{connection="plant"}')).toBe(1);
      expect(value('mqflow_connection_publishes_total{connection="plant",outcome="ok"}')).toBeGreaterThanOrEqual(20);
      expect(value('mqflow_reloads_total{outcome="applied"}')).toBe(0);
      expect(value('mqflow_flow_version')).toBe(1);
      expect(metrics).toMatch(/^mqflow_build_info\{version="\d+\.\d+\.\d+",node="v\d+/m);
      expect(metrics).toMatch(/^mqflow_process_resident_memory_bytes \d+/m);
      const page = await call('/');
      expect(page.status).toBe(200);
      expect(page.text).toContain('<title>mqflow status</title>');
    } finally {
      await client.endAsync();
    }
  });

  it('suspend stops processing under QoS 1 load (messages wait at the broker), resume picks up where it stopped; nothing is lost', async () => {
    const client: MqttClient = await connectAsync(broker.url, { clientId: `admin-load-${Date.now()}` });
    try {
      const seen = new Set<number>();
      client.on('message', (_t, p) => seen.add((JSON.parse(p.toString()) as { seq: number }).seq));
      await client.subscribeAsync('out/main', { qos: 1 });
      const total = 1500;
      const load = (async () => {
        for (let i = 1; i <= total; i++) {
          client.publish('load/b', JSON.stringify({ seq: 100_000 + i }), { qos: 1 });
          if (i % 25 === 0) await sleep(25); // about 1,000 msg/s
        }
      })();
      await sleep(400);
      const suspended = await call('/api/triggers/main-in/suspend', { method: 'POST' });
      expect(suspended.json()).toEqual({ trigger: 'main-in', suspended: true, running: true });
      await sleep(300); // what was in flight finishes
      const processed = (): Promise<number> => call('/api/status').then((r) => (r.json() as { triggers: { counters: { processed: number } }[] }).triggers[0]!.counters.processed);
      const atSuspend = await processed();
      const outputsAtSuspend = seen.size;
      await sleep(800);
      expect(await processed()).toBe(atSuspend);
      expect(seen.size).toBe(outputsAtSuspend);
      const state = (await call('/api/status')).json() as { triggers: { state: string; suspended: boolean }[] };
      expect(state.triggers[0]).toMatchObject({ state: 'suspended', suspended: true });
      expect((await call('/readyz', { token: null })).status).toBe(200); // suspended on purpose is still ready
      expect((await call('/api/triggers/main-in/resume', { method: 'POST' })).json()).toEqual({ trigger: 'main-in', suspended: false, running: true });
      await load;
      for (let i = 0; i < 300 && [...Array(total).keys()].some((k) => !seen.has(100_001 + k)); i++) await sleep(50);
      const missing = [...Array(total).keys()].map((k) => 100_001 + k).filter((s) => !seen.has(s));
      expect(missing).toEqual([]);
      expect(outputsAtSuspend).toBeLessThan(total);
      expect(logLines('trigger-suspended')).toHaveLength(1);
      expect(logLines('trigger-resumed')).toHaveLength(1);
    } finally {
      await client.endAsync();
    }
  }, 60_000);

  it('disabling a connection stops its triggers and /readyz is not ready until it is enabled again', async () => {
    const disabled = await call('/api/connections/plant/disable', { method: 'POST' });
    expect(disabled.json()).toEqual({ connection: 'plant', enabled: false, triggersStarted: [], triggersStopped: ['main-in'] });
    const status = (await call('/api/status')).json() as { connections: unknown[]; triggers: unknown[] };
    expect(status.connections[0]).toMatchObject({ enabled: false, running: false, state: 'disabled', reason: 'disabled through the admin API' });
    expect(status.triggers[0]).toMatchObject({ running: false, state: 'not running', reason: 'connection plant is disabled' });
    // A connection the operator turned off does nothing: not ready, and /readyz says why (invariant 31).
    const readyz = await call('/readyz', { token: null });
    expect(readyz.status).toBe(503);
    expect(readyz.json()).toEqual({ ready: false, reasons: ['connection plant is disabled through the admin API'] });

    const enabled = await call('/api/connections/plant/enable', { method: 'POST' });
    expect(enabled.json()).toEqual({ connection: 'plant', enabled: true, triggersStarted: ['main-in'], triggersStopped: [] });
    for (let i = 0; i < 100 && (await call('/readyz', { token: null })).status !== 200; i++) await sleep(50);
    const after = (await call('/api/status')).json() as { triggers: unknown[] };
    expect(after.triggers[0]).toMatchObject({ running: true, state: 'subscribed' });
  });

  it('no password or token appears in any log line, response or error', () => {
    const everything = [mq.stdout, mq.stderr, ...bodies].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(TOKEN);
  });
});

describe.each(BROKERS)('one source of truth (the engine snapshot), against the $name', ({ start }) => {
  it('after onError: suspend, /api/status and /metrics both say the trigger is suspended, and why', async () => {
    const broker = await start();
    const dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 200ms
triggers:
  fragile:
    connection: plant
    topic: fragile/in
    service: strict
    onError:
      suspend: { resumeAfter: 1m }
services:
  strict:
    steps:
      - transform: '$error("fails on purpose")'
`,
    });
    const mq = new CapturedMqflow(dir, { MQTT_URL: broker.url, MQFLOW_ADMIN_TOKEN: TOKEN }, ['--instance', `snap${Date.now()}`]);
    const client = await connectAsync(broker.url, { clientId: `admin-snapshot-${Date.now()}` });
    try {
      for (let i = 0; i < 200 && !mq.lines.some((l) => l.event === 'subscribed'); i++) await sleep(50);
      const url = mq.lines.find((l) => l.event === 'admin')!.url as string;
      const get = async (path: string): Promise<string> => (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      await client.publishAsync('fragile/in', '{"x":1}', { qos: 1 });
      for (let i = 0; i < 100 && !mq.lines.some((l) => l.event === 'suspended'); i++) await sleep(50);
      const status = JSON.parse(await get('/api/status')) as { triggers: { name: string; suspended: boolean; suspendedBy?: string; state: string }[] };
      expect(status.triggers[0]).toMatchObject({ name: 'fragile', suspended: true, suspendedBy: 'onError: suspend', state: 'suspended' });
      const metrics = await get('/metrics');
      expect(metrics).toMatch(/^mqflow_trigger_suspended\{trigger="fragile"\} 1$/m);
      expect(metrics).toMatch(/^mqflow_trigger_messages_failed_total\{trigger="fragile"\} 1$/m);
      // Suspended by its error route, not by the operator: not ready (invariant 31).
      const readyz = await fetch(`${url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(((await readyz.json()) as { reasons: string[] }).reasons).toEqual(['trigger fragile is suspended (onError: suspend): services.strict.steps[0]: JSONata error D3137: fails on purpose']);
    } finally {
      await client.endAsync();
      mq.kill('SIGTERM');
      await mq.exited;
      rmSync(dir, { recursive: true, force: true });
      await broker.stop();
    }
  });
});

describe('readiness without a broker', () => {
  it('/readyz answers 503 with the reasons while the broker is unreachable', async () => {
    const dir = flowFolder(FLOWS);
    const mq = new CapturedMqflow(dir, { MQTT_URL: 'mqtt://127.0.0.1:1', PLANT_PASSWORD: PASSWORD });
    try {
      for (let i = 0; i < 100 && !mq.lines.some((l) => l.event === 'admin'); i++) await sleep(50);
      const url = mq.lines.find((l) => l.event === 'admin')!.url as string;
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ready: boolean; reasons: string[] };
      expect(body.ready).toBe(false);
      expect(body.reasons).toEqual([expect.stringMatching(/^connection plant is (connecting|reconnecting)/), expect.stringMatching(/^trigger main-in is (connecting|reconnecting)/)]);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      mq.kill('SIGTERM');
      await mq.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('admin token rules', () => {
  const dir = flowFolder(FLOWS);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = { MQTT_URL: 'mqtt://127.0.0.1:1', PLANT_PASSWORD: PASSWORD };

  it('refuses a non-loopback address without a token, and a short token', () => {
    const open = cli(['run', dir, '--admin', '0.0.0.0:0', '--no-pretty'], { env });
    expect(open.status).toBe(2);
    expect(open.stderr).toContain('refusing to serve the admin API on 0.0.0.0:0, which is not a loopback address, without a token');
    const short = cli(['run', dir, '--admin', '0.0.0.0:0', '--admin-token', 'short'], { env });
    expect(short.status).toBe(2);
    expect(short.stderr).toContain('the admin token must be at least 16 characters');
    expect(short.stderr).not.toContain('short\n');
    const bad = cli(['run', dir, '--admin', 'localhost'], { env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--admin must be HOST:PORT');
  });
});

/** A raw HTTP request, with any Host, Origin or Content-Type a browser or an attacker could send. */
function raw(url: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path, method: options.method ?? 'GET', headers: { host: `${hostname}:${port}`, ...options.headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('the admin API from a web page (loopback, no token: what a browser on the same machine reaches)', () => {
  let broker: TestBroker;
  let dir: string;
  let mq: CapturedMqflow;
  let url: string;
  let port: string;
  const suspended = async (): Promise<boolean> => (JSON.parse((await raw(url, '/api/status')).text) as { triggers: { suspended: boolean }[] }).triggers[0]!.suspended;

  beforeAll(async () => {
    broker = await BROKERS[0]!.start();
    dir = flowFolder(FLOWS);
    mq = new CapturedMqflow(dir, { MQTT_URL: broker.url, PLANT_PASSWORD: PASSWORD }, ['--admin-host', 'mqflow.plant.test']);
    for (let i = 0; i < 200 && !mq.lines.some((l) => l.event === 'subscribed'); i++) await sleep(50);
    url = mq.lines.find((l) => l.event === 'admin')!.url as string;
    port = new URL(url).port;
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.stop();
  });

  it('refuses a cross-origin change (a form or a text/plain fetch from another page): 403, and nothing changes', async () => {
    const simple = await raw(url, '/api/triggers/main-in/suspend', { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body: '{}' });
    expect(simple.status).toBe(403);
    expect((JSON.parse(simple.text) as { error: string }).error).toMatch(/^cross-origin requests are refused/);
    const form = await raw(url, '/api/connections/plant/disable', { method: 'POST', headers: { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    expect(form.status).toBe(403);
    // Without an Origin (not a browser's cross-site request, but not JSON either) a change is still refused.
    const plain = await raw(url, '/api/triggers/main-in/suspend', { method: 'POST', headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(403);
    expect((JSON.parse(plain.text) as { error: string }).error).toMatch(/needs Content-Type: application\/json/);
    expect(await suspended()).toBe(false);
    expect((await raw(url, '/readyz')).status).toBe(200);
    expect(mq.lines.filter((l) => l.event === 'admin-refused')).toHaveLength(3);
  });

  it('refuses a foreign Host (DNS rebinding) on every endpoint: 421, even where the origin looks like its own', async () => {
    const evil = `rebind.evil.example:${port}`;
    for (const path of ['/api/status', '/readyz', '/healthz', '/metrics', '/']) {
      expect((await raw(url, path, { headers: { host: evil } })).status, path).toBe(421);
    }
    const change = await raw(url, '/api/triggers/main-in/suspend', { method: 'POST', headers: { host: evil, origin: `http://${evil}`, 'content-type': 'application/json' }, body: '{}' });
    expect(change.status).toBe(421);
    expect(JSON.parse(change.text)).toEqual({ error: `this admin server does not answer to Host "${evil}"; reach it by 127.0.0.1:${port} or localhost, or name the host with --admin-host` });
    // The right name on another port is another server.
    expect((await raw(url, '/api/status', { headers: { host: '127.0.0.1:1' } })).status).toBe(421);
    expect(await suspended()).toBe(false);
  });

  it('answers its own address, localhost and --admin-host names, and the status page\'s own JSON requests', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `mqflow.plant.test:${port}`]) {
      expect((await raw(url, '/api/status', { headers: { host } })).status, host).toBe(200);
    }
    const page = { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' };
    const done = await raw(url, '/api/triggers/main-in/suspend', { method: 'POST', headers: page, body: '{}' });
    expect(done.status).toBe(200);
    expect(await suspended()).toBe(true);
    expect((await raw(url, '/api/triggers/main-in/resume', { method: 'POST', headers: page, body: '{}' })).status).toBe(200);
    expect(await suspended()).toBe(false);
    expect((await raw(url, '/')).text).toContain(`'content-type': 'application/json'`);
  });
});

describe.runIf(RUN_MOSQUITTO)('/readyz and a stuck trigger', () => {
  it('is not ready while a trigger holds a message it cannot finish (its output broker frozen), and ready again once it finishes', async () => {
    const input = await startMosquitto();
    const output = await startMosquitto();
    const dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: \${env:IN_URL}
  archive:
    url: \${env:OUT_URL}
    publishTimeout: 1m
triggers:
  archive-in:
    connection: plant
    topic: archive/in
    qos: 1
    service: archive
services:
  archive:
    steps:
      - publish: { connection: archive, topic: archive/out, qos: 1 }
`,
    });
    const mq = new CapturedMqflow(dir, { IN_URL: input.url, OUT_URL: output.url }, ['--stuck-after', '1s']);
    const client = await connectAsync(input.url, { clientId: `stuck-${Date.now()}` });
    try {
      for (let i = 0; i < 200 && mq.lines.filter((l) => l.event === 'connected').length < 2; i++) await sleep(50);
      const url = mq.lines.find((l) => l.event === 'admin')!.url as string;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      output.freeze();
      await client.publishAsync('archive/in', '{"n":1}', { qos: 1 });
      let readyz = await fetch(`${url}/readyz`);
      for (let i = 0; i < 100 && readyz.status === 200; i++) {
        await sleep(50);
        readyz = await fetch(`${url}/readyz`);
      }
      expect(readyz.status).toBe(503);
      expect(((await readyz.json()) as { reasons: string[] }).reasons).toEqual([expect.stringMatching(/^trigger archive-in is stuck: it holds 1 message and has finished none for \d+ s$/)]);
      output.thaw();
      for (let i = 0; i < 100 && (await fetch(`${url}/readyz`)).status !== 200; i++) await sleep(50);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const status = (await (await fetch(`${url}/api/status`)).json()) as { triggers: { counters: { processed: number }; stalledMs: number }[] };
      expect(status.triggers[0]).toMatchObject({ counters: { processed: 1 }, stalledMs: 0 });
    } finally {
      output.thaw();
      await client.endAsync();
      mq.kill('SIGTERM');
      await mq.exited;
      rmSync(dir, { recursive: true, force: true });
      await input.stop();
      await output.stop();
    }
  }, 30_000);
});
