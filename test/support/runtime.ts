/** Runs `mqflow run` as a child process, as a user would, and watches its JSON log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly event?: string;
  readonly [key: string]: unknown;
}

export class MqflowProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #waiters: { test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(args: readonly string[], env: Record<string, string>) {
    this.#child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    this.#child.stdout!.on('data', (data: Buffer) => {
      buffer += data.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const text = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    });
    this.#child.stderr!.on('data', (data: Buffer) => (this.stderr += data.toString()));
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** The first log line (past or future) that passes `test`. */
  waitFor(test: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms; stderr: ${this.stderr}\nlog: ${this.lines.map((l) => l.msg).join('\n')}`)), timeoutMs);
      this.#waiters.push({
        test,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  /** Resolves once every named trigger has subscribed. */
  async ready(triggers: readonly string[], timeoutMs = 15_000): Promise<void> {
    await Promise.all(triggers.map((t) => this.waitFor((l) => l.event === 'subscribed' && l.trigger === t, timeoutMs)));
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}

export function startMqflow(dir: string, env: Record<string, string>, extraArgs: readonly string[] = []): MqflowProcess {
  return new MqflowProcess(['run', dir, '--no-pretty', '--log-level', 'debug', '--admin', '127.0.0.1:0', ...extraArgs], env);
}

/** Writes a flow folder into a fresh temporary folder and returns its path. */
export function flowFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-flows-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
