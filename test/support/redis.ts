/** A real redis-server process on a free loopback port, without persistence, for tests of the redis store. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> (no credentials, even with a password). */
  readonly url: string;
  /** Output of the server, for diagnosing a failed test. */
  readonly output: () => string;
  /** Stops the server (its data goes: nothing is saved), runs `whileDown`, and starts it again on the same port. */
  restart(options?: { whileDown?: () => Promise<void> | void }): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. thaw() resumes it. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

const BINARY = '/usr/bin/redis-server';

/** TLS only (no plain port): the server's certificate and key, and the CA its clients' certificates must chain to (required). */
export interface RedisTls {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export async function startRedis(options: { password?: string; tls?: RedisTls } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-redis-'));
  const listen = options.tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key, '--tls-ca-cert-file', options.tls.ca, '--tls-auth-clients', 'yes'];
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  let output = '';
  let child: ChildProcess;
  // A test run that ends without stop() (a crash, a forgotten afterAll) must not leave a server behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  const launch = (): ChildProcess => {
    const c = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    c.on('error', (error) => (output += `\nspawn failed: ${error.message}\n`));
    return c;
  };
  const terminate = (c: ChildProcess): Promise<void> =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const fallback = setTimeout(() => c.kill('SIGKILL'), 5_000);
      c.once('exit', () => {
        clearTimeout(fallback);
        resolve();
      });
      // A frozen server takes SIGTERM only once it runs again.
      c.kill('SIGCONT');
      c.kill('SIGTERM');
    });
  const started = async (): Promise<void> => {
    try {
      await waitForPort(port);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start: ${(error as Error).message}\n${output}`);
    }
  };
  child = launch();
  process.once('exit', killOnExit);
  try {
    await started();
  } catch (error) {
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `${options.tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`,
    output: () => output,
    restart: async ({ whileDown } = {}) => {
      await terminate(child);
      try {
        await whileDown?.();
      } finally {
        child = launch();
      }
      await started();
    },
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    stop: async () => {
      await terminate(child);
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether Redis tests run: always under CI (a missing server is then a failure), elsewhere only when it is installed. */
export const RUN_REDIS = process.env.CI === 'true' || existsSync(BINARY);
