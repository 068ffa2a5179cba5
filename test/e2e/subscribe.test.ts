/**
 * `mqflow subscribe`: a plain look at a topic through a connection of a flow folder, ended by
 * --count or --timeout, with the exit codes of the other commands.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { flowFolder } from '../support/runtime.js';

const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));

/** Runs the CLI without blocking this process (the broker runs in it); `onStderr` sees its stderr as it comes. */
function cli(args: readonly string[], env: Record<string, string>, onStderr?: (text: string) => void): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('mqflow subscribe', () => {
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let dir: string;
  let client: MqttClient;
  let env: Record<string, string>;

  beforeAll(async () => {
    broker = await startEmbeddedBroker('127.0.0.1', 0);
    env = { MQTT_URL: broker.url };
    dir = flowFolder({
      'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
  other:
    url: mqtt://127.0.0.1:1
    enabled: false
`,
    });
    client = await connectAsync(broker.url, { clientId: 'subscribe-feed' });
  }, 30_000);

  afterAll(async () => {
    await client?.endAsync();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.close();
  });

  /** Publishes once the command says it subscribed. */
  const feedWhenSubscribed = (messages: readonly [string, string | Buffer, boolean?][]): ((stderr: string) => void) => {
    let fed = false;
    return (stderr) => {
      if (fed || !stderr.includes('subscribed to')) return;
      fed = true;
      for (const [topic, payload, retain] of messages) void client.publishAsync(topic, payload, { qos: 1, retain: retain === true });
    };
  };

  it('prints messages on a filter and ends after --count (exit 0)', async () => {
    const run = await cli(
      ['subscribe', 'plant/#', '--dir', dir, '--connection', 'plant', '--count', '3', '--timeout', '20s'],
      env,
      feedWhenSubscribed([
        ['plant/north/temperature', '{"temp_f":151}'],
        ['plant/south/door', 'open'],
        ['plant/bin', Buffer.from([0, 1, 2, 255])],
        ['plant/later', 'not shown'],
      ]),
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('subscribed to plant/# via plant (qos 1); stopping after 3 messages');
    expect(run.stdout).toBe('plant/north/temperature qos 1 {"temp_f":151}\nplant/south/door qos 1 open\nplant/bin qos 1 (4 bytes, base64) AAEC/w==\n');
  }, 30_000);

  it('prints JSON lines with --format json, retained messages marked', async () => {
    await client.publishAsync('status/line-3', 'running', { qos: 1, retain: true });
    const run = await cli(['subscribe', 'status/+', '--dir', dir, '--count', '1', '--format', 'json', '--connection', 'plant'], env);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ topic: 'status/line-3', qos: 1, retain: true, size: 7, payload: 'running' });
  }, 30_000);

  it('ends after --timeout: exit 0 without --count, 1 when --count messages did not arrive', async () => {
    const quiet = await cli(['subscribe', 'quiet/#', '--dir', dir, '--connection', 'plant', '--timeout', '1s'], env);
    expect(quiet.status).toBe(0);
    expect(quiet.stdout).toBe('');
    const short = await cli(['subscribe', 'quiet/#', '--dir', dir, '--connection', 'plant', '--count', '2', '--timeout', '1s'], env);
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('mqflow subscribe: 0 of 2 messages on quiet/# within 1s');
  }, 30_000);

  it('exit 1 when the broker cannot be reached, 2 on a usage error', async () => {
    const down = await cli(['subscribe', 'plant/#', '--dir', dir, '--connection', 'other', '--timeout', '10s'], env);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/^mqflow subscribe: connection other: .*ECONNREFUSED/m);
    const noConnection = await cli(['subscribe', 'plant/#', '--dir', dir], env);
    expect(noConnection.status).toBe(2);
    expect(noConnection.stderr).toContain('--connection is required: ');
    const badFilter = await cli(['subscribe', 'plant/#/x', '--dir', dir, '--connection', 'plant'], env);
    expect(badFilter.status).toBe(2);
    const unknown = await cli(['subscribe', 'plant/#', '--dir', dir, '--connection', 'nope'], env);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('no connection named "nope"');
  }, 30_000);
});
