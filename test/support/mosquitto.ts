/** A real Mosquitto process on a free loopback port, with its own config file, for end-to-end tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Output of the broker, for diagnosing a failed test. */
  readonly output: () => string;
  /** Stops the broker (SIGTERM: it saves its persistence file) and starts it again on the same port and config. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Freezes the broker (SIGSTOP): connections stay open, nothing is answered. thaw() resumes it. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

export function mosquittoAvailable(): boolean {
  return spawnSync('mosquitto', ['-h']).error === undefined || spawnSync('/usr/sbin/mosquitto', ['-h']).error === undefined;
}

function binary(): string {
  return spawnSync('mosquitto', ['-h']).error === undefined ? 'mosquitto' : '/usr/sbin/mosquitto';
}

/** Starts Mosquitto with `extraConfig` appended to a loopback listener config; `listener` lines in it replace the default one. */
export async function startMosquitto(extraConfig = '', options: { port?: number; persistence?: boolean } = {}): Promise<Mosquitto> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  // Run as root, Mosquitto drops to its own user: it must be able to write its persistence file here.
  if (options.persistence === true) chmodSync(dir, 0o777);
  const listener = extraConfig.includes('listener ') ? '' : `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
  writeFileSync(
    config,
    `${listener}${extraConfig}
${options.persistence === true ? `persistence true\npersistence_location ${dir}/\nautosave_interval 1` : 'persistence false'}
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
  const launch = (): ChildProcess => {
    const child = spawn(binary(), ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    return child;
  };
  const terminate = (c: ChildProcess): Promise<void> =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  let child = launch();
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
    restart: async ({ downMs = 0 } = {}) => {
      await terminate(child);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      child = launch();
      await waitForPort(port);
    },
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    stop: async () => {
      child.kill('SIGCONT');
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
