/** `mqflow validate [dir]`: load, validate and compile a flow folder; print every problem. */
import { parseArgs } from 'node:util';
import { buildFlowFolder, type BuildResult } from '../flow/build.js';
import type { ExpressionSite } from '../flow/compile-context.js';
import { createJsonataEngine, DEFAULT_LIMITS } from '../expr/jsonata-engine.js';
import { processEnvironment, withPlaceholders } from '../flow/interpolate.js';
import { formatProblem } from '../flow/problem.js';
import type { FlowModel } from '../flow/model.js';
import type { SparkplugSettings } from '../codecs/sparkplug/session.js';
import { codecUses } from '../steps/kinds.js';
import type { SourcePosition } from '../util/position.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const validateHelp = `Usage: mqflow validate [dir] [--format text|json] [--explain]

Loads every *.yaml / *.yml file under dir (default: flows), checks it and reports every
problem as file:line:col. A \${env:…} variable that is not set (and has no default) is checked
with a placeholder in its place, and warned about (mqflow run needs it). Exit 0 when valid
(warnings allowed), 1 when not, 2 on a usage error.

Options:
  --format text|json   output format (default: text)
  --explain            also list every expression and how it runs: compiled to JavaScript,
                       or interpreted by jsonata (with the construct that needs it), and
                       how each trigger decodes its payloads and each publish encodes them
`;

export function runValidate(args: readonly string[], io: CommandIO): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { format: { type: 'string', default: 'text' }, explain: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
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

  // The runtime's default bounds: they decide whether a very deep expression compiles. Secrets
  // that are not set are stood in for (a warning each): CI checks flows without them.
  const result = buildFlowFolder(dir, { cwd: io.cwd, explain: values.explain, engine: createJsonataEngine(DEFAULT_LIMITS), environment: withPlaceholders(processEnvironment) });
  if (values.format === 'json') io.stdout(`${JSON.stringify(toJson(dir, result), null, 2)}\n`);
  else io.stdout(toText(dir, result));
  return result.summary.errors > 0 ? EXIT.invalid : EXIT.ok;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function toText(dir: string, { problems, summary, expressions, model }: BuildResult): string {
  const lines = problems.map(formatProblem);
  if (expressions !== undefined) lines.push(...explain(expressions));
  if (expressions !== undefined && model !== undefined) lines.push(...codecLines(model));
  const counts = `${plural(summary.files, 'file')}, ${plural(summary.connections, 'connection')}, ${plural(summary.triggers, 'trigger')}, ${summary.endpoints === 0 ? '' : `${plural(summary.endpoints, 'endpoint')}, `}${summary.schedules === 0 ? '' : `${plural(summary.schedules, 'schedule')}, `}${plural(summary.services, 'service')}`;
  const verdict = summary.errors === 0 ? 'valid' : 'invalid';
  lines.push(`${dir}: ${counts}: ${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')} (${verdict})`);
  return `${lines.join('\n')}\n`;
}

function toJson(dir: string, { problems, summary, expressions, model }: BuildResult): unknown {
  const codecs = expressions !== undefined && model !== undefined ? codecLines(model) : undefined;
  return { folder: dir, valid: summary.errors === 0, summary, problems, ...(expressions === undefined ? {} : { expressions }), ...(codecs === undefined ? {} : { codecs }) };
}

/** `flows/a.yaml:3:3 triggers.spb: payload sparkplugB (…)`: how each trigger decodes, each publish with a codec encodes. */
function codecLines(model: FlowModel): string[] {
  const where = (at: SourcePosition): string => `${at.file}:${at.line}:${at.column}`;
  const lines: string[] = [];
  for (const [kind, defs] of [['triggers', model.triggers], ['endpoints', model.endpoints]] as const) {
    for (const def of defs.values()) lines.push(`${where(def.at)} ${kind}.${def.name}: payload ${codecLabel(def)}`);
  }
  for (const service of model.services.values()) {
    for (const { step, codec } of codecUses(service.steps)) lines.push(`${where(step.at)} ${step.path}: codec ${codecLabel({ payload: codec.name, ...codec })}`);
  }
  return lines;
}

function codecLabel(part: { payload: string; codec?: { label: string }; sparkplug?: SparkplugSettings }): string {
  if (part.codec !== undefined) return part.codec.label;
  const s = part.sparkplug;
  if (s === undefined) return part.payload;
  const rebirth = s.rebirthMs === undefined ? 'no rebirth requests' : `rebirth at most every ${s.rebirthMs / 1000} s`;
  return `sparkplugB (alias tables in store "${s.store}", ${rebirth}, seq ${s.sequence === 'check' ? 'checked' : 'not checked'})`;
}

/** One line per expression, then a count: `flows/a.yaml:12:21 services.x.steps[0].transform: compiled`. */
function explain(sites: readonly ExpressionSite[]): string[] {
  const lines = sites.map((site) => {
    const how = site.execution.mode === 'compiled' ? 'compiled' : `interpreted (${site.execution.reason})`;
    return `${site.file}:${site.line}:${site.column} ${site.path}: ${how}: ${oneLine(site.source)}`;
  });
  const compiled = sites.filter((site) => site.execution.mode === 'compiled').length;
  lines.push(`${plural(sites.length, 'expression')}: ${compiled} compiled, ${sites.length - compiled} interpreted`);
  return lines;
}

function oneLine(source: string): string {
  const flat = source.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
