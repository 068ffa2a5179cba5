/**
 * What a user reads when a connection cannot be made (docs/running.md, "Logs"; docs/architecture.md,
 * invariant 59): a connection pointed at an HTTP server, at Mosquitto's plain port with mqtts://, at
 * its TLS port with mqtt://, at a closed port, at a host name that does not exist. Each time one
 * error line names the connection and its URL and says the likely cause — one line, although the
 * connection's publishing client and its two trigger clients each fail again and again. Then pretty
 * output written to a file: no colours, no empty stack.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { makeTestPki, opensslAvailable, type TestPki } from '../support/certs.js';
import { startHttpServer, type TestHttpServer } from '../support/http-server.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { freePort } from '../support/ports.js';
import { flowFolder, startMqflow, type LogLine, type MqflowProcess } from '../support/runtime.js';

const CI = process.env.CI === 'true';

/** A connection `plant` at `url`, with two triggers on it: three clients that fail to connect. */
const flow = (url: string): string => `connections:
  plant:
    url: ${url}
    reconnectPeriod: 100ms
    connectTimeout: 5s
triggers:
  readings:
    connection: plant
    topic: in/readings/+
    service: forward
  alarms:
    connection: plant
    topic: in/alarms/+
    service: forward
services:
  forward:
    steps:
      - publish: { topic: out/forwarded }
`;

const running: MqflowProcess[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

const showLog = (lines: readonly LogLine[]): string => `log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`;

/** Polls `probe` until it is true; fails with `describe()` after `timeoutMs`. */
async function until(what: string, probe: () => boolean, describeState: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${describeState()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs the flow against `url` until each of the three clients failed three times (the debug lines
 * of each attempt), and returns the error lines the connection logged meanwhile.
 */
async function errorLines(url: string): Promise<LogLine[]> {
  const dir = flowFolder({ 'flow.yaml': flow(url) });
  folders.push(dir);
  const p = startMqflow(dir, {});
  running.push(p);
  const attempts = (trigger: string | undefined): number => p.lines.filter((l) => l.event === 'connection-attempt-failed' && l.trigger === trigger).length;
  await until('three failed attempts of each client', () => [undefined, 'readings', 'alarms'].every((t) => attempts(t) >= 3), () => showLog(p.lines));
  expect(p.lines.filter((l) => l.event === 'connected' || l.event === 'subscribed')).toEqual([]);
  return p.lines.filter((l) => l.event === 'connection-error');
}

/** The one error line: level error, the connection's (no trigger, no client id), naming the URL. */
function theOneLine(lines: readonly LogLine[], url: string): LogLine {
  expect(lines, showLog(lines)).toHaveLength(1);
  const line = lines[0]!;
  expect(line).toMatchObject({ level: 50, connection: 'plant', url });
  expect(line.trigger).toBeUndefined();
  expect(line.msg.startsWith(`connection plant: cannot connect to ${url}: `)).toBe(true);
  return line;
}

describe('connection errors name the connection, the URL and the likely cause, once', () => {
  let http: TestHttpServer;
  beforeAll(async () => {
    http = await startHttpServer((_request, response) => {
      response.end('hello');
    });
  });
  afterAll(async () => {
    await http?.close();
  });

  it('(a) an HTTP server on the port: not MQTT', async () => {
    const url = `mqtt://127.0.0.1:${http.port}`;
    const line = theOneLine(await errorLines(url), url);
    expect(line.cause).toBe('not-mqtt');
    expect(line.msg).toContain('the server on that port does not speak MQTT — an HTTP server? the wrong port?');
    expect(line.msg).toContain('(Invalid header flag bits');
  });

  it('(d) a closed port: refused, is the broker running?', async () => {
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    const line = theOneLine(await errorLines(url), url);
    expect(line.cause).toBe('refused');
    expect(line.msg).toMatch(/connection refused — nothing listens on that port: is the broker running, and is the host and port right\? \(connect ECONNREFUSED/);
  });

  it('(e) a host name that does not exist: DNS', async () => {
    const url = 'mqtt://mqflow-broker.invalid:1883';
    const line = theOneLine(await errorLines(url), url);
    expect(line.cause).toBe('dns');
    expect(line.msg).toMatch(/check the host name in the URL/);
    expect(line.msg).toContain('mqflow-broker.invalid');
  });

  describe.runIf(RUN_MOSQUITTO && (CI || opensslAvailable()))('against Mosquitto with a plain and a TLS listener', () => {
    let pki: TestPki;
    let broker: Mosquitto;
    let tlsPort: number;
    beforeAll(async () => {
      pki = makeTestPki();
      const [plainPort, port] = [await freePort(), await freePort()];
      tlsPort = port;
      broker = await startMosquitto(
        `listener ${plainPort} 127.0.0.1
allow_anonymous true
listener ${tlsPort} 127.0.0.1
cafile ${pki.ca}
certfile ${pki.serverCert}
keyfile ${pki.serverKey}
allow_anonymous true
`,
        { port: plainPort },
      );
    });
    afterAll(async () => {
      await broker?.stop();
      if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
    });

    it('(b) mqtts:// on the plain port: TLS mismatch, use mqtt://', async () => {
      const url = `mqtts://127.0.0.1:${broker.port}`;
      const line = theOneLine(await errorLines(url), url);
      expect(line.cause).toBe('tls-mismatch');
      expect(line.msg).toContain("the TLS handshake failed — is the port plain MQTT? use mqtt:// for it, or the broker's TLS port (usually 8883)");
    });

    it('(c) mqtt:// on the TLS port: TLS mismatch, use mqtts://', async () => {
      const url = `mqtt://127.0.0.1:${tlsPort}`;
      const line = theOneLine(await errorLines(url), url);
      expect(line.cause).toBe('tls-mismatch');
      expect(line.msg).toContain("a TLS port? use mqtts:// for it, or the broker's plain port (usually 1883)");
    });
  });
});

describe('pretty output written to a file', () => {
  const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));

  it('has no colours and no empty stack, and the connection error on one line', async () => {
    const url = `mqtt://127.0.0.1:${await freePort()}`;
    const dir = flowFolder({ 'flow.yaml': flow(url) });
    folders.push(dir);
    const file = join(dir, 'out.log');
    writeFileSync(file, '');
    const out = openSync(file, 'a');
    // FORCE_COLOR and NO_COLOR unset: the file alone must turn colours off.
    const child = spawn(process.execPath, [bin, 'run', dir, '--pretty', '--no-admin'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', out, 'pipe'] });
    closeSync(out);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await until('the connection error in the file', () => readFileSync(file, 'utf8').includes('cannot connect'), () => `file:\n${readFileSync(file, 'utf8')}\nstderr:\n${stderr}`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(String.fromCharCode(27)); // no ANSI escape
    expect(text).not.toMatch(/"stack":\s*(""|\n|$)/m);
    expect(text).not.toContain('"stack"');
    const errors = text.split('\n').filter((l) => l.includes('ERROR'));
    expect(errors, text).toHaveLength(1);
    expect(errors[0]).toContain(`ERROR: connection plant: cannot connect to ${url}: connection refused`);
    expect(errors[0]).toContain('"code":"ECONNREFUSED"');
  }, 60_000);
});
