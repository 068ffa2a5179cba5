/**
 * The connection options of flow files (docs/flow-language.md, section 3) against a real
 * Mosquitto: TLS and mutual TLS, credentials, refused subscriptions, a broker that is not there
 * yet, WebSocket, failover URLs, MQTT 5 properties, will and birth messages. Each test publishes
 * real messages and checks what a user would see: outputs on the broker and mqflow's log lines.
 */
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CapturedMqflow } from '../support/captured-runtime.js';
import { makeTestPki, opensslAvailable, type TestPki } from '../support/certs.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { dynamicSecurityPlugin, mosquittoPasswdAvailable, writeDynamicSecurity, writePasswordFile } from '../support/mosquitto-security.js';
import { TestClient } from '../support/mqtt.js';
import { freePort } from '../support/ports.js';
import { flowFolder, startMqflow, type LogLine, type MqflowProcess } from '../support/runtime.js';

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/**
 * One connection named `broker` (its settings given as YAML, indented by 4), one trigger on
 * in/readings/+ and a service that converts Fahrenheit to Celsius and publishes
 * out/<device>/celsius.
 */
function relayFlow(connectionSettings: string): string {
  return `connections:
  broker:
${connectionSettings}
triggers:
  readings:
    connection: broker
    topic: in/readings/+
    service: to-celsius
services:
  to-celsius:
    steps:
      - transform: '{ "device": $wildcards[0], "celsius": $round((temp_f - 32) * 5 / 9, 1) }'
      - publish:
          topic: out/{{ device }}/celsius
`;
}

/** Everything a test started, stopped after it whatever its outcome. */
const running: { kill(signal: NodeJS.Signals): void; exited: Promise<unknown> }[] = [];
const clients: TestClient[] = [];
const folders: string[] = [];
const brokers: Mosquitto[] = [];

afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  for (const b of brokers.splice(0)) await b.stop();
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

/** A flow folder whose files may name paths relative to the folder (for tls files). */
function folder(files: (dir: string) => Record<string, string>): string {
  const dir = flowFolder({});
  folders.push(dir);
  for (const [name, text] of Object.entries(files(dir))) writeFileSync(join(dir, name), text);
  return dir;
}

function run(dir: string, env: Record<string, string> = {}): MqflowProcess {
  const p = startMqflow(dir, env);
  running.push(p);
  return p;
}

function runCaptured(dir: string, env: Record<string, string> = {}): CapturedMqflow {
  const p = new CapturedMqflow(dir, env);
  running.push(p);
  return p;
}

async function client(url: string, options: Parameters<typeof TestClient.connect>[1] = {}): Promise<TestClient> {
  const c = await TestClient.connect(url, options);
  clients.push(c);
  return c;
}

/** Tracks whether a process has exited (and with which code), without waiting for it. */
function exitWatch(p: { exited: Promise<unknown> }): { (): boolean; readonly note: () => string } {
  let exited = false;
  let code: unknown;
  void p.exited.then((c) => {
    exited = true;
    code = c;
  });
  return Object.assign(() => exited, { note: () => (exited ? `mqflow exited with code ${String(code)}` : 'mqflow is running') });
}

/** Polls `probe` until it returns true; fails with `describeState()` after `timeoutMs`. */
async function until(what: string, probe: () => boolean, describeState: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${describeState()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The connection's error lines: one per cause, whichever of its clients failed (invariant 59). */
const errorsOf = (lines: readonly LogLine[]): LogLine[] => lines.filter((l) => l.event === 'connection-error');
/** Each failed attempt of each client, at debug level. */
const attemptsOf = (lines: readonly LogLine[]): LogLine[] => lines.filter((l) => l.event === 'connection-attempt-failed');
const errMessage = (l: LogLine): string => (l.err as { message?: string } | undefined)?.message ?? '';
const errCode = (l: LogLine): unknown => (l.err as { code?: unknown } | undefined)?.code;
/** Lines of the connection's publishing client (trigger clients' lines carry a `trigger` field). */
const publisherLines = (lines: readonly LogLine[]): LogLine[] => lines.filter((l) => l.trigger === undefined);
const triggerLines = (lines: readonly LogLine[], trigger: string): LogLine[] => lines.filter((l) => l.trigger === trigger);
const showLog = (lines: readonly LogLine[], stderr = ''): string =>
  `log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}${stderr === '' ? '' : `\nstderr:\n${stderr}`}`;

/**
 * Asserts that mqflow cannot get through: its publishing client and its trigger client keep
 * failing with errors that pass `expected`, retrying, without exiting, and the connection logs one
 * error line for it, not one per client or attempt; a reading published meanwhile (through `sink`)
 * produces no output. Absence is checked against events, not time: two more failed attempts of
 * each client after the reading was sent.
 */
async function assertKeepsFailing(p: { lines: readonly LogLine[]; exited: Promise<unknown>; stderr: string }, sink: TestClient, expected: (l: LogLine) => boolean): Promise<void> {
  const exited = exitWatch(p);
  const failing = (who: (lines: readonly LogLine[]) => LogLine[]): number => attemptsOf(who(p.lines)).filter(expected).length;
  const fromPublisher = (): number => failing(publisherLines);
  const fromTrigger = (): number => failing((lines) => triggerLines(lines, 'readings'));
  await until('connection errors from the publishing and the trigger client', () => (fromPublisher() >= 2 && fromTrigger() >= 2) || exited(), () => showLog(p.lines, p.stderr), 30_000);
  expect(exited(), `${exited.note()}\n${showLog(p.lines, p.stderr)}`).toBe(false);

  await sink.subscribe('out/#');
  await sink.publish('in/readings/oven-3', { temp_f: 212 });
  const [pub, trig] = [fromPublisher(), fromTrigger()];
  await until('two more failed attempts of each client', () => (fromPublisher() >= pub + 2 && fromTrigger() >= trig + 2) || exited(), () => showLog(p.lines, p.stderr), 45_000);

  expect(exited(), `${exited.note()}\n${showLog(p.lines, p.stderr)}`).toBe(false);
  expect(errorsOf(p.lines).filter(expected), showLog(p.lines)).toHaveLength(1);
  expect(errorsOf(p.lines).filter(expected)[0]).toMatchObject({ level: 50, connection: 'broker' });
  expect(sink.received).toEqual([]);
  expect(p.lines.filter((l) => l.event === 'connected' || l.event === 'subscribed')).toEqual([]);
  expect(p.lines.filter((l) => l.level >= 60)).toEqual([]); // no fatal line
}

// ---------------------------------------------------------------------------------------------
// 1. TLS
// ---------------------------------------------------------------------------------------------

/** Under CI nothing is skipped: a missing tool must fail the run, not hide a test. */
const CI = process.env.CI === 'true';

describe.runIf(RUN_MOSQUITTO && (CI || opensslAvailable()))('TLS connections (mqtts://) against mosquitto', () => {
  let pki: TestPki;
  let tlsBroker: Mosquitto;
  let url: string;

  beforeAll(async () => {
    pki = makeTestPki();
    const port = await freePort();
    tlsBroker = await startMosquitto(
      `listener ${port} 127.0.0.1
cafile ${pki.ca}
certfile ${pki.serverCert}
keyfile ${pki.serverKey}
allow_anonymous true
`,
      { port },
    );
    url = `mqtts://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await tlsBroker?.stop();
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });

  /** A TLS test client that trusts the right CA. */
  const tlsClient = (): Promise<TestClient> => client(url, { ca: readFileSync(pki.ca) });

  it('connects through mqtts:// trusting the CA named by tls.ca (relative to the flow file) and processes a message end to end', async () => {
    const dir = folder((d) => ({ 'flow.yaml': relayFlow(`    url: ${url}\n    reconnectPeriod: 200ms\n    tls:\n      ca: ${relative(d, pki.ca)}\n`) }));
    expect(relative(dir, pki.ca).startsWith('..')).toBe(true); // really relative to the flow file, not the working directory
    const p = run(dir);
    await p.ready(['readings']);
    const sink = await tlsClient();
    await sink.subscribe('out/#');
    await sink.publish('in/readings/oven-3', { temp_f: 212 });
    await sink.waitFor(1);
    expect(sink.received.map((m) => [m.topic, JSON.parse(m.text) as unknown])).toEqual([['out/oven-3/celsius', { device: 'oven-3', celsius: 100 }]]);
    expect(errorsOf(p.lines)).toEqual([]);
  });

  it('refuses a broker whose certificate is not signed by the trusted CA: logs a certificate error, keeps retrying, produces nothing', async () => {
    const dir = folder((d) => ({ 'flow.yaml': relayFlow(`    url: ${url}\n    reconnectPeriod: 200ms\n    tls:\n      ca: ${relative(d, pki.otherCa)}\n`) }));
    const p = run(dir);
    const sink = await tlsClient();
    await assertKeepsFailing(p, sink, (l) => /certificate/i.test(errMessage(l)));
    // The error a user sees names the certificate problem, and the connection.
    const first = errorsOf(publisherLines(p.lines))[0]!;
    expect(first).toMatchObject({ level: 50, connection: 'broker' });
    expect(first.msg).toMatch(/^connection broker: .*certificate/i);
  }, 90_000);

  describe('mutual TLS (require_certificate true)', () => {
    let mtlsBroker: Mosquitto;
    let mtlsUrl: string;
    beforeAll(async () => {
      const port = await freePort();
      mtlsBroker = await startMosquitto(
        `listener ${port} 127.0.0.1
cafile ${pki.ca}
certfile ${pki.serverCert}
keyfile ${pki.serverKey}
require_certificate true
allow_anonymous true
`,
        { port },
      );
      mtlsUrl = `mqtts://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await mtlsBroker?.stop();
    });
    const mtlsClient = (): Promise<TestClient> => client(mtlsUrl, { ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) });

    it('presents the client certificate of tls.cert/tls.key and processes a message end to end', async () => {
      const dir = folder((d) => ({
        'flow.yaml': relayFlow(`    url: ${mtlsUrl}\n    reconnectPeriod: 200ms\n    tls:\n      ca: ${relative(d, pki.ca)}\n      cert: ${relative(d, pki.clientCert)}\n      key: ${relative(d, pki.clientKey)}\n`),
      }));
      const p = run(dir);
      await p.ready(['readings']);
      const sink = await mtlsClient();
      await sink.subscribe('out/#');
      await sink.publish('in/readings/press-1', { temp_f: 32 });
      await sink.waitFor(1);
      expect(sink.json('out/press-1/celsius')).toEqual([{ device: 'press-1', celsius: 0 }]);
    });

    it('without a client certificate the broker refuses mqflow: certificate error logged, nothing processed, still running', async () => {
      const dir = folder((d) => ({ 'flow.yaml': relayFlow(`    url: ${mtlsUrl}\n    reconnectPeriod: 200ms\n    tls:\n      ca: ${relative(d, pki.ca)}\n`) }));
      const p = run(dir);
      const sink = await mtlsClient();
      await assertKeepsFailing(p, sink, (l) => /certificate/i.test(errMessage(l)));
    }, 90_000);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Credentials (allow_anonymous false, password_file)
// ---------------------------------------------------------------------------------------------

const PASSWORD = 'Gx7-correct-horse-9Qz';
const WRONG_PASSWORD = 'Wr0ng-battery-staple-4Kp';
const TESTER_PASSWORD = 'tester-Pa55';

/** A connection `broker` that logs in as mqflow with the password of $MQTT_PASSWORD. */
const withCredentials = (port: number, extra = ''): string =>
  `    url: mqtt://127.0.0.1:${port}\n    reconnectPeriod: 200ms\n    username: mqflow\n    password: \${env:MQTT_PASSWORD}\n${extra}`;

describe.runIf(RUN_MOSQUITTO && (CI || mosquittoPasswdAvailable()))('credentials against mosquitto (allow_anonymous false, password_file)', () => {
  let secure: Mosquitto;
  let authDir: string;

  beforeAll(async () => {
    authDir = mkdtempSync(join(tmpdir(), 'mqflow-auth-'));
    const passwd = writePasswordFile(authDir, { mqflow: PASSWORD, tester: TESTER_PASSWORD });
    const port = await freePort();
    secure = await startMosquitto(`listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwd}\n`, { port });
  });
  afterAll(async () => {
    await secure?.stop();
    if (authDir !== undefined) rmSync(authDir, { recursive: true, force: true });
  });

  const testerClient = (): Promise<TestClient> => client(secure.url, { username: 'tester', password: TESTER_PASSWORD });

  it('with a wrong password: logs that the broker refused the credentials, and never prints the password', async () => {
    const dir = folder(() => ({ 'flow.yaml': relayFlow(withCredentials(secure.port)) }));
    const p = runCaptured(dir, { MQTT_PASSWORD: WRONG_PASSWORD });
    const refusedBy = (lines: readonly LogLine[]): LogLine | undefined => attemptsOf(lines).find((l) => /not authori[sz]ed|bad user ?name or password/i.test(errMessage(l)));
    await until('a refused-credentials error from both clients', () => refusedBy(publisherLines(p.lines)) !== undefined && refusedBy(triggerLines(p.lines, 'readings')) !== undefined, () => showLog(p.lines, p.stderr));
    expect(errorsOf(p.lines)).toMatchObject([
      {
        level: 50,
        connection: 'broker',
        cause: 'credentials',
        msg: `connection broker: cannot connect to mqtt://127.0.0.1:${secure.port}: the broker refused the credentials (Not authorized) — check username and password, and that the broker lets this user connect (Connection refused: Not authorized)`,
      },
    ]);
    if (p.running) p.kill('SIGTERM');
    await p.exited;
    expect(p.stdout).not.toContain(WRONG_PASSWORD);
    expect(p.stderr).not.toContain(WRONG_PASSWORD);
  });

  it('with a wrong password: keeps running and retrying, and processes nothing', async () => {
    const dir = folder(() => ({ 'flow.yaml': relayFlow(withCredentials(secure.port)) }));
    const p = runCaptured(dir, { MQTT_PASSWORD: WRONG_PASSWORD });
    const sink = await testerClient();
    await assertKeepsFailing(p, sink, (l) => /not authori[sz]ed|bad user ?name or password/i.test(errMessage(l)));
    p.kill('SIGTERM');
    await p.exited;
    expect(p.stdout).not.toContain(WRONG_PASSWORD);
    expect(p.stderr).not.toContain(WRONG_PASSWORD);
  }, 90_000);

  it('with the right password: processes messages, and the password appears nowhere in stdout or stderr', async () => {
    const dir = folder(() => ({ 'flow.yaml': relayFlow(withCredentials(secure.port)) }));
    const p = runCaptured(dir, { MQTT_PASSWORD: PASSWORD });
    await until('the trigger subscribed', () => p.lines.some((l) => l.event === 'subscribed' && l.trigger === 'readings'), () => showLog(p.lines, p.stderr));
    const sink = await testerClient();
    await sink.subscribe('out/#');
    await sink.publish('in/readings/oven-3', { temp_f: 212 });
    await sink.waitFor(1);
    expect(sink.json('out/oven-3/celsius')).toEqual([{ device: 'oven-3', celsius: 100 }]);
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.lines.some((l) => l.event === 'stopped')).toBe(true);
    expect(p.stdout).not.toContain(PASSWORD);
    expect(p.stderr).not.toContain(PASSWORD);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Subscriptions the broker refuses
// ---------------------------------------------------------------------------------------------

/*
 * Mosquitto 2.0's acl_file never refuses a subscription: it grants it (SUBACK with a QoS) and only
 * withholds the messages the user may not read (its default ACL check does not look at
 * subscriptions). The dynamic security plugin does refuse them, with SUBACK 0x80 on MQTT 3.1.1
 * and reason code 0x87 (Not authorized) on MQTT 5, so these tests use it.
 */
const dynsecPlugin = dynamicSecurityPlugin();

describe.runIf(RUN_MOSQUITTO && (CI || dynsecPlugin !== undefined))('subscriptions refused by the broker (mosquitto dynamic security plugin)', () => {
  let broker: Mosquitto;
  let securityDir: string;

  beforeAll(async () => {
    securityDir = mkdtempSync(join(tmpdir(), 'mqflow-dynsec-'));
    const plugin = writeDynamicSecurity(securityDir, dynsecPlugin!, {
      // mqflow may read in/# and write out/#; it may write secret/# but not subscribe to it.
      mqflow: {
        password: PASSWORD,
        acls: [
          { acltype: 'subscribePattern', topic: 'in/#', allow: true },
          { acltype: 'publishClientSend', topic: 'out/#', allow: true },
          { acltype: 'publishClientSend', topic: 'secret/#', allow: true },
          { acltype: 'subscribePattern', topic: 'secret/#', allow: false },
        ],
      },
      tester: {
        password: TESTER_PASSWORD,
        acls: [
          { acltype: 'subscribePattern', topic: '#', allow: true },
          { acltype: 'publishClientSend', topic: '#', allow: true },
        ],
      },
    });
    const port = await freePort();
    broker = await startMosquitto(`listener ${port} 127.0.0.1\nallow_anonymous false\n${plugin}`, { port });
  });
  afterAll(async () => {
    await broker?.stop();
    if (securityDir !== undefined) rmSync(securityDir, { recursive: true, force: true });
  });

  /** The relay flow plus a trigger on secret/# that would forward to out/leaked. */
  const flowWithForbiddenTrigger = (protocolVersion: 4 | 5): string =>
    `${relayFlow(withCredentials(broker.port, `    protocolVersion: ${protocolVersion}\n`))}
  forward-secret:
    steps:
      - publish: { topic: out/leaked }
`.replace(
      'triggers:\n',
      `triggers:
  secrets-in:
    connection: broker
    topic: secret/#
    service: forward-secret
`,
    );

  it.each([
    [4, '0x80'],
    [5, '0x87'],
  ] as const)('MQTT %i: a refused subscription (SUBACK %s) is logged with its filter, and the other triggers keep working', async (version, code) => {
    const dir = folder(() => ({ 'flow.yaml': flowWithForbiddenTrigger(version) }));
    const p = run(dir, { MQTT_PASSWORD: PASSWORD });
    const exited = exitWatch(p);
    // Whatever the trigger's subscription came to, it must be reported as refused, naming the filter.
    const refused = await p.waitFor((l) => l.trigger === 'secrets-in' && ['subscription-refused', 'subscribe-failed', 'subscribed'].includes(l.event ?? ''));
    expect(refused).toMatchObject({ event: 'subscription-refused', level: 50, trigger: 'secrets-in', connection: 'broker', filter: 'secret/#' });
    expect(refused.msg).toBe(`the broker refused the subscription to secret/# (SUBACK ${code}${code === '0x87' ? ': not authorized' : ''})`);
    await p.ready(['readings']);

    const sink = await client(broker.url, { username: 'tester', password: TESTER_PASSWORD });
    await sink.subscribe('out/#');
    await sink.publish('secret/plans', { temp_f: 1 });
    await sink.publish('in/readings/oven-3', { temp_f: 212 });
    await sink.waitFor(1, (m) => m.topic === 'out/oven-3/celsius');
    expect(sink.on('out/leaked')).toEqual([]);
    expect(sink.json('out/oven-3/celsius')).toEqual([{ device: 'oven-3', celsius: 100 }]);
    expect(p.lines.filter((l) => l.event === 'subscribed' && l.trigger === 'secrets-in')).toEqual([]);
    expect(exited(), exited.note()).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. A broker that is not there yet
// ---------------------------------------------------------------------------------------------

describe.runIf(RUN_MOSQUITTO)('a broker unreachable at start', () => {
  it('keeps running and logging connection errors, then connects and processes once the broker starts', async () => {
    const port = await freePort();
    const dir = folder(() => ({ 'flow.yaml': relayFlow(`    url: mqtt://127.0.0.1:${port}\n    reconnectPeriod: 200ms\n`) }));
    const p = run(dir);
    const exited = exitWatch(p);
    const refused = (lines: readonly LogLine[]): number => attemptsOf(lines).filter((l) => errCode(l) === 'ECONNREFUSED').length;
    await until(
      'connection refused errors from both clients',
      () => (refused(publisherLines(p.lines)) >= 2 && refused(triggerLines(p.lines, 'readings')) >= 2) || exited(),
      () => showLog(p.lines, p.stderr),
    );
    expect(exited(), `${exited.note()}\n${showLog(p.lines, p.stderr)}`).toBe(false);
    expect(errorsOf(p.lines)).toHaveLength(1);
    expect(errorsOf(p.lines)[0]!.msg).toMatch(/^connection broker: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: connection refused — .*\(connect ECONNREFUSED/);

    const broker = await startMosquitto('', { port });
    brokers.push(broker);
    await p.ready(['readings'], 60_000);
    await p.waitFor((l) => l.event === 'connected' && l.trigger === undefined, 60_000);
    const sink = await client(broker.url);
    await sink.subscribe('out/#');
    await sink.publish('in/readings/late-1', { temp_f: 50 });
    await sink.waitFor(1, () => true, 20_000);
    expect(sink.json('out/late-1/celsius')).toEqual([{ device: 'late-1', celsius: 10 }]);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// 5. WebSocket
// ---------------------------------------------------------------------------------------------

describe.runIf(RUN_MOSQUITTO)('MQTT over WebSocket (ws://)', () => {
  it('connects to a mosquitto websockets listener and processes a message end to end', async () => {
    const [mqttPort, wsPort] = [await freePort(), await freePort()];
    // Mosquitto 2.0.11 will not start with only a websockets listener; the plain one is for the test client.
    const broker = await startMosquitto(`listener ${mqttPort} 127.0.0.1\nlistener ${wsPort} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n`, { port: mqttPort });
    brokers.push(broker);
    const dir = folder(() => ({ 'flow.yaml': relayFlow(`    url: ws://127.0.0.1:${wsPort}\n    reconnectPeriod: 200ms\n`) }));
    const p = run(dir);
    await p.ready(['readings']);
    const sink = await client(broker.url);
    await sink.subscribe('out/#');
    await sink.publish('in/readings/ws-1', { temp_f: 212 });
    await sink.waitFor(1);
    expect(sink.json('out/ws-1/celsius')).toEqual([{ device: 'ws-1', celsius: 100 }]);
    expect(errorsOf(p.lines)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Failover URLs
// ---------------------------------------------------------------------------------------------

describe.runIf(RUN_MOSQUITTO)('failover URL list', () => {
  it('with the first URL dead and the second live, ends up connected and processing', async () => {
    const deadPort = await freePort();
    const broker = await startMosquitto();
    brokers.push(broker);
    const dir = folder(() => ({ 'flow.yaml': relayFlow(`    url:\n      - mqtt://127.0.0.1:${deadPort}\n      - mqtt://127.0.0.1:${broker.port}\n    reconnectPeriod: 200ms\n`) }));
    const p = run(dir);
    await p.ready(['readings'], 30_000);
    const sink = await client(broker.url);
    await sink.subscribe('out/#');
    await sink.publish('in/readings/fo-1', { temp_f: 212 });
    await sink.waitFor(1);
    expect(sink.json('out/fo-1/celsius')).toEqual([{ device: 'fo-1', celsius: 100 }]);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// 7. MQTT 5
// ---------------------------------------------------------------------------------------------

describe.runIf(RUN_MOSQUITTO)('MQTT 5 connections (protocolVersion: 5)', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  const v5Connection = (): string => `connections:
  broker:
    url: mqtt://127.0.0.1:${broker.port}
    protocolVersion: 5
    reconnectPeriod: 200ms
`;

  async function v5Client(): Promise<TestClient> {
    return client(broker.url, { protocolVersion: 5 });
  }

  it('a publish step sends its userProperties (templates rendered) and contentType as MQTT 5 properties', async () => {
    const dir = folder(() => ({
      'flow.yaml': `${v5Connection()}triggers:
  readings:
    connection: broker
    topic: in/readings/+
    service: tag
services:
  tag:
    steps:
      - transform: '{ "device": $wildcards[0], "celsius": $round((temp_f - 32) * 5 / 9, 1) }'
      - publish:
          topic: out/{{ device }}/celsius
          userProperties:
            source: mqflow
            device: "{{ device }}"
          contentType: application/vnd.mqflow.reading+json
`,
    }));
    const p = run(dir);
    await p.ready(['readings']);
    const sink = await v5Client();
    await sink.subscribe('out/#');
    await sink.publish('in/readings/oven-3', { temp_f: 212 });
    await sink.waitFor(1);
    const [out] = sink.on('out/oven-3/celsius');
    expect(JSON.parse(out!.text)).toEqual({ device: 'oven-3', celsius: 100 });
    expect(out!.packet.properties?.userProperties).toEqual({ source: 'mqflow', device: 'oven-3' });
    expect(out!.packet.properties?.contentType).toBe('application/vnd.mqflow.reading+json');
  });

  it('a publish step without contentType sends a JSON payload with content type application/json (the documented default)', async () => {
    const dir = folder(() => ({
      'flow.yaml': `${v5Connection()}triggers:
  readings:
    connection: broker
    topic: in/readings/+
    service: plain
services:
  plain:
    steps:
      - transform: '{ "device": $wildcards[0] }'
      - publish:
          topic: out/{{ device }}/plain
`,
    }));
    const p = run(dir);
    await p.ready(['readings']);
    const sink = await v5Client();
    await sink.subscribe('out/#');
    await sink.publish('in/readings/d-1', { temp_f: 1 });
    await sink.waitFor(1);
    const [out] = sink.on('out/d-1/plain');
    expect(JSON.parse(out!.text)).toEqual({ device: 'd-1' });
    expect(out!.packet.properties?.contentType).toBe('application/json');
  });

  it('gives services the incoming message properties in $message.properties (user properties, response topic, correlation data as base64)', async () => {
    const dir = folder(() => ({
      'flow.yaml': `${v5Connection()}triggers:
  requests:
    connection: broker
    topic: in/requests
    service: reply
services:
  reply:
    steps:
      - transform: |
          {
            "site": $message.properties.userProperties.site,
            "contentType": $message.properties.contentType,
            "correlation": $message.properties.correlationData,
            "answer": question & "?"
          }
      - publish:
          topic: "{{ $message.properties.responseTopic }}"
          topicLevels: any
`,
    }));
    const p = run(dir);
    await p.ready(['requests']);
    const sink = await v5Client();
    await sink.subscribe('replies/#');
    await sink.client.publishAsync('in/requests', JSON.stringify({ question: 'why' }), {
      qos: 1,
      properties: { userProperties: { site: 'north' }, contentType: 'application/json', responseTopic: 'replies/client-7', correlationData: Buffer.from('req-42') },
    });
    await sink.waitFor(1);
    expect(sink.json('replies/client-7')).toEqual([{ site: 'north', contentType: 'application/json', correlation: Buffer.from('req-42').toString('base64'), answer: 'why?' }]);
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Will and birth messages
// ---------------------------------------------------------------------------------------------

describe.runIf(RUN_MOSQUITTO)('will and birth messages', () => {
  it('publishes the retained birth message on connect, and the broker publishes the will after kill -9', async () => {
    const broker = await startMosquitto();
    brokers.push(broker);
    const watcher = await client(broker.url);
    await watcher.subscribe('plant/mqflow/status');
    const dir = folder(() => ({
      'flow.yaml': relayFlow(`    url: mqtt://127.0.0.1:${broker.port}
    reconnectPeriod: 200ms
    will:
      topic: plant/mqflow/status
      payload: offline
    birth:
      topic: plant/mqflow/status
      payload: online
`),
    }));
    const p = run(dir);
    await p.ready(['readings']);

    // Birth: seen live, and retained for whoever subscribes later.
    await watcher.waitFor(1);
    expect(watcher.received.map((m) => m.text)).toEqual(['online']);
    const late = await client(broker.url);
    await late.subscribe('plant/mqflow/status');
    await late.waitFor(1);
    expect(late.received.map((m) => [m.text, m.packet.retain])).toEqual([['online', true]]);

    // Still processing while up.
    await late.subscribe('out/#');
    await late.publish('in/readings/oven-3', { temp_f: 212 });
    await late.waitFor(1, (m) => m.topic === 'out/oven-3/celsius');

    // Will: published by the broker when mqflow dies without disconnecting, and retained.
    p.kill('SIGKILL');
    await p.exited;
    await watcher.waitFor(2);
    expect(watcher.received.map((m) => m.text)).toEqual(['online', 'offline']);
    const after = await client(broker.url);
    await after.subscribe('plant/mqflow/status');
    await after.waitFor(1);
    expect(after.received.map((m) => [m.text, m.packet.retain])).toEqual([['offline', true]]);
    // The will belongs to the publishing client only: trigger clients carry none, so it came once.
    expect(watcher.on('plant/mqflow/status').length).toBe(2);
  });
});
