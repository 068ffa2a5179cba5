/**
 * `mqflow run` as a child process, like runtime.ts, but keeping every byte it writes to stdout and
 * stderr (JSON or not), so a test can assert what never appears there (a secret).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LogLine } from './runtime.js';

const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));

export class CapturedMqflow {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;
  readonly #child: ChildProcess;

  constructor(dir: string, env: Record<string, string>, extraArgs: readonly string[] = []) {
    this.#child = spawn(process.execPath, [bin, 'run', dir, '--no-pretty', '--log-level', 'debug', '--admin', '127.0.0.1:0', ...extraArgs], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.stdout!.on('data', (data: Buffer) => (this.stdout += data.toString()));
    this.#child.stderr!.on('data', (data: Buffer) => (this.stderr += data.toString()));
    this.exited = new Promise((resolve) =>
      this.#child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  /** The JSON log lines written so far (other stdout text is skipped here, but kept in `stdout`). */
  get lines(): LogLine[] {
    const lines: LogLine[] = [];
    for (const text of this.stdout.split('\n')) {
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        // not a JSON line
      }
    }
    return lines;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}
