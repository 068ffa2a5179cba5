/** A real Mosquitto process on a free loopback port, with its own config file, for end-to-end tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Output of the broker, for diagnosing a failed test. */
  readonly output: () => string;
  stop(): Promise<void>;
}

export function mosquittoAvailable(): boolean {
  return spawnSync('mosquitto', ['-h']).error === undefined || spawnSync('/usr/sbin/mosquitto', ['-h']).error === undefined;
}

function binary(): string {
  return spawnSync('mosquitto', ['-h']).error === undefined ? 'mosquitto' : '/usr/sbin/mosquitto';
}

/** Starts Mosquitto with `extraConfig` appended to a loopback listener config; `listener` lines in it replace the default one. */
export async function startMosquitto(extraConfig = '', options: { port?: number } = {}): Promise<Mosquitto> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  const listener = extraConfig.includes('listener ') ? '' : `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
  writeFileSync(
    config,
    `${listener}${extraConfig}
persistence false
# Unbounded queues for persistent sessions: tests count every message.
max_queued_messages 0
max_queued_bytes 0
log_dest stderr
log_type error
log_type warning
log_type notice
`,
  );
  let output = '';
  const child: ChildProcess = spawn(binary(), ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  try {
    await waitForPort(port);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`mosquitto did not start: ${(error as Error).message}\n${output}`);
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          rmSync(dir, { recursive: true, force: true });
          resolve();
          return;
        }
        child.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
