/**
 * `mqflow plan`: what a reload would change, without running anything: from one folder to another,
 * from a running instance to a folder (--against, through its admin API), or from a folder as of a
 * commit to the folder now (--from-git). See docs/hot-reload.md and docs/gitops.md.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { comparableModel, definitionsOf, isDefinitionsDocument, type DefinitionsDocument } from '../engine/definitions.js';
import { describePlan, isEmptyPlan, planCounts, planReload, type ReloadPlan } from '../engine/plan.js';
import { createJsonataEngine } from '../expr/jsonata-engine.js';
import type { ExpressionEngine } from '../expr/expression.js';
import { buildFlowFolder, buildFromFiles, type BuildResult } from '../flow/build.js';
import { processEnvironment } from '../flow/interpolate.js';
import { parseFlowFile } from '../flow/load.js';
import type { FlowModel } from '../flow/model.js';
import { formatProblem, ProblemList } from '../flow/problem.js';
import { flowFilesAt, GitError, type FlowRevision } from '../flow/revision.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const planHelp = `Usage: mqflow plan <old-dir> <new-dir> [--format text|json|markdown]
       mqflow plan <dir> --against <admin URL> [--token T] [--format …]
       mqflow plan --from-git <rev> <dir> [--format …]

Builds the flows and prints what hot reload would change going from the old version to the new:
one line per change (+ added, ~ changed, - removed, ! state that resets), then a summary.
Nothing connects to a broker.

The old version is:
  <old-dir>               another flow folder
  --against <URL>         the definitions a running mqflow runs, read from its admin API
                          (GET <URL>/api/definitions; secrets are compared by digest, never sent)
  --from-git <rev>        <dir> as of a git commit (read with git, nothing is checked out)

Exit 0 when nothing would change, 3 when something would, 1 when a folder is invalid (its
problems are printed) or the instance or git cannot be read, 2 on a usage error.

Options:
  --against <URL>         plan against a running instance (its admin API base URL)
  --token <T>             the admin API token (default: MQFLOW_ADMIN_TOKEN)
  --from-git <rev>        plan from <dir> as of this commit, branch or tag
  --format text|json|markdown
                          output format (default: text; markdown for a pull-request comment)
`;

type Format = 'text' | 'json' | 'markdown';

/** One side of a plan: what it is called in the output, and its model (or why there is none). */
interface Side {
  readonly label: string;
  readonly model?: FlowModel;
  readonly invalid?: BuildResult;
  /** For --against: the instance's version and commit, shown in markdown. */
  readonly running?: { readonly flowVersion?: number; readonly revision?: FlowRevision; readonly versionId: string };
}

export async function runPlan(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      format: { type: 'string', default: 'text' },
      against: { type: 'string' },
      token: { type: 'string' },
      'from-git': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(planHelp);
    return EXIT.ok;
  }
  const format = values.format as Format;
  if (format !== 'text' && format !== 'json' && format !== 'markdown') throw new UsageError(`--format must be text, json or markdown (got ${values.format})`);
  const against = values.against;
  const fromGit = values['from-git'];
  if (against !== undefined && fromGit !== undefined) throw new UsageError('--against and --from-git each name the old version: give one of them');
  if (values.token !== undefined && against === undefined) throw new UsageError('--token is for --against');
  const engine = createJsonataEngine();

  let before: Side;
  let after: Side;
  if (against !== undefined || fromGit !== undefined) {
    if (positionals.length !== 1) throw new UsageError(`plan ${against !== undefined ? '--against' : '--from-git'} takes one folder, the new version (got ${positionals.length})`);
    const dir = positionals[0]!;
    after = folderSide(dir, io, engine);
    if (against !== undefined) {
      const fetched = await fetchDefinitions(against, values.token ?? process.env.MQFLOW_ADMIN_TOKEN);
      if (typeof fetched === 'string') {
        io.stderr(`mqflow plan: ${fetched}\n`);
        return EXIT.invalid;
      }
      // Both sides go through the same document (with the instance's digest key), so secrets compare by digest.
      before = { label: against, model: comparableModel(fetched), running: { versionId: fetched.versionId, ...(typeof fetched.flowVersion === 'number' ? { flowVersion: fetched.flowVersion } : {}), ...(fetched.revision === undefined ? {} : { revision: fetched.revision }) } };
      if (after.model !== undefined) after = { ...after, model: comparableModel(definitionsOf(after.model, fetched.secretSalt)) };
    } else {
      try {
        before = await gitSide(dir, fromGit!, io, engine);
      } catch (error) {
        if (!(error instanceof GitError)) throw error;
        io.stderr(`mqflow plan: cannot read ${dir} as of ${fromGit}: ${error.message}\n`);
        return EXIT.invalid;
      }
    }
  } else {
    if (positionals.length !== 2) throw new UsageError(`plan takes two folders, the old and the new (got ${positionals.length})`);
    before = folderSide(positionals[0]!, io, engine);
    after = folderSide(positionals[1]!, io, engine);
  }

  if (before.model === undefined || after.model === undefined) {
    const invalid = [before, after].filter((s) => s.model === undefined);
    io.stdout(invalidText(invalid, format));
    return EXIT.invalid;
  }
  const plan = planReload(before.model, after.model);
  io.stdout(planText(plan, before, after, format));
  return isEmptyPlan(plan) ? EXIT.ok : EXIT.changes;
}

function folderSide(dir: string, io: CommandIO, engine: ExpressionEngine): Side {
  const result = buildFlowFolder(dir, { cwd: io.cwd, engine });
  return result.model === undefined ? { label: dir, invalid: result } : { label: dir, model: result.model };
}

/** `dir` as of `rev`: its flow files read from git into memory and built as a folder would be. */
async function gitSide(dir: string, rev: string, io: CommandIO, engine: ExpressionEngine): Promise<Side> {
  const files = await flowFilesAt(resolve(io.cwd, dir), rev);
  const label = `${dir} at ${rev}`;
  const problems = new ProblemList();
  if (files.length === 0) {
    problems.add({ severity: 'error', code: 'MQFLOW_NO_FLOWS', file: label, line: 1, column: 1, path: '', message: 'no flow files (*.yaml, *.yml) in this folder at that commit' });
  }
  const loaded = files.map((f) => parseFlowFile(f.absolutePath, f.shownAs, f.text, processEnvironment, problems));
  const result = buildFromFiles(loaded, problems, { engine, readFile: processEnvironment.readFile });
  return result.model === undefined ? { label, invalid: result } : { label, model: result.model };
}

type FetchedDefinitions = DefinitionsDocument & { readonly flowVersion?: unknown; readonly revision?: FlowRevision };

/** The running definitions of the instance at `base`, or what went wrong, in words. */
async function fetchDefinitions(base: string, token: string | undefined): Promise<FetchedDefinitions | string> {
  let url: URL;
  try {
    url = new URL('api/definitions', base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new UsageError(`--against needs the admin API's URL, like http://127.0.0.1:9464 (got ${base})`);
  }
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return `cannot reach the admin API at ${base}: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
  }
  const text = await res.text();
  if (res.status === 401) return `the admin API at ${base} refused the request (401): ${token === undefined ? 'it needs a token (--token, or MQFLOW_ADMIN_TOKEN)' : 'the token is wrong'}`;
  if (res.status === 404) return `${url.href} answered 404: is this an mqflow admin API, and is mqflow at least the version that serves /api/definitions?`;
  if (!res.ok) return `${url.href} answered ${res.status}: ${text.slice(0, 300)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${url.href} did not answer JSON`;
  }
  if (!isDefinitionsDocument(body)) return `${url.href} did not answer a definitions document`;
  return body;
}

function errorCount(result: BuildResult): string {
  return `${result.summary.errors} error${result.summary.errors === 1 ? '' : 's'}`;
}

function invalidText(invalid: readonly Side[], format: Format): string {
  const errors = (s: Side): ReturnType<typeof formatProblem>[] => s.invalid!.problems.filter((p) => p.severity === 'error').map(formatProblem);
  if (format === 'json') return `${JSON.stringify({ valid: false, invalid: invalid.map((s) => ({ folder: s.label, problems: s.invalid!.problems.filter((p) => p.severity === 'error') })) }, null, 2)}\n`;
  if (format === 'markdown') {
    return `${invalid.map((s) => `### mqflow plan: \`${s.label}\` is invalid (${errorCount(s.invalid!)}); no plan\n\n\`\`\`\n${errors(s).join('\n')}\n\`\`\`\n`).join('\n')}`;
  }
  return invalid.map((s) => `${errors(s).join('\n')}\n${s.label}: ${errorCount(s.invalid!)}; no plan\n`).join('');
}

function planText(plan: ReloadPlan, before: Side, after: Side, format: Format): string {
  const counts = planCounts(plan);
  const lines = describePlan(plan);
  const summary = `${counts.added} to add, ${counts.changed} to change, ${counts.removed} to remove`;
  if (format === 'json') return `${JSON.stringify({ valid: true, changes: lines, counts, plan, ...(before.running === undefined ? {} : { running: before.running }) }, null, 2)}\n`;
  if (format === 'markdown') {
    const running = before.running;
    const from = running === undefined ? `\`${before.label}\`` : `the instance at \`${before.label}\` (flow version ${String(running.flowVersion ?? '?')}${running.revision === undefined ? '' : `, commit \`${running.revision.commit.slice(0, 12)}\`${running.revision.dirty ? ' with uncommitted changes' : ''}`})`;
    const head = `### mqflow plan: \`${after.label}\` against ${from}\n\n`;
    const same = running === undefined ? `\`${after.label}\` runs exactly as \`${before.label}\`` : 'the instance would run exactly as it does now';
    if (isEmptyPlan(plan)) return `${head}No changes: ${same}.\n`;
    return `${head}**Plan: ${summary}**\n\n\`\`\`diff\n${lines.join('\n')}\n\`\`\`\n`;
  }
  return isEmptyPlan(plan) ? `no changes: ${after.label} runs exactly as ${before.label}\n` : `${lines.join('\n')}\nplan: ${summary}\n`;
}
