/**
 * Hot reload: rebuild the flow folder, plan the difference with the running version, apply it.
 * One reload at a time; requests made during one are coalesced into one more after it. A folder
 * with errors changes nothing: the running version stays, every problem is logged as
 * file:line:col, and the failure is counted (docs/architecture.md, "Hot reload").
 */
import type { BuildResult } from '../flow/build.js';
import type { FlowRevision } from '../flow/revision.js';
import { formatProblem, type FlowProblem } from '../flow/problem.js';
import type { Engine } from './engine.js';
import { rememberSecrets, type Log } from '../util/log.js';
import { describePlan, isEmptyPlan, planCounts } from './plan.js';

export interface ReloadResult {
  readonly outcome: 'applied' | 'unchanged' | 'failed';
  /** The version in force afterwards (1 is the version started with). */
  readonly version: number;
  /** Changes, one line each (`+ trigger alerts`); empty when failed or unchanged. */
  readonly changes: readonly string[];
  readonly problems: readonly FlowProblem[];
  /** Build, plan and apply, until the new version was live. */
  readonly ms: number;
  readonly reason: string;
  readonly at: string;
}

/** A version applied: its number, the commit its folder was at (when in git), and when it went live. */
export interface AppliedVersion {
  readonly version: number;
  readonly revision?: FlowRevision;
  readonly appliedAt: string;
}

export interface ReloaderOptions {
  /** The folder's revision now (src/flow/revision.ts); read before each build, so it names what is built. */
  readonly revision?: () => Promise<FlowRevision | undefined>;
}

/** Versions kept for status and deploys (the newest last); older ones are dropped. */
const KEPT_VERSIONS = 50;

export interface ReloadCounts {
  applied: number;
  unchanged: number;
  failed: number;
}

export class Reloader {
  readonly counts: ReloadCounts = { applied: 0, unchanged: 0, failed: 0 };
  #version = 1;
  #applied: AppliedVersion[] = [{ version: 1, appliedAt: new Date().toISOString() }];
  #last: ReloadResult | undefined;
  #running: Promise<ReloadResult> | undefined;
  #queued: { promise: Promise<ReloadResult>; reasons: string[] } | undefined;

  constructor(
    private readonly engine: Engine,
    /** Loads, validates and compiles the folder (with a file cache, so unchanged files are not parsed again). */
    private readonly build: () => BuildResult,
    private readonly log: Log,
    private readonly options: ReloaderOptions = {},
  ) {}

  /** Records the revision of the version started with (call once, before the first reload). */
  async start(): Promise<void> {
    const revision = await this.#revision();
    if (revision !== undefined && this.#version === 1) this.#applied[0] = { ...this.#applied[0]!, revision };
  }

  /** The version in force. */
  get current(): AppliedVersion {
    return this.#applied.at(-1)!;
  }

  /** The versions applied, oldest first (at most the last 50). */
  get applied(): readonly AppliedVersion[] {
    return this.#applied;
  }

  get version(): number {
    return this.#version;
  }

  get last(): ReloadResult | undefined {
    return this.#last;
  }

  /** Reloads now, or right after the reload in progress (requests meanwhile share that one). */
  request(reason: string): Promise<ReloadResult> {
    if (this.#running === undefined) return this.#start([reason]);
    if (this.#queued !== undefined) {
      this.#queued.reasons.push(reason);
      return this.#queued.promise;
    }
    const reasons = [reason];
    const next = (): Promise<ReloadResult> => {
      this.#queued = undefined;
      return this.#start(reasons);
    };
    const promise = this.#running.then(next, next);
    this.#queued = { promise, reasons };
    return promise;
  }

  #start(reasons: readonly string[]): Promise<ReloadResult> {
    const running = this.#reload(reasons.join(', ')).finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  async #reload(reason: string): Promise<ReloadResult> {
    const started = performance.now();
    const at = new Date().toISOString();
    const revision = await this.#revision();
    const rev = revision === undefined ? {} : { revision: revision.commit, dirty: revision.dirty };
    let result: BuildResult;
    try {
      result = this.build();
    } catch (error) {
      // The folder itself is gone or unreadable: keep running what we have.
      const problem: FlowProblem = { severity: 'error', code: 'MQFLOW_FOLDER', file: '.', line: 1, column: 1, path: '', message: (error as Error).message };
      return this.#failed([problem], reason, at, started, rev);
    }
    if (result.model === undefined) return this.#failed(result.problems, reason, at, started, rev);
    const built = performance.now();
    rememberSecrets(this.log, result.model.secrets);
    for (const p of result.problems) this.log.warn({ event: 'flow-warning', file: p.file, line: p.line, column: p.column, code: p.code }, formatProblem(p));
    const { effective, plan } = this.engine.planFor(result.model);
    const planned = performance.now();
    // Even an empty plan swaps the model: positions in error reports follow edits that moved definitions.
    try {
      await this.engine.apply(effective, plan, result.model);
    } catch (error) {
      this.log.error({ event: 'reload-apply-failed', err: error }, `reload (${reason}): applying the plan failed: ${(error as Error).message}`);
      const problem: FlowProblem = { severity: 'error', code: 'MQFLOW_APPLY', file: '.', line: 1, column: 1, path: '', message: (error as Error).message };
      return this.#failed([problem], reason, at, started, rev);
    }
    const now = performance.now();
    const ms = round(now - started);
    const stages = { buildMs: round(built - started), planMs: round(planned - built), applyMs: round(now - planned) };
    if (isEmptyPlan(plan)) {
      this.counts.unchanged++;
      // Same definitions, newer commit (the edit applied was committed): the version in force is that commit's.
      if (revision !== undefined && !sameRevision(revision, this.current.revision)) this.#applied[this.#applied.length - 1] = { ...this.current, revision };
      this.log.info({ event: 'reload-unchanged', reason, ms, ...stages, version: this.#version, ...rev }, `reload (${reason}): nothing to change (${ms} ms)`);
      return this.#done({ outcome: 'unchanged', version: this.#version, changes: [], problems: result.problems, ms, reason, at });
    }
    this.#version++;
    this.counts.applied++;
    this.#applied.push({ version: this.#version, ...(revision === undefined ? {} : { revision }), appliedAt: new Date().toISOString() });
    if (this.#applied.length > KEPT_VERSIONS) this.#applied.shift();
    const changes = describePlan(plan);
    for (const change of changes) this.log.info({ event: 'reload-change', change }, change);
    const counts = planCounts(plan);
    this.log.info(
      { event: 'reload-applied', reason, ms, ...stages, version: this.#version, ...rev, ...counts },
      `reload (${reason}) applied in ${ms} ms: ${counts.added} to add, ${counts.changed} to change, ${counts.removed} to remove; version ${this.#version} in force`,
    );
    return this.#done({ outcome: 'applied', version: this.#version, changes, problems: result.problems, ms, reason, at });
  }

  async #revision(): Promise<FlowRevision | undefined> {
    try {
      return await this.options.revision?.();
    } catch {
      return undefined;
    }
  }

  #failed(problems: readonly FlowProblem[], reason: string, at: string, started: number, rev: { revision?: string; dirty?: boolean } = {}): ReloadResult {
    this.counts.failed++;
    for (const p of problems) {
      const level = p.severity === 'error' ? 'error' : 'warn';
      this.log[level]({ event: 'reload-problem', file: p.file, line: p.line, column: p.column, code: p.code }, formatProblem(p));
    }
    const errors = problems.filter((p) => p.severity === 'error').length;
    const ms = round(performance.now() - started);
    this.log.error(
      { event: 'reload-failed', reason, errors, ms, version: this.#version, ...rev },
      `reload (${reason}) failed: ${errors} error${errors === 1 ? '' : 's'} in the flow folder; version ${this.#version} stays in force`,
    );
    return this.#done({ outcome: 'failed', version: this.#version, changes: [], problems, ms, reason, at });
  }

  #done(result: ReloadResult): ReloadResult {
    this.#last = result;
    return result;
  }
}

const sameRevision = (a: FlowRevision, b: FlowRevision | undefined): boolean => b !== undefined && a.commit === b.commit && a.dirty === b.dirty;

const round = (ms: number): number => Math.round(ms * 10) / 10;
