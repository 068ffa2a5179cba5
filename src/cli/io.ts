import { readFileSync } from 'node:fs';

/** Where a command writes; injected so commands can be tested in-process. */
export interface CommandIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
}

export const processIO: CommandIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
};

/** Exit codes shared by every command. */
/** Exit codes; `changes` is `mqflow plan`'s "the folders differ". */
export const EXIT = { ok: 0, invalid: 1, usage: 2, changes: 3 } as const;

export class UsageError extends Error {}

/** mqflow's version, from package.json. */
export function mqflowVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
