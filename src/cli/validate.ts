/** `mqflow validate [dir]`: load, validate and compile a flow folder; print every problem. */
import { parseArgs } from 'node:util';
import { buildFlowFolder, type BuildResult } from '../flow/build.js';
import { formatProblem } from '../flow/problem.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const validateHelp = `Usage: mqflow validate [dir] [--format text|json]

Loads every *.yaml / *.yml file under dir (default: flows), checks it and reports every
problem as file:line:col. Exit 0 when valid, 1 when not, 2 on a usage error.

Options:
  --format text|json   output format (default: text)
`;

export function runValidate(args: readonly string[], io: CommandIO): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(validateHelp);
    return EXIT.ok;
  }
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json (got ${values.format})`);
  if (positionals.length > 1) throw new UsageError(`validate takes one folder (got ${positionals.length})`);
  const dir = positionals[0] ?? 'flows';

  const result = buildFlowFolder(dir, { cwd: io.cwd });
  if (values.format === 'json') io.stdout(`${JSON.stringify(toJson(dir, result), null, 2)}\n`);
  else io.stdout(toText(dir, result));
  return result.summary.errors > 0 ? EXIT.invalid : EXIT.ok;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function toText(dir: string, { problems, summary }: BuildResult): string {
  const lines = problems.map(formatProblem);
  const counts = `${plural(summary.files, 'file')}, ${plural(summary.connections, 'connection')}, ${plural(summary.triggers, 'trigger')}, ${plural(summary.services, 'service')}`;
  const verdict = summary.errors === 0 ? 'valid' : 'invalid';
  lines.push(`${dir}: ${counts}: ${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')} (${verdict})`);
  return `${lines.join('\n')}\n`;
}

function toJson(dir: string, { problems, summary }: BuildResult): unknown {
  return { folder: dir, valid: summary.errors === 0, summary, problems };
}
