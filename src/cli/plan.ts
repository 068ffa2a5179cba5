/** `mqflow plan <old-dir> <new-dir>`: what a reload from one folder to the other would change, without running anything. */
import { parseArgs } from 'node:util';
import { describePlan, isEmptyPlan, planCounts, planReload } from '../engine/plan.js';
import { createJsonataEngine } from '../expr/jsonata-engine.js';
import { buildFlowFolder } from '../flow/build.js';
import { formatProblem } from '../flow/problem.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const planHelp = `Usage: mqflow plan <old-dir> <new-dir> [--format text|json]

Builds both flow folders and prints what hot reload would change going from the first to the
second: one line per change (+ added, ~ changed, - removed), then a summary. Nothing connects
to a broker. Exit 0 when nothing would change, 3 when something would, 1 when a folder is
invalid (its problems are printed), 2 on a usage error.

Options:
  --format text|json   output format (default: text)
`;

export function runPlan(args: readonly string[], io: CommandIO): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { format: { type: 'string', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(planHelp);
    return EXIT.ok;
  }
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json (got ${values.format})`);
  if (positionals.length !== 2) throw new UsageError(`plan takes two folders, the old and the new (got ${positionals.length})`);
  const [oldDir, newDir] = positionals as [string, string];
  const engine = createJsonataEngine();
  const before = buildFlowFolder(oldDir, { cwd: io.cwd, engine });
  const after = buildFlowFolder(newDir, { cwd: io.cwd, engine });
  if (before.model === undefined || after.model === undefined) {
    const invalid = [before.model === undefined ? { dir: oldDir, result: before } : undefined, after.model === undefined ? { dir: newDir, result: after } : undefined].filter((x) => x !== undefined);
    if (values.format === 'json') io.stdout(`${JSON.stringify({ valid: false, invalid: invalid.map((i) => ({ folder: i.dir, problems: i.result.problems.filter((p) => p.severity === 'error') })) }, null, 2)}\n`);
    else for (const { dir, result } of invalid) io.stdout(`${result.problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n')}\n${dir}: ${result.summary.errors} error${result.summary.errors === 1 ? '' : 's'}; no plan\n`);
    return EXIT.invalid;
  }
  const plan = planReload(before.model, after.model);
  const counts = planCounts(plan);
  if (values.format === 'json') {
    io.stdout(`${JSON.stringify({ valid: true, changes: describePlan(plan), counts, plan }, null, 2)}\n`);
  } else {
    const lines = describePlan(plan);
    io.stdout(isEmptyPlan(plan) ? `no changes: ${newDir} runs exactly as ${oldDir}\n` : `${lines.join('\n')}\nplan: ${counts.added} to add, ${counts.changed} to change, ${counts.removed} to remove\n`);
  }
  return isEmptyPlan(plan) ? EXIT.ok : EXIT.changes;
}
