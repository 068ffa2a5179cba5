/**
 * Deploy: a flow folder sent as files to a running instance (POST /api/deploy). It is built in
 * memory first; only a valid folder, planned against the version that is running, is written into
 * the flow folder (each file written aside and renamed over the original) and applied by the
 * reloader, as a hot reload is. The folder on disk is what was deployed, so a restart runs it too.
 * Every applied version is kept in `<folder>/.mqflow/history/<n>/` (a hidden folder: the loader and
 * the watcher skip it), from which a rollback deploys it again (docs/architecture.md, 66–68).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { ExpressionEngine } from '../expr/expression.js';
import { createJsonataEngine } from '../expr/jsonata-engine.js';
import { buildFromFiles, type BuildResult } from '../flow/build.js';
import { processEnvironment, type InterpolationEnvironment } from '../flow/interpolate.js';
import { discoverFlowFiles, isFlowFileName, parseFlowFile } from '../flow/load.js';
import { ProblemList, type FlowProblem } from '../flow/problem.js';
import type { FlowRevision } from '../flow/revision.js';
import { MAX_FILE_BYTES, readTextFileWithin, ReadBudget } from '../util/bounded-read.js';
import type { Log } from '../util/log.js';
import type { Engine } from './engine.js';
import type { ReloadResult, Reloader } from './reloader.js';
import { versionIdOf } from './version-id.js';

/** The most a deploy request's body may hold (the files, JSON-encoded). */
export const MAX_DEPLOY_BYTES = 8 * 1024 * 1024;
/** Where applied versions are kept, relative to the flow folder. */
export const HISTORY_FOLDER = join('.mqflow', 'history');
export const DEFAULT_HISTORY_KEEP = 10;
/** Who deployed: admin tokens have no names, so every deploy through the API is the admin token's. */
export const ADMIN_TOKEN_WHO = 'admin-token';

/** A deployed folder: file contents (UTF-8) by path relative to the folder, `/`-separated. */
export type DeployFiles = Readonly<Record<string, string>>;

export class DeployPathError extends Error {
  readonly code = 'MQFLOW_DEPLOY_PATH';
}

/**
 * Refuses a path that could leave the folder or that the loader would not read as sent: absolute,
 * `..`, backslashes, hidden segments (the history lives in one), node_modules, empty segments.
 */
export function checkDeployPath(path: string): void {
  const fail = (why: string): never => {
    throw new DeployPathError(`cannot deploy "${path}": ${why}`);
  };
  if (path.length === 0 || path.length > 1024) fail('a path must have 1 to 1024 characters');
  if (path.includes('\\') || path.includes('\0')) fail('use "/" to separate folders; no backslashes or NUL');
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) fail('the path must be relative to the flow folder');
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '..' || segment === '.') fail('no empty, "." or ".." segments');
    if (segment.startsWith('.')) fail('hidden files and folders are not part of a flow folder');
    if (segment === 'node_modules') fail('node_modules is not part of a flow folder');
  }
}

/**
 * What `mqflow deploy` sends from `dir`: its flow files, its .proto files, and the other files
 * inside it that building it reads (`${file:…}`, TLS files), each of at most MAX_FILE_BYTES and
 * MAX_DEPLOY_BYTES in all. Files outside the folder are not sent: the instance reads its own.
 */
export function collectDeployFiles(dir: string, environment: InterpolationEnvironment = processEnvironment): Record<string, string> {
  const root = resolve(dir);
  const budget = new ReadBudget(MAX_DEPLOY_BYTES);
  const files: Record<string, string> = {};
  const add = (absolute: string, text: string): void => {
    const rel = relative(root, absolute).split(sep).join('/');
    if (rel.startsWith('../') || rel === '..' || resolve(root, rel) !== absolute || rel in files) return;
    try {
      checkDeployPath(rel);
    } catch {
      return;
    }
    if (!budget.take(Buffer.byteLength(text))) throw budget.refusal(absolute);
    files[rel] = text;
  };
  const flowFiles = discoverFlowFiles(root);
  for (const path of [...flowFiles, ...protoFiles(root)]) add(path, readTextFileWithin(path, MAX_FILE_BYTES));
  // Build it once to learn which other files it reads; its problems are the instance's to report.
  const reads = new Map<string, string>();
  const recording: InterpolationEnvironment = {
    env: environment.env,
    readFile: (p) => {
      const text = environment.readFile(p);
      reads.set(p, text);
      return text;
    },
  };
  const flows = Object.fromEntries(Object.entries(files).filter(([rel]) => isFlowFileName(basename(rel))));
  buildFiles(root, flows, recording, undefined);
  for (const [path, text] of reads) add(resolve(path), text);
  return files;
}

function protoFiles(dir: string): string[] {
  const found: string[] = [];
  const visit = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(folder, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() && entry.name.endsWith('.proto')) found.push(full);
    }
  };
  visit(dir);
  return found.sort();
}

/**
 * Builds `files` as if they were the flow folder `dir`: flow files from `files`; any other file a
 * flow reads from `files` when it is there, else from the disk (what stays in the folder, or a
 * certificate outside it). Problems name files relative to the folder.
 */
function buildFiles(dir: string, files: DeployFiles, environment: InterpolationEnvironment, engine: ExpressionEngine | undefined): BuildResult {
  const problems = new ProblemList();
  const readFile = (absolute: string): string => {
    const rel = relative(dir, absolute).split(sep).join('/');
    const sent = Object.hasOwn(files, rel) ? files[rel] : undefined;
    return sent ?? environment.readFile(absolute);
  };
  const inMemory: InterpolationEnvironment = { env: environment.env, readFile };
  const flows = Object.keys(files)
    .filter((rel) => isFlowFileName(basename(rel)))
    .sort();
  if (flows.length === 0) {
    problems.add({ severity: 'error', code: 'MQFLOW_NO_FLOWS', file: '.', line: 1, column: 1, path: '', message: 'no flow files (*.yaml, *.yml) in the deployed folder', hint: 'deploy the folder that holds the flow files' });
  }
  const loaded = flows.map((rel) => parseFlowFile(join(dir, ...rel.split('/')), rel, files[rel]!, inMemory, problems));
  return buildFromFiles(loaded, problems, { engine: engine ?? createJsonataEngine(), readFile });
}

export interface HistoryEntry {
  /** Its number: 1, 2, … in the order applied. */
  readonly version: number;
  readonly versionId: string;
  /** The instance's flow version (its reload count) when it was applied. */
  readonly flowVersion: number;
  readonly time: string;
  /** Who applied it: `admin-token` for the admin API, `folder` for a version found in force. */
  readonly who: string;
  readonly reason: string;
  /** The commit the deployed folder was at, as `mqflow deploy` found it. */
  readonly revision?: FlowRevision;
  readonly files: readonly string[];
}

export type DeployOutcome =
  | { readonly kind: 'done'; readonly result: ReloadResult; readonly versionId: string; readonly history?: number }
  | { readonly kind: 'invalid'; readonly problems: readonly FlowProblem[]; readonly version: number; readonly versionId: string }
  | { readonly kind: 'stale'; readonly expected: string; readonly running: string }
  | { readonly kind: 'unknown-version'; readonly message: string };

export interface DeployerOptions {
  /** The flow folder the instance runs. */
  readonly dir: string;
  readonly engine: Engine;
  readonly reloader: Reloader;
  /** The instance's expression engine, so a deploy is checked as its reload will be. */
  readonly expressions: ExpressionEngine;
  readonly environment?: InterpolationEnvironment;
  /** Applied versions kept (default 10). */
  readonly keep?: number;
  readonly log: Log;
}

export class Deployer {
  readonly #dir: string;
  readonly #keep: number;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DeployerOptions) {
    this.#dir = resolve(options.dir);
    this.#keep = options.keep ?? DEFAULT_HISTORY_KEEP;
  }

  /** The instance's flow version (its reload count) running now. */
  get runningVersion(): number {
    return this.options.reloader.version;
  }

  /** The id of the version running now. */
  get versionId(): string {
    return versionIdOf(this.options.engine.defined);
  }

  /** Checks `files`, and when valid and planned against the running version, writes and applies them. One at a time. */
  deploy(files: DeployFiles, expect: string, who: string = ADMIN_TOKEN_WHO, revision?: FlowRevision): Promise<DeployOutcome> {
    return this.#serial(() => this.#apply(files, expect, who, 'deploy', revision));
  }

  /** Deploys history entry `version` again (default: the newest one that is not the running version). */
  rollback(version: number | undefined, expect: string, who: string = ADMIN_TOKEN_WHO): Promise<DeployOutcome> {
    return this.#serial(async () => {
      const entries = this.history();
      const running = this.versionId;
      const target = version === undefined ? entries.findLast((e) => e.versionId !== running) : entries.find((e) => e.version === version);
      if (target === undefined) {
        const kept = entries.map((e) => e.version).join(', ') || 'none';
        return { kind: 'unknown-version', message: version === undefined ? `no earlier version in the history to roll back to (kept: ${kept})` : `no version ${version} in the history (kept: ${kept})` };
      }
      const folder = join(this.#historyDir(), String(target.version), 'files');
      const files = Object.fromEntries(target.files.map((rel) => [rel, readFileSync(join(folder, ...rel.split('/')), 'utf8')]));
      return this.#apply(files, expect, who, `rollback to ${target.version}`, target.revision);
    });
  }

  /** The kept versions, oldest first. */
  history(): HistoryEntry[] {
    const dir = this.#historyDir();
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b)
      .flatMap((n) => {
        try {
          return [JSON.parse(readFileSync(join(dir, String(n), 'meta.json'), 'utf8')) as HistoryEntry];
        } catch {
          return [];
        }
      });
  }

  /** Builds `files` in memory as the folder, without touching it. */
  validate(files: DeployFiles): BuildResult {
    return buildFiles(this.#dir, files, this.options.environment ?? processEnvironment, this.options.expressions);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(files: DeployFiles, expect: string, who: string, reason: string, revision: FlowRevision | undefined): Promise<DeployOutcome> {
    const { log, reloader } = this.options;
    for (const rel of Object.keys(files)) checkDeployPath(rel);
    const built = this.validate(files);
    if (built.model === undefined) {
      return { kind: 'invalid', problems: built.problems, version: reloader.version, versionId: this.versionId };
    }
    const running = this.versionId;
    if (expect !== running) return { kind: 'stale', expected: expect, running };
    // The version in force so far, kept before it is replaced (a rollback needs something to go back to).
    if (this.history().at(-1)?.versionId !== running) this.#recordRunning(running);
    const restore = this.#write(files);
    const result = await reloader.request(reason);
    if (result.outcome === 'failed') {
      restore();
      log.error({ event: 'deploy-failed', reason }, `${reason}: the instance could not apply it; the flow folder is restored, version ${result.version} stays in force`);
      return { kind: 'invalid', problems: result.problems, version: result.version, versionId: this.versionId };
    }
    const versionId = this.versionId;
    const history = this.history().at(-1)?.versionId === versionId ? undefined : this.#record(files, { versionId, flowVersion: result.version, who, reason, ...(revision === undefined ? {} : { revision }) });
    log.info(
      { event: 'deploy-applied', reason, who, outcome: result.outcome, version: result.version, versionId, changes: result.changes.length },
      `${reason} by ${who}: ${result.outcome === 'applied' ? `applied, version ${result.version} (${versionId}) in force` : `nothing to change, version ${result.version} (${versionId}) stays`}`,
    );
    return { kind: 'done', result, versionId, ...(history === undefined ? {} : { history }) };
  }

  /** Writes every file beside its place and renames it over the original, then removes the flow files not deployed. Returns how to undo it. */
  #write(files: DeployFiles): () => void {
    const root = realpathSync(this.#dir);
    const target = (rel: string): string => join(this.#dir, ...rel.split('/'));
    const removed = discoverFlowFiles(this.#dir).filter((abs) => !Object.hasOwn(files, relative(this.#dir, abs).split(sep).join('/')));
    const before = new Map<string, Buffer | undefined>();
    for (const abs of [...Object.keys(files).map(target), ...removed]) before.set(abs, existsSync(abs) ? readFileSync(abs) : undefined);
    const temps: [string, string][] = [];
    for (const [rel, text] of Object.entries(files)) {
      const abs = target(rel);
      mkdirSync(dirname(abs), { recursive: true });
      // A folder that is a link out of the flow folder is not written through.
      const parent = realpathSync(dirname(abs));
      if (parent !== root && !parent.startsWith(root + sep)) throw new DeployPathError(`cannot deploy "${rel}": its folder leads out of the flow folder`);
      const temp = join(dirname(abs), `.${basename(abs)}.deploy~`);
      writeFileSync(temp, text);
      temps.push([temp, abs]);
    }
    // Renames last and together: a reload in between sees each file whole.
    for (const [temp, abs] of temps) renameSync(temp, abs);
    for (const abs of removed) unlinkSync(abs);
    return () => {
      for (const [abs, content] of before) {
        if (content === undefined) rmSync(abs, { force: true });
        else writeFileSync(abs, content);
      }
    };
  }

  /** Records the folder in force before a deploy, if it builds to the running version. */
  #recordRunning(running: string): void {
    let files: Record<string, string>;
    try {
      files = collectDeployFiles(this.#dir, this.options.environment);
    } catch {
      return;
    }
    const built = this.validate(files);
    if (built.model === undefined || versionIdOf(built.model) !== running) return;
    this.#record(files, { versionId: running, flowVersion: this.options.reloader.version, who: 'folder', reason: 'in force before a deploy' });
  }

  #record(files: DeployFiles, meta: Pick<HistoryEntry, 'versionId' | 'flowVersion' | 'who' | 'reason' | 'revision'>): number | undefined {
    const dir = this.#historyDir();
    try {
      mkdirSync(dir, { recursive: true });
      const version = (this.history().at(-1)?.version ?? 0) + 1;
      const temp = join(dir, `.${version}.tmp`);
      rmSync(temp, { recursive: true, force: true });
      for (const [rel, text] of Object.entries(files)) {
        const path = join(temp, 'files', ...rel.split('/'));
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, text);
      }
      const entry: HistoryEntry = { version, ...meta, time: new Date().toISOString(), files: Object.keys(files).sort() };
      writeFileSync(join(temp, 'meta.json'), `${JSON.stringify(entry, null, 2)}\n`);
      renameSync(temp, join(dir, String(version)));
      for (const old of this.history().slice(0, -this.#keep)) rmSync(join(dir, String(old.version)), { recursive: true, force: true });
      return version;
    } catch (error) {
      // The deploy is applied whatever happens to its record; say so rather than fail it.
      this.options.log.warn({ event: 'history-failed', err: { message: (error as Error).message } }, `could not record the version in ${dir}: ${(error as Error).message}`);
      return undefined;
    }
  }

  #historyDir(): string {
    return join(this.#dir, HISTORY_FOLDER);
  }
}
