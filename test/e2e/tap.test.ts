/**
 * `mqflow tap` against a running `mqflow run` under load, as a user would drive it: it shows
 * messages whole (received, steps, publish, done) with payloads cut at 1 KiB and secrets masked;
 * the server samples (at most --rate messages a second), bounds what a slow reader costs (at most
 * 256 events wait, the rest are dropped and counted, and the reader is told), takes at most 4
 * streams, and keeps the admin API's guard and token. (The CPU cost is measured by bench/tap.js,
 * not here: no timing is asserted.)
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));
const TOKEN = 'tap-test-token-3f9a6c2e';
const SECRET = 'sk-live-9d8c7b6a5f4e';

/** Runs the CLI without blocking this process (the broker runs in it). */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

interface Json {
  readonly [key: string]: unknown;
}

describe('mqflow tap', () => {
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let mq: MqflowProcess;
  let dir: string;
  let client: MqttClient;
  let admin: string;
  let sending: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    broker = await startEmbeddedBroker('127.0.0.1', 0);
    dir = flowFolder({
      'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
triggers:
  temperature-in:
    connection: plant
    topic: plant/+/temperature
    service: normalize
    qos: 0
  bulk-in:
    connection: plant
    topic: bulk/#
    service: echo
    qos: 0
services:
  normalize:
    steps:
      - transform: '{"celsius": $round((temp_f - 32) * 5 / 9, 1), "apiKey": "\${env:API_KEY}"}'
      - filter: celsius > -100
      - publish:
          topic: plant/celsius
          qos: 0
  echo:
    steps:
      - publish:
          topic: echoed/bulk
          qos: 0
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url, API_KEY: SECRET, MQFLOW_ADMIN_TOKEN: TOKEN }, ['--log-level', 'info']);
    await mq.ready(['temperature-in', 'bulk-in']);
    admin = (await mq.waitFor((l) => l.event === 'admin')).url as string;
    client = await connectAsync(broker.url, { clientId: 'tap-load' });
    // Steady load: 200 readings a second; one in ten carries the secret in its own payload.
    let n = 0;
    sending = setInterval(() => {
      for (let i = 0; i < 10; i++) {
        n++;
        void client.publishAsync('plant/north/temperature', JSON.stringify({ temp_f: 150 + (n % 20), note: n % 10 === 1 ? `leaked ${SECRET}` : 'ok' }), { qos: 0 });
      }
    }, 50);
  }, 30_000);

  afterAll(async () => {
    clearInterval(sending);
    await client?.endAsync();
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.close();
  }, 30_000);

  const status = async (): Promise<Json> => (await (await fetch(`${admin}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Json;

  it('prints whole messages — received, steps, publish, done — with secrets masked, and ends after --count', async () => {
    const run = await cli(['tap', '--admin', admin, '--trigger', 'temperature-in', '--count', '12', '--rate', '50', '--timeout', '30s'], { MQFLOW_ADMIN_TOKEN: TOKEN });
    expect(run.stderr).toContain('tapping http://127.0.0.1:');
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.filter((l) => / {3}done: processed in [\d.]+ ms$/.test(l))).toHaveLength(12);
    const first = /#(\d+) temperature-in ← plant\/north\/temperature qos 0 \(\d+ B\) \{"temp_f":\d+,"note":"[^"]*"\}$/.exec(lines[0]!);
    expect(first, lines[0]).not.toBeNull();
    // The first message, whole and in order.
    const id = `#${first![1]!}`;
    const own = lines.filter((l) => l.includes(` ${id} `)).map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d{3} #\d+ {1,3}/, ''));
    expect(own).toEqual([
      expect.stringMatching(/^temperature-in ← /),
      expect.stringMatching(/^services\.normalize\.steps\[0\] transform → continue \([\d.]+ ms\)$/),
      expect.stringMatching(/^services\.normalize\.steps\[1\] filter → continue \([\d.]+ ms\)$/),
      // The publish is reported as it is handed over, within its step; the step when it ends.
      expect.stringMatching(/^publish via plant → plant\/celsius qos 0 \(\d+ B\) \{"celsius":[\d.]+,"apiKey":"\[secret\]"\}$/),
      expect.stringMatching(/^services\.normalize\.steps\[2\] publish → continue \([\d.]+ ms\)$/),
      expect.stringMatching(/^done: processed in [\d.]+ ms$/),
    ]);
    expect(run.stdout).not.toContain(SECRET);
    // Readings that carried the secret show it masked.
    expect(run.stdout).toMatch(/"note":"leaked \[secret\]"/);
  }, 60_000);

  it('cuts payloads at 1 KiB and gives their size (--format json)', async () => {
    const big = JSON.stringify({ blob: 'x'.repeat(5000) });
    const tapping = cli(['tap', '--admin', admin, '--topic', 'bulk/#', '--count', '1', '--format', 'json', '--timeout', '20s'], { MQFLOW_ADMIN_TOKEN: TOKEN });
    const feeding = setInterval(() => void client.publishAsync('bulk/one', big, { qos: 0 }), 100);
    const run = await tapping;
    clearInterval(feeding);
    expect(run.status).toBe(0);
    const events = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
    expect(events.map((e) => e.type)).toEqual(['received', 'publish', 'step', 'done']);
    for (const e of [events[0]!, events[1]!]) {
      const payload = e.payload as { size: number; text: string; truncated: boolean };
      expect(payload.size).toBe(big.length);
      expect(payload.truncated).toBe(true);
      expect(payload.text).toBe(big.slice(0, 1024));
    }
    expect(events[0]).toMatchObject({ trigger: 'bulk-in', service: 'echo', topic: 'bulk/one', qos: 0 });
  }, 60_000);

  it('samples: at most --rate messages a second, whatever the load', async () => {
    // 200 messages a second arrive; 2 a second are taken (a burst of 2 at most, then 2/s).
    const run = await cli(['tap', '--admin', admin, '--trigger', 'temperature-in', '--rate', '2', '--timeout', '3s', '--format', 'json'], { MQFLOW_ADMIN_TOKEN: TOKEN });
    expect(run.status).toBe(0);
    const received = run.stdout.trim().split('\n').filter((l) => l.includes('"type":"received"'));
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(received.length).toBeLessThanOrEqual(2 + 2 * 4);
  }, 30_000);

  it('bounds a reader that does not keep up: at most 256 events wait, the rest are dropped, counted and reported', async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request(`${admin}/api/tap?topic=bulk/%23&rate=1000`, { headers: { authorization: `Bearer ${TOKEN}` } }, resolve).on('error', reject).end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    res.pause();
    // Large payloads (1 KiB shown per event) until the socket pushes back and events are dropped.
    const payload = 'y'.repeat(2000);
    const tapStream = async (): Promise<Json> => ((await status()).tap as { streams: Json[] }).streams[0]!;
    const deadline = Date.now() + 40_000;
    while (((await tapStream()).dropped as number) === 0 && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 300 }, (_, i) => client.publishAsync(`bulk/slow/${i}`, payload, { qos: 0 })));
      await new Promise((r) => setTimeout(r, 100));
    }
    const stream = await tapStream();
    expect(stream.dropped as number).toBeGreaterThan(0);
    expect(stream.queuedPeak as number).toBeLessThanOrEqual(256);
    expect(stream.queued as number).toBeLessThanOrEqual(256);
    // Reading again: what waited arrives, then how many were dropped.
    const dropped = new Promise<Json>((resolve) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const m = /event: dropped\ndata: (.*)\n/.exec(text);
        if (m !== null) resolve(JSON.parse(m[1]!) as Json);
        if (text.length > 1_000_000) text = text.slice(-10_000);
      });
      res.resume();
    });
    // The report goes out once the queue has drained and the next event comes.
    const nudge = setInterval(() => void client.publishAsync('bulk/nudge', 'n', { qos: 0 }), 100);
    const report = await dropped;
    clearInterval(nudge);
    expect(report.dropped as number).toBeGreaterThan(0);
    expect(report.total as number).toBeGreaterThanOrEqual(report.dropped as number);
    res.destroy();
    await expect.poll(async () => ((await status()).tap as { streams: unknown[] }).streams.length, { timeout: 10_000 }).toBe(0);
  }, 90_000);

  it('takes at most 4 streams; keeps the token, the guard and its own checks', async () => {
    const open: IncomingMessage[] = [];
    const get = (path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<IncomingMessage> =>
      new Promise((resolve, reject) => request(`${admin}${path}`, { headers }, resolve).on('error', reject).end());
    try {
      for (let i = 0; i < 4; i++) {
        const res = await get('/api/tap?topic=none/here');
        expect(res.statusCode).toBe(200);
        open.push(res);
      }
      const fifth = await get('/api/tap');
      expect(fifth.statusCode).toBe(503);
      fifth.resume();
      const refused = await cli(['tap', '--admin', admin], { MQFLOW_ADMIN_TOKEN: TOKEN });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/answered 503: 4 taps are attached already \(at most 4 at once\)/);
      expect(((await status()).tap as { streams: unknown[] }).streams).toHaveLength(4);
    } finally {
      for (const res of open) res.destroy();
    }
    await expect.poll(async () => ((await status()).tap as { streams: unknown[] }).streams.length, { timeout: 10_000 }).toBe(0);

    const noToken = await cli(['tap', '--admin', admin]);
    expect(noToken.status).toBe(1);
    expect(noToken.stderr).toContain('answered 401');
    const foreign = await get('/api/tap', { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' });
    expect(foreign.statusCode).toBe(403);
    foreign.resume();
    const unknown = await cli(['tap', '--admin', admin, '--trigger', 'nope'], { MQFLOW_ADMIN_TOKEN: TOKEN });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('answered 404: no trigger named "nope"');
    const badTopic = await get('/api/tap?topic=a/%23/b');
    expect(badTopic.statusCode).toBe(400);
    badTopic.resume();
    const usage = await cli(['tap', '--rate', '0']);
    expect(usage.status).toBe(2);
    const unreachable = await cli(['tap', '--admin', '127.0.0.1:1']);
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach the admin API at http://127.0.0.1:1');
  }, 60_000);
});
