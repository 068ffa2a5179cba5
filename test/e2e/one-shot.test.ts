/**
 * One-shot commands end (issue 21, point 3; docs/running.md, "One-shot commands"): publish and
 * invoke --live give up after --timeout with the broker down or frozen, exiting 1 with the
 * connection's reason; they use only the parts of the folder they need; invoke --trigger fills
 * $wildcards; validate, test and graph work without secrets, while run still needs them.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { mqflow, repoRoot } from '../support/cli.js';
import { TestClient } from '../support/mqtt.js';
import { freePort } from '../support/ports.js';

const scratch = mkdtempSync(join(tmpdir(), 'mqflow-one-shot-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

const plant = `connections:
  plant:
    url: \${env:MQTT_URL}
    reconnectPeriod: 200ms
triggers:
  status-in:
    connection: plant
    topic: factory/+/line/+/status
    service: oee
services:
  oee:
    steps:
      - publish:
          topic: factory/{{ $wildcards[0] }}/line/{{ $wildcards[1] }}/oee
`;

/** Mistakes in definitions that publish and invoke oee do not use. */
const unrelated = `connections:
  backup:
    url: mqtt://backup.invalid:1883
    password: \${env:BACKUP_PASSWORD}
triggers:
  broken-in:
    connection: backup
    topic: factory/#/x
    service: oee
`;

/** The CLI without blocking this process (a broker or a frozen listener runs in it); `ms` is how long it took. */
async function mqflowAsync(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<{ status: number; stdout: string; stderr: string; ms: number }> {
  const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: options.cwd, env: { PATH: process.env.PATH ?? '', ...options.env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = (error as { code?: unknown } | null)?.code;
      resolve({ status: error === null ? 0 : typeof code === 'number' ? code : -1, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('with the broker down, unreachable or frozen, a one-shot command gives up after --timeout and exits 1', () => {
  let dir: string;
  let refused: string;
  let frozen: Server;
  let frozenUrl: string;
  const held: Socket[] = [];
  beforeAll(async () => {
    dir = folder('down', { 'plant.yaml': plant });
    // Nothing listens on a port just freed: the connection is refused.
    refused = `mqtt://127.0.0.1:${await freePort()}`;
    // A broker that takes the connection and never answers it (no CONNACK).
    frozen = createServer((socket) => {
      held.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
    frozenUrl = `mqtt://127.0.0.1:${(frozen.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => frozen.close(resolve));
  });

  it('publish, connection refused: exit 1 with the reason, within the timeout', async () => {
    const r = await mqflowAsync(['publish', '--dir', '.', '--topic', 'factory/p9/cmd', '--timeout', '1s', 'restart'], { cwd: dir, env: { MQTT_URL: refused } });
    expect(r.stderr).toMatch(/^mqflow publish: not published to factory\/p9\/cmd: gave up after 1s \(--timeout\): connection plant did not connect: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(8000);
  });

  it('publish, a broker that never answers: exit 1, within the timeout', async () => {
    const r = await mqflowAsync(['publish', '--dir', '.', '--topic', 'factory/p9/cmd', '--timeout', '1s', 'restart'], { cwd: dir, env: { MQTT_URL: frozenUrl } });
    expect(r.stderr).toBe('mqflow publish: not published to factory/p9/cmd: gave up after 1s (--timeout): connection plant did not connect (no answer from the broker)\n');
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(8000);
  });

  it('publish, a host that does not resolve: exit 1 with the reason', async () => {
    const r = await mqflowAsync(['publish', '--dir', '.', '--topic', 'factory/p9/cmd', '--timeout', '1s', 'restart'], { cwd: dir, env: { MQTT_URL: 'mqtt://broker.invalid:1883' } });
    expect(r.stderr).toMatch(/^mqflow publish: not published to factory\/p9\/cmd: gave up after 1s \(--timeout\): connection plant did not connect(: getaddrinfo (ENOTFOUND|EAI_AGAIN) broker\.invalid| \(no answer from the broker\))\n$/);
    expect(r.status).toBe(1);
  });

  it('invoke --live, connection refused: exit 1 with MQFLOW_TIMEOUT and the reason, instead of waiting for ever', async () => {
    const r = await mqflowAsync(['invoke', '--trigger', 'status-in', '--topic', 'factory/p9/line/L9/status', '--payload', '{}', '--dir', '.', '--live', '--timeout', '1s'], { cwd: dir, env: { MQTT_URL: refused } });
    expect(r.stderr).toMatch(/^failed: MQFLOW_TIMEOUT: gave up after 1s \(--timeout\): connection plant did not connect: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(8000);
  });

  it('invoke --live --format json, a broker that never answers: the error in the report, exit 1', async () => {
    const r = await mqflowAsync(['invoke', '--trigger', 'status-in', '--topic', 'factory/p9/line/L9/status', '--payload', '{}', '--dir', '.', '--live', '--timeout', '500ms', '--format', 'json'], { cwd: dir, env: { MQTT_URL: frozenUrl } });
    const report = JSON.parse(r.stdout) as { published: unknown[]; error: { code: string; message: string } };
    expect(report.published).toEqual([]);
    expect(report.error).toEqual({ code: 'MQFLOW_TIMEOUT', message: 'gave up after 500ms (--timeout): connection plant did not connect (no answer from the broker)' });
    expect(r.status).toBe(1);
  });

  it('a --timeout that is not a duration over 0 is a usage error (exit 2)', () => {
    for (const args of [['publish', '--topic', 'a', '--timeout', '0', 'x'], ['publish', '--topic', 'a', '--timeout', 'soon', 'x'], ['invoke', 'oee', '--payload', '{}', '--timeout=-1s']]) {
      const r = mqflow([...args, '--dir', '.'], { cwd: dir, env: { MQTT_URL: refused } });
      expect(r.stderr).toMatch(/^mqflow: --timeout must be a duration over 0 such as 500ms, 10s or 1m \(got .*\)\n/);
      expect(r.status).toBe(2);
    }
  });
});

describe('publish and invoke use only the parts of the folder they need', () => {
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let dir: string;
  beforeAll(async () => {
    broker = await startEmbeddedBroker('127.0.0.1', 0);
    dir = folder('parts', { 'plant.yaml': plant, 'unrelated.yaml': unrelated });
  });
  afterAll(async () => {
    await broker.close();
  });

  const note = 'note: left out connections.backup, triggers.broken-in, which have errors and are not used here (2 errors: mqflow validate . lists them)\n';

  it('publish goes through its connection while other definitions have errors, and notes them', async () => {
    const sub = await TestClient.connect(broker.url);
    try {
      await sub.subscribe('factory/#');
      const r = await mqflowAsync(['publish', '--dir', '.', '--connection', 'plant', '--topic', 'factory/p9/cmd', 'restart'], { cwd: dir, env: { MQTT_URL: broker.url } });
      expect(r.stderr).toBe(`mqflow publish: ${note}`);
      expect(r.stdout).toBe('published to factory/p9/cmd via plant (qos 1)\n');
      expect(r.status).toBe(0);
      await sub.waitFor(1);
      expect(sub.received.map((m) => [m.topic, m.text])).toEqual([['factory/p9/cmd', 'restart']]);
    } finally {
      await sub.close();
    }
  });

  it('publish through the connection that has the error: exit 1 with that error only', () => {
    const r = mqflow(['publish', '--dir', '.', '--connection', 'backup', '--topic', 'factory/p9/cmd', 'restart'], { cwd: dir, env: { MQTT_URL: broker.url } });
    expect(r.stderr).toBe('unrelated.yaml:4:15 error: connections.backup.password: environment variable BACKUP_PASSWORD is not set\n  hint: set BACKUP_PASSWORD, or give a default: ${env:BACKUP_PASSWORD:-value}\n.: 1 error\n');
    expect(r.status).toBe(1);
  });

  it('a file that does not parse still stops publish: its definitions are unknown', () => {
    const broken = folder('parts-yaml', { 'plant.yaml': plant, 'other.yaml': 'services:\n  x: [unclosed\n' });
    const r = mqflow(['publish', '--dir', '.', '--topic', 'factory/p9/cmd', 'restart'], { cwd: broken, env: { MQTT_URL: broker.url } });
    expect(r.stderr).toMatch(/^other\.yaml:\d+:\d+ error: /);
    expect(r.stderr).toMatch(/\n\.: 1 error\n$/);
    expect(r.status).toBe(1);
  });

  it('invoke runs a service whose references are valid; one that uses a broken definition is refused', () => {
    const ok = mqflow(['invoke', '--trigger', 'status-in', '--topic', 'factory/p9/line/L9/status', '--payload', '{}', '--dir', '.'], { cwd: dir, env: { MQTT_URL: broker.url } });
    expect(ok.stdout).toBe('would publish to factory/p9/line/L9/oee via plant (qos 1): {}\n');
    expect(ok.stderr).toBe(`mqflow invoke: warning: environment variable BACKUP_PASSWORD is not set; a placeholder stands in for it (mqflow run and --live need it)\nmqflow invoke: ${note.replace('connections.backup, triggers.broken-in, which have errors and are', 'triggers.broken-in, which has errors and is').replace('2 errors', '1 error')}`);
    expect(ok.status).toBe(0);
    const uses = folder('parts-uses', { 'plant.yaml': plant, 'unrelated.yaml': `${unrelated}services:\n  to-backup:\n    steps:\n      - publish: { connection: backup, topic: x }\n` });
    const refused = mqflow(['invoke', 'to-backup', '--payload', '{}', '--dir', '.', '--live'], { cwd: uses, env: { MQTT_URL: broker.url } });
    expect(refused.stderr).toContain('unrelated.yaml:4:15 error: connections.backup.password: environment variable BACKUP_PASSWORD is not set\n');
    expect(refused.stderr).toMatch(/services\.to-backup uses a definition with errors\n\.: 2 errors\n$/);
    expect(refused.status).toBe(1);
  });
});

describe('invoke --trigger fills $wildcards from the topic and the trigger filter', () => {
  let dir: string;
  beforeAll(() => {
    dir = folder('wildcards', { 'plant.yaml': plant });
  });
  const env = { MQTT_URL: 'mqtt://127.0.0.1:1' };

  it('takes the values of the filter\'s wildcards, the trigger\'s service and its connection', () => {
    const r = mqflow(['invoke', '--trigger', 'status-in', '--topic', 'factory/p9/line/L9/status', '--payload', '{"oee":0.8}', '--dir', '.'], { cwd: dir, env });
    expect(r.stdout).toBe('would publish to factory/p9/line/L9/oee via plant (qos 1): {"oee":0.8}\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a topic the filter does not match is a usage error (exit 2)', () => {
    const r = mqflow(['invoke', 'oee', '--trigger', 'status-in', '--topic', 'factory/p9/status', '--payload', '{}', '--dir', '.'], { cwd: dir, env });
    expect(r.stderr).toBe('mqflow: --topic factory/p9/status does not match the filter of trigger status-in (factory/+/line/+/status)\nRun mqflow invoke --help for usage.\n');
    expect(r.status).toBe(2);
    const none = mqflow(['invoke', '--trigger', 'status-in', '--payload', '{}', '--dir', '.'], { cwd: dir, env });
    expect(none.stderr).toMatch(/^mqflow: --trigger status-in needs --topic: a topic its filter \(factory\/\+\/line\/\+\/status\) matches\n/);
    expect(none.status).toBe(2);
  });

  it('without --trigger, a topic left with empty levels is warned about in a dry run and refused with --live', () => {
    const dry = mqflow(['invoke', 'oee', '--topic', 'factory/p9/line/L9/status', '--payload', '{}', '--dir', '.'], { cwd: dir, env });
    expect(dry.stdout).toBe('would publish to factory//line//oee via plant (qos 1): {}\n');
    expect(dry.stderr).toBe('mqflow invoke: warning: factory//line//oee has an empty level, and $wildcards is empty without --trigger: give --trigger with --topic to fill $wildcards\n');
    expect(dry.status).toBe(0);
    const live = mqflow(['invoke', 'oee', '--topic', 'factory/p9/line/L9/status', '--payload', '{}', '--dir', '.', '--live', '--timeout', '2s'], { cwd: dir, env });
    expect(live.stdout).toBe('');
    expect(live.stderr).toBe('failed: MQFLOW_INVOKE_EMPTY_LEVEL: services.oee.steps[0]: not published: factory//line//oee has an empty level, and $wildcards is empty without --trigger: give --trigger with --topic to fill $wildcards\n');
    expect(live.status).toBe(1);
  });

  it('a wildcard that matched an empty level is warned about too', () => {
    const r = mqflow(['invoke', '--trigger', 'status-in', '--topic', 'factory//line/L9/status', '--payload', '{}', '--dir', '.'], { cwd: dir, env });
    expect(r.stdout).toBe('would publish to factory//line/L9/oee via plant (qos 1): {}\n');
    expect(r.stderr).toBe('mqflow invoke: warning: factory//line/L9/oee has an empty level, and a wildcard of trigger status-in matched an empty level of factory//line/L9/status\n');
    expect(r.status).toBe(0);
  });
});

describe('validate, test and graph work without secrets; run needs them', () => {
  let dir: string;
  beforeAll(() => {
    dir = join(scratch, 'secrets');
    cpSync(join(repoRoot, 'flows'), dir, { recursive: true });
    const file = join(dir, 'connections.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    keepalive: 30\n', '    keepalive: 30\n    username: ${env:MQTT_USERNAME}\n    password: ${env:MQTT_PASSWORD}\n'));
  });
  const warning = (name: string, line: number): string =>
    `connections.yaml:${line}:15 warning: connections.plant.${name.toLowerCase().replace('mqtt_', '')}: environment variable ${name} is not set; checked with a placeholder in its place\n  hint: mqflow run, dev, publish and invoke --live need ${name} set (or give a default: \${env:${name}:-value})`;

  it('validate: valid, with a warning per placeholder (exit 0)', () => {
    const r = mqflow(['validate', '.'], { cwd: dir });
    expect(r.stdout).toBe(`${warning('MQTT_USERNAME', 10)}\n${warning('MQTT_PASSWORD', 11)}\n.: 3 files, 1 connection, 2 triggers, 4 services: 0 errors, 2 warnings (valid)\n`);
    expect(r.status).toBe(0);
  });

  it('test: the cases run (exit 0), the placeholders are warned about on stderr', () => {
    const r = mqflow(['test', '.'], { cwd: dir });
    expect(r.stdout).toMatch(/\n10 passed, 0 failed\n$/);
    expect(r.stderr).toBe(
      'mqflow test: warning: environment variable MQTT_PASSWORD is not set; the flows were tested with a placeholder in its place (mqflow run needs it)\n' +
        'mqflow test: warning: environment variable MQTT_USERNAME is not set; the flows were tested with a placeholder in its place (mqflow run needs it)\n',
    );
    expect(r.status).toBe(0);
  });

  it('graph: the diagram on stdout (exit 0), the warnings on stderr', () => {
    const r = mqflow(['graph', '.'], { cwd: dir });
    expect(r.stdout).toBe(mqflow(['graph', 'flows']).stdout);
    expect(r.stderr).toBe(`${warning('MQTT_USERNAME', 10)}\n${warning('MQTT_PASSWORD', 11)}\n`);
    expect(r.status).toBe(0);
  });

  it('run still refuses to start without them (exit 1)', () => {
    const r = mqflow(['run', '.', '--no-admin'], { cwd: dir });
    expect(r.stderr).toContain('connections.yaml:10:15 error: connections.plant.username: environment variable MQTT_USERNAME is not set\n');
    expect(r.stderr).toContain('connections.yaml:11:15 error: connections.plant.password: environment variable MQTT_PASSWORD is not set\n');
    expect(r.status).toBe(1);
  });

  it('publish still needs them (exit 1)', () => {
    const r = mqflow(['publish', '--dir', '.', '--topic', 'plant/x', 'x'], { cwd: dir });
    expect(r.stderr).toContain('connections.yaml:11:15 error: connections.plant.password: environment variable MQTT_PASSWORD is not set\n');
    expect(r.stderr).toMatch(/\n\.: 2 errors\n$/);
    expect(r.status).toBe(1);
  });
});

describe('connectOnce (for commands that subscribe)', () => {
  const io = { stdout: () => {}, stderr: () => {}, cwd: '' };
  async function connectionTo(url: string) {
    const { loadModel } = await import('../../src/cli/load-model.js');
    const dir = folder(`connect-${Math.random().toString(16).slice(2, 8)}`, { 'plant.yaml': `connections:\n  plant:\n    url: ${url}\n    reconnectPeriod: 100ms\n` });
    return loadModel(dir, { ...io, cwd: dir }, { command: 'test' })!.model.connections.get('plant')!;
  }

  it('resolves with a connected client, and rejects within its timeout with the reason when the broker is down', async () => {
    const { closeClient, connectOnce, DeadlineError } = await import('../../src/cli/connect-once.js');
    const broker = await startEmbeddedBroker('127.0.0.1', 0);
    try {
      const client = await connectOnce(await connectionTo(broker.url), { timeoutMs: 5000 });
      expect(client.connected).toBe(true);
      expect(client.options.clientId).toBe(`mqflow-plant-cli-${process.pid}`);
      await closeClient(client);
    } finally {
      await broker.close();
    }
    const started = Date.now();
    const down = connectOnce(await connectionTo(`mqtt://127.0.0.1:${await freePort()}`), { timeoutMs: 500 });
    await expect(down).rejects.toBeInstanceOf(DeadlineError);
    await expect(down).rejects.toThrow(/^gave up after 500ms \(--timeout\): connection plant did not connect: connect ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
