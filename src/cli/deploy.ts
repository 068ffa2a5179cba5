/**
 * `mqflow deploy <dir> --to URL`: sends a flow folder to running instances (POST /api/deploy),
 * one after the other, stopping at the first that refuses it. Each instance checks the folder,
 * refuses it if it runs another version than the one this deploy was planned against, and applies
 * it as a hot reload (docs/gitops.md, "Deploying and rolling back"). Shares the per-instance loop with `mqflow rollback`.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { collectDeployFiles, MAX_DEPLOY_BYTES } from '../engine/deploy.js';
import { FileLimitError } from '../util/bounded-read.js';
import { formatProblem, type FlowProblem } from '../flow/problem.js';
import { flowRevision } from '../flow/revision.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const deployHelp = `Usage: mqflow deploy <dir> --to URL [--to URL …] [options]

Sends the flow folder dir (its flow files, .proto files and the files they read inside it) to
running mqflow instances, by their admin API. Each checks it, refuses it when it does not run
the version this deploy was planned against (someone deployed meanwhile), writes it into its
flow folder and applies the difference live, as a hot reload. With several --to (or a comma
list) the instances are deployed one after the other; the first refusal stops the rest.

Options:
  --to URL       the admin URL of an instance, e.g. http://10.0.0.5:9464 (repeatable)
  --token TOKEN  its admin token (or MQFLOW_ADMIN_TOKEN); deploys always need one

Exit status: 0 applied (or nothing to change) everywhere, 1 refused or unreachable, 2 usage.
`;

const OPTIONS = {
  to: { type: 'string', multiple: true },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runDeploy(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.stdout(deployHelp);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('takes one flow folder: mqflow deploy <dir> --to URL');
  const dir = positionals[0]!;
  const targets = instanceTargets(values.to, values.token);
  let files: Record<string, string>;
  try {
    files = collectDeployFiles(resolve(io.cwd, dir));
  } catch (error) {
    if (error instanceof FileLimitError) {
      io.stderr(`mqflow deploy: ${error.message}\n`);
      return EXIT.invalid;
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') throw new UsageError(`flow folder ${dir} does not exist or is not a folder`);
    throw error;
  }
  const revision = await flowRevision(resolve(io.cwd, dir));
  const body = (expect: string): string => JSON.stringify({ files, expect, ...(revision === undefined ? {} : { revision }) });
  if (Buffer.byteLength(body('x'.repeat(64))) > MAX_DEPLOY_BYTES) {
    io.stderr(`mqflow deploy: ${dir} is over the limit of ${MAX_DEPLOY_BYTES} bytes for a deploy; keep what is not a flow out of the folder\n`);
    return EXIT.invalid;
  }
  io.stdout(`deploying ${dir} (${Object.keys(files).length} file${Object.keys(files).length === 1 ? '' : 's'}${revision === undefined ? '' : `, commit ${revision.commit.slice(0, 12)}${revision.dirty ? ' with changes' : ''}`})\n`);
  return eachInstance(targets, io, dir, (expect) => ({ path: '/api/deploy', body: body(expect) }));
}

export interface Target {
  readonly url: string;
  readonly token: string;
}

/** The instances of --to (repeated, or comma lists) with the token; a usage error when either is missing or malformed. */
export function instanceTargets(to: readonly string[] | undefined, tokenFlag: string | undefined): Target[] {
  const urls = (to ?? []).flatMap((t) => t.split(',')).map((u) => u.trim()).filter((u) => u !== '');
  if (urls.length === 0) throw new UsageError('name the instance with --to URL, e.g. --to http://127.0.0.1:9464');
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw new UsageError(`--to must be an admin URL such as http://127.0.0.1:9464 (got ${url})`);
  }
  const token = tokenFlag ?? process.env.MQFLOW_ADMIN_TOKEN;
  if (token === undefined || token === '') throw new UsageError('a deploy needs the admin token: --token TOKEN or MQFLOW_ADMIN_TOKEN');
  return urls.map((url) => ({ url: url.replace(/\/+$/, ''), token }));
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function call(target: Target, path: string, body?: string): Promise<Answer> {
  const response = await fetch(`${target.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body }),
    // A deploy answers once its plan is applied, which may wait for triggers to restart.
    signal: AbortSignal.timeout(120_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { error: text.trim() };
  }
  return { status: response.status, body: (parsed ?? {}) as Record<string, unknown> };
}

/** The version an instance runs: from GET /api/definitions (what plan --against reads), or /api/history. */
async function running(target: Target): Promise<{ versionId: string; version?: number } | { error: string }> {
  try {
    const defs = await call(target, '/api/definitions');
    if (defs.status === 200 && typeof defs.body.versionId === 'string') {
      return { versionId: defs.body.versionId, ...(typeof defs.body.flowVersion === 'number' ? { version: defs.body.flowVersion } : {}) };
    }
    const history = await call(target, '/api/history');
    const run = history.body.running as { versionId?: unknown; version?: unknown } | undefined;
    if (history.status === 200 && typeof run?.versionId === 'string') return { versionId: run.versionId, ...(typeof run.version === 'number' ? { version: run.version } : {}) };
    return { error: `${defs.status}: ${errorOf(defs.body, 'no versionId')}` };
  } catch (error) {
    return { error: reason(error) };
  }
}

/**
 * Applies a request to each target in turn: reads the version it runs (the deploy's `expect`),
 * sends, prints its answer; stops at the first refusal; ends with which instance runs what.
 */
export async function eachInstance(targets: readonly Target[], io: CommandIO, dir: string | undefined, request: (expect: string) => { path: string; body: string }): Promise<number> {
  let refused = false;
  for (const target of targets) {
    const before = await running(target);
    if ('error' in before) {
      io.stderr(`${target.url}: cannot read the version it runs (${before.error}); stopping here\n`);
      refused = true;
      break;
    }
    const { path, body } = request(before.versionId);
    let answer: Answer;
    try {
      answer = await call(target, path, body);
    } catch (error) {
      io.stderr(`${target.url}: ${reason(error)}; stopping here\n`);
      refused = true;
      break;
    }
    if (answer.status === 200) {
      const b = answer.body;
      const changes = (b.changes as string[] | undefined) ?? [];
      io.stdout(`${target.url}: ${b.outcome === 'applied' ? 'applied' : 'nothing to change'}, version ${String(b.version)} (${String(b.versionId)}) in force\n`);
      for (const change of changes) io.stdout(`  ${change}\n`);
      continue;
    }
    io.stderr(`${target.url}: refused (${answer.status}): ${errorOf(answer.body, '')}\n`);
    for (const p of (answer.body.problems as FlowProblem[] | undefined) ?? []) io.stderr(`${formatProblem(dir === undefined || p.file === '.' ? p : { ...p, file: join(dir, p.file) })}\n`);
    refused = true;
    break;
  }
  if (targets.length > 1 || refused) {
    io.stdout('\ninstance versions now:\n');
    const width = Math.max(...targets.map((t) => t.url.length));
    for (const target of targets) {
      const now = await running(target);
      io.stdout(`  ${target.url.padEnd(width)}  ${'error' in now ? `unknown (${now.error})` : `version ${now.version ?? '?'} (${now.versionId})`}\n`);
    }
  }
  return refused ? EXIT.invalid : EXIT.ok;
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code !== undefined ? `cannot reach it (${cause.code})` : (error as Error).message;
}

function errorOf(body: Record<string, unknown>, otherwise: string): string {
  return typeof body.error === 'string' ? body.error : otherwise;
}
