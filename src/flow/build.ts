/**
 * The whole front half of mqflow for one folder: load → validate → compile. Returns the model
 * (when the folder is valid) and every problem found, sorted, with secrets redacted.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ExpressionEngine } from '../expr/expression.js';
import { createJsonataEngine } from '../expr/jsonata-engine.js';
import type { ExpressionSite } from './compile-context.js';
import { compileFlow, type DefinitionCache } from './compile.js';
import type { CheckedFile } from './definitions.js';
import type { FlowFileCache } from './file-cache.js';
import { processEnvironment, type InterpolationEnvironment } from './interpolate.js';
import { discoverFlowFiles, readFlowFile, type LoadedFile } from './load.js';
import type { FlowModel } from './model.js';
import { ReadBudget } from '../util/bounded-read.js';
import { formatPath, fromPointer } from '../util/path.js';
import { ProblemList, type FlowProblem } from './problem.js';
import { checkSchema } from './schema-check.js';

export interface BuildOptions {
  readonly engine?: ExpressionEngine;
  readonly environment?: InterpolationEnvironment;
  /** Paths in problems are shown relative to this folder. Default: the working directory. */
  readonly cwd?: string;
  /** Reuses the load and schema check of files unchanged since the last build with this cache (hot reload). */
  readonly cache?: FlowFileCache;
  /** Report every expression and whether it runs compiled (`mqflow validate --explain`). */
  readonly explain?: boolean;
}

export interface BuildSummary {
  readonly files: number;
  readonly connections: number;
  readonly triggers: number;
  /** Endpoints (HTTP triggers). */
  readonly endpoints: number;
  readonly schedules: number;
  readonly services: number;
  readonly errors: number;
  readonly warnings: number;
}

export interface BuildResult {
  /** Present only when there is no error. */
  readonly model?: FlowModel;
  readonly problems: readonly FlowProblem[];
  readonly summary: BuildSummary;
  /** With `explain`: every expression, in file order, and how it runs. */
  readonly expressions?: readonly ExpressionSite[];
}

export class FlowFolderError extends Error {
  readonly code = 'MQFLOW_FOLDER';
}

/** Builds the model of the flow folder `dir`. Throws FlowFolderError only when the folder itself cannot be read. */
export function buildFlowFolder(dir: string, options: BuildOptions = {}): BuildResult {
  const { files, environment, problems, compile } = openFolder(dir, options);
  if (options.cache !== undefined) {
    const cached = options.cache.loadAll(files, environment, problems, options.cwd);
    const checked = cached.flatMap((c) => (c.checked === undefined ? [] : [{ file: c.loaded, ...c.checked }]));
    return buildFromChecked(cached.map((c) => c.loaded), checked, problems, { ...compile, definitions: options.cache.definitions });
  }
  return buildFromFiles(readFiles(files, environment, problems, options.cwd), problems, compile);
}

/** A folder's files read and parsed, not yet checked: a command that uses part of a folder builds it in parts (src/cli/load-model.ts). */
export interface LoadedFolder {
  readonly loaded: readonly LoadedFile[];
  /** The problems of reading the files (and of the folder: no flow files). */
  readonly problems: ProblemList;
  /** What buildFromFiles needs to compile them. */
  readonly compile: CompileInputs;
}

/** Reads the flow files of `dir` as buildFlowFolder does, without checking them. Throws FlowFolderError as it does. */
export function loadFlowFolder(dir: string, options: Omit<BuildOptions, 'cache'> = {}): LoadedFolder {
  const { files, environment, problems, compile } = openFolder(dir, options);
  return { loaded: readFiles(files, environment, problems, options.cwd), problems, compile };
}

function openFolder(dir: string, options: BuildOptions): { files: string[]; environment: InterpolationEnvironment; problems: ProblemList; compile: CompileInputs } {
  const absolute = resolve(options.cwd ?? process.cwd(), dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) throw new FlowFolderError(`flow folder ${dir} does not exist or is not a folder`);
  const environment = options.environment ?? processEnvironment;
  const problems = new ProblemList();
  const files = discoverFlowFiles(absolute);
  if (files.length === 0) {
    // An empty folder is almost always a wrong path; passing it would let a typo pass CI.
    problems.add({ severity: 'error', code: 'MQFLOW_NO_FLOWS', file: dir, line: 1, column: 1, path: '', message: 'no flow files (*.yaml, *.yml) in this folder', hint: 'check the path; test files (*.test.yaml) and dot-folders are not flow files' });
  }
  const compile = { engine: options.engine ?? createJsonataEngine(), readFile: environment.readFile, ...(options.explain === true ? { expressions: [] } : {}) };
  return { files, environment, problems, compile };
}

function readFiles(files: readonly string[], environment: InterpolationEnvironment, problems: ProblemList, cwd: string | undefined): LoadedFile[] {
  // One budget for the folder: its files, and those their ${file:…} name, are read up to MAX_FOLDER_BYTES in all.
  const budget = new ReadBudget();
  return files.map((path) => readFlowFile(path, environment, problems, cwd, budget));
}

export interface CompileInputs {
  readonly engine: ExpressionEngine;
  readonly readFile: (path: string) => string;
  readonly definitions?: DefinitionCache;
  readonly expressions?: ExpressionSite[];
}

/** The pure part: schema check and compile of files already loaded. */
export function buildFromFiles(loaded: readonly LoadedFile[], problems: ProblemList, options: CompileInputs): BuildResult {
  const checked: CheckedFile[] = [];
  for (const file of loaded) {
    if (file.data !== undefined) checked.push({ file, ...checkSchema(file, problems) });
  }
  return buildFromChecked(loaded, checked, problems, options);
}

function buildFromChecked(loaded: readonly LoadedFile[], checked: readonly CheckedFile[], problems: ProblemList, options: CompileInputs): BuildResult {
  const model = compileFlow(checked, { ...options, parsedAll: checked.length === loaded.length }, problems);
  const secrets = [...new Set(loaded.flatMap((f) => f.secrets))];
  const sorted = problems.sorted().map((p) => (touchesInterpolated(p, loaded) ? redact(p, secrets) : p));
  const count = (kind: 'connections' | 'triggers' | 'endpoints' | 'schedules' | 'services'): number =>
    checked.reduce((n, f) => {
      const map = (f.data as Record<string, unknown> | null)?.[kind];
      return n + (map !== null && typeof map === 'object' ? Object.keys(map).length : 0);
    }, 0);
  return {
    ...(model === undefined || problems.errorCount > 0 ? {} : { model }),
    problems: sorted,
    ...(options.expressions === undefined ? {} : { expressions: sortSites(options.expressions) }),
    summary: {
      files: loaded.length,
      connections: count('connections'),
      triggers: count('triggers'),
      endpoints: count('endpoints'),
      schedules: count('schedules'),
      services: count('services'),
      errors: sorted.filter((p) => p.severity === 'error').length,
      warnings: sorted.filter((p) => p.severity === 'warning').length,
    },
  };
}

function sortSites(sites: readonly ExpressionSite[]): ExpressionSite[] {
  return [...sites].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

/**
 * Does the problem concern a value resolved from ${env:…}/${file:…} (or a map or list holding one)?
 * Messages quote such values as "the value of ${env:NAME}"; for these problems the redaction below is
 * a second line of defence. Other problems are left alone, so a name that happens to equal a secret
 * is still shown as written.
 */
function touchesInterpolated(problem: FlowProblem, loaded: readonly LoadedFile[]): boolean {
  const file = loaded.find((f) => f.source.displayPath === problem.file);
  if (file === undefined) return true;
  for (const pointer of file.interpolated.keys()) {
    const path = formatPath(fromPointer(pointer, file.data));
    if (path === problem.path || problem.path === '' || isBelow(path, problem.path) || isBelow(problem.path, path)) return true;
  }
  return false;
}

function isBelow(path: string, ancestor: string): boolean {
  return path.startsWith(`${ancestor}.`) || path.startsWith(`${ancestor}[`);
}

/** A resolved secret never appears in a message about it, whatever produced the message. */
function redact(problem: FlowProblem, secrets: readonly string[]): FlowProblem {
  let { message, hint } = problem;
  // Longest first: a secret containing another must be masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length < 3) continue;
    message = message.split(secret).join('[secret]');
    if (hint !== undefined) hint = hint.split(secret).join('[secret]');
  }
  return hint === undefined ? { ...problem, message } : { ...problem, message, hint };
}

