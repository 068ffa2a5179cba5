/** The mqflow command line: one file per command; this one only dispatches. */
import { readFileSync } from 'node:fs';
import { EXIT, processIO, UsageError, type CommandIO } from './io.js';
import { runDev } from './dev.js';
import { runRun } from './run.js';
import { runSchema } from './schema.js';
import { runValidate } from './validate.js';

const COMMANDS: Record<string, { run: (args: readonly string[], io: CommandIO) => number | Promise<number>; summary: string }> = {
  run: { run: runRun, summary: 'run the flows of a folder against their brokers' },
  dev: { run: runDev, summary: 'run the flows with an embedded broker (and simulated sensors)' },
  validate: { run: runValidate, summary: 'check a flow folder and report every problem as file:line:col' },
  schema: { run: runSchema, summary: 'print the JSON Schema of flow files (for editors)' },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const list = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `Usage: mqflow <command> [options]\n\nCommands:\n${list}\n\nRun mqflow <command> --help for a command's options.\n`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr(help());
    return EXIT.usage;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout(help());
    return EXIT.ok;
  }
  if (command === '--version' || command === '-v') {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[command];
  try {
    if (entry === undefined) throw new UsageError(`unknown command "${command}"`);
    return await entry.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS') === true) {
      io.stderr(`mqflow: ${(error as Error).message}\n${entry === undefined ? help() : `Run mqflow ${command} --help for usage.\n`}`);
      return EXIT.usage;
    }
    throw error;
  }
}
