/**
 * The official JSONata test suite (jsonata-js/jsonata test/test-suite), read from its shared copy
 * outside the project, and a checker that runs one case through an mqflow expression engine with
 * the same pass/fail rules as jsonata's own runner (test/run-test-suite.js).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonata from 'jsonata';
import { ExpressionSyntaxError, type Bindings, type Expression, type ExpressionEngine } from '../../src/expr/expression.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the suite lives: shared between checkouts, never copied into the project. */
export function suiteFolder(): string {
  return path.resolve(PROJECT_ROOT, '..', 'shared', 'jsonata-test-suite');
}

/** One case as written in the suite (field names as in TESTSUITE.md); `expr` is filled in from `expr-file`. */
export interface SuiteCase {
  readonly expr: string;
  readonly 'expr-file'?: string;
  readonly data?: unknown;
  readonly dataset?: string | null;
  readonly bindings?: Bindings;
  readonly result?: unknown;
  readonly undefinedResult?: boolean;
  readonly code?: string;
  readonly token?: string;
  readonly error?: Readonly<Record<string, unknown>>;
  readonly timelimit?: number;
  readonly depth?: number;
  readonly unordered?: boolean;
}

export interface SuiteEntry {
  readonly group: string;
  readonly file: string;
  /** Position inside a file that holds an array of cases; undefined for a single-case file. */
  readonly index: number | undefined;
  readonly case: SuiteCase;
  /** The input document, parsed afresh for this case so a mutating evaluation cannot leak into another. */
  readonly input: unknown;
}

/** Every case, groups and files in sorted order so runs are comparable. */
export function loadSuite(folder: string): SuiteEntry[] {
  const datasets = new Map<string, string>();
  const datasetText = (name: string): string => {
    let text = datasets.get(name);
    if (text === undefined) {
      const file = path.join(folder, 'datasets', `${name}.json`);
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw new Error(`dataset "${name}" not found: expected ${file}`);
      }
      datasets.set(name, text);
    }
    return text;
  };

  const entries: SuiteEntry[] = [];
  const groupsFolder = path.join(folder, 'groups');
  for (const group of sortedNames(groupsFolder).filter((name) => !name.endsWith('.json'))) {
    const groupFolder = path.join(groupsFolder, group);
    for (const file of sortedNames(groupFolder).filter((name) => name.endsWith('.json'))) {
      const where = `${group}/${file}`;
      const spec = readJson(path.join(groupFolder, file));
      const raws = isList(spec) ? spec : [spec];
      raws.forEach((raw, i) => {
        const c = parseCase(raw, groupFolder, where);
        entries.push({ group, file, index: isList(spec) ? i : undefined, case: c, input: resolveInput(c, datasetText) });
      });
    }
  }
  return entries;
}

function sortedNames(folder: string): string[] {
  return readdirSync(folder).sort();
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Array.isArray narrowed to unknown items rather than any. */
function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

/** Checks the fields the checker relies on, so a malformed case fails loudly instead of passing vacuously. */
function parseCase(raw: unknown, groupFolder: string, where: string): SuiteCase {
  if (!isRecord(raw)) throw new Error(`${where}: a case must be an object`);
  const expect = (field: string, ok: (v: unknown) => boolean, what: string): void => {
    if (field in raw && !ok(raw[field])) throw new Error(`${where}: "${field}" must be ${what}`);
  };
  const isString = (v: unknown): boolean => typeof v === 'string';
  expect('expr', isString, 'a string');
  expect('expr-file', isString, 'a string');
  expect('dataset', (v) => v === null || typeof v === 'string', 'a string or null');
  expect('bindings', isRecord, 'an object');
  expect('undefinedResult', (v) => typeof v === 'boolean', 'a boolean');
  expect('code', isString, 'a string');
  expect('token', isString, 'a string');
  expect('error', isRecord, 'an object');
  expect('timelimit', (v) => typeof v === 'number', 'a number');
  expect('depth', (v) => typeof v === 'number', 'a number');
  expect('unordered', (v) => typeof v === 'boolean', 'a boolean');

  // Like jsonata's runner: expr-file names a file next to the case, and replaces expr.
  const exprFile = raw['expr-file'];
  const expr = typeof exprFile === 'string' ? readFileSync(path.join(groupFolder, exprFile), 'utf8') : raw['expr'];
  if (typeof expr !== 'string') throw new Error(`${where}: a case needs "expr" or "expr-file"`);
  if (!('data' in raw) && !('dataset' in raw)) throw new Error(`${where}: a case needs "data" or "dataset"`);
  return { ...raw, expr };
}

/** `data` wins when present (even null); `dataset: null` means no input at all. */
function resolveInput(c: SuiteCase, datasetText: (name: string) => string): unknown {
  if ('data' in c) return c.data;
  if (c.dataset === null || c.dataset === undefined) return undefined;
  return JSON.parse(datasetText(c.dataset)) as unknown;
}

export interface Bounds {
  readonly timeoutMs: number;
  readonly maxDepth: number;
}

/** The engine to run a case on: the default one, or one made with the case's time and depth bounds. */
export type EngineFactory = (bounds?: Bounds) => ExpressionEngine;

export interface CaseOutcome {
  readonly outcome: 'pass' | 'fail';
  readonly mode: 'compiled' | 'interpreted' | 'syntax-error';
  /** Why the engine fell back to jsonata's evaluator, when it did. */
  readonly reason?: string;
  readonly detail?: string;
}

type Verdict = Pick<CaseOutcome, 'outcome' | 'detail'>;

const PASS: Verdict = { outcome: 'pass' };
const fail = (detail: string): Verdict => ({ outcome: 'fail', detail });

/** The runner bounds a case only when it sets both limits. */
function boundsOf(c: SuiteCase): Bounds | undefined {
  return c.timelimit !== undefined && c.depth !== undefined ? { timeoutMs: c.timelimit, maxDepth: c.depth } : undefined;
}

export async function checkCase(engineFor: EngineFactory, entry: SuiteEntry): Promise<CaseOutcome> {
  const c = entry.case;
  const bounds = boundsOf(c);
  let expression: Expression;
  try {
    expression = engineFor(bounds).compile(c.expr);
  } catch (error) {
    return { mode: 'syntax-error', ...checkParseError(c, error) };
  }
  const execution = expression.execution ?? { mode: 'interpreted', reason: 'unknown' };
  const reason = execution.mode === 'interpreted' ? { reason: execution.reason } : {};
  const settled = await settle(() => expression.evaluate(entry.input, c.bindings));
  return { mode: execution.mode, ...reason, ...judge(c, settled, bounds !== undefined) };
}

function checkParseError(c: SuiteCase, error: unknown): Verdict {
  if (!(error instanceof ExpressionSyntaxError)) return fail(`compile threw something other than a syntax error: ${describeError(error)}`);
  if (c.code === undefined) return fail(`unexpected syntax error ${error.code}: ${error.message}`);
  if (error.code !== c.code) return fail(`expected ${c.code}, got syntax error ${error.code}: ${error.message}`);
  if ('token' in c) {
    const token = jsonataParseToken(c.expr);
    if (token !== c.token) return fail(`expected token ${show(c.token)}, jsonata reports ${show(token)}`);
  }
  return PASS;
}

/**
 * ExpressionSyntaxError keeps an offset, not jsonata's token; the few cases that name a token are
 * checked against jsonata's own parse error instead (a check of the suite data, not of mqflow).
 */
function jsonataParseToken(expr: string): unknown {
  try {
    jsonata(expr);
    return undefined;
  } catch (error) {
    return isRecord(error) ? error['token'] : undefined;
  }
}

type Settled = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

async function settle(run: () => Promise<unknown>): Promise<Settled> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The runner's checks, in its order: undefinedResult, result, error, code. */
function judge(c: SuiteCase, settled: Settled, bounded: boolean): Verdict {
  if ('undefinedResult' in c) {
    if (!settled.ok) return fail(`expected undefined, threw ${describeError(settled.error)}`);
    return settled.value === undefined ? PASS : fail(`expected undefined, got ${show(settled.value)}`);
  }
  if ('result' in c) {
    if (!settled.ok) return fail(`expected ${show(c.result)}, threw ${describeError(settled.error)}`);
    const same = c.unordered === true ? sameMultiset(settled.value, c.result) : sameJson(settled.value, c.result);
    return same ? PASS : fail(`expected ${show(c.result)}, got ${show(settled.value)}`);
  }
  if (c.error !== undefined) {
    if (settled.ok) return fail(`expected error ${show(c.error)}, got ${show(settled.value)}`);
    const wrong = Object.keys(c.error).filter((field) => !sameJson(fieldOf(settled.error, field), c.error?.[field]));
    return wrong.length === 0 ? PASS : fail(`expected error ${show(c.error)}, got ${describeError(settled.error)} (differs in ${wrong.join(', ')})`);
  }
  if (c.code !== undefined) {
    if (settled.ok) return fail(`expected error ${c.code}, got ${show(settled.value)}`);
    const code = fieldOf(settled.error, 'code');
    return code === c.code || boundedCodeMatches(c.code, code, bounded) ? PASS : fail(`expected error ${c.code}, got ${describeError(settled.error)}`);
  }
  return fail('nothing to test: the case has none of undefinedResult, result, error, code');
}

/**
 * jsonata's runner bounds time and depth with its own hooks, which throw its own code U1001; our
 * engine passes the bounds to jsonata (or the compiler), which throw jsonata's D1011 (too deep) and
 * D1012 (too long). Same failure, different code — accepted only for cases that set both bounds.
 */
function boundedCodeMatches(expected: string, actual: unknown, bounded: boolean): boolean {
  return bounded && expected === 'U1001' && (actual === 'D1011' || actual === 'D1012');
}

function fieldOf(value: unknown, field: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined;
}

/**
 * Deep equality as the runner's chai deep.equal applies it to jsonata results: arrays by length and
 * elements (jsonata's sequences carry extra own properties such as `sequence`), objects by own
 * enumerable keys whatever their prototype (jsonata builds some with Object.create(null)), the rest
 * by ===. `expected` is JSON, so it holds no functions or undefined.
 */
export function sameJson(actual: unknown, expected: unknown): boolean {
  if (isList(expected)) {
    return isList(actual) && actual.length === expected.length && expected.every((item, i) => sameJson(actual[i], item));
  }
  if (isRecord(expected)) {
    if (!isRecord(actual)) return false;
    const keys = Object.keys(expected);
    return Object.keys(actual).length === keys.length && keys.every((key) => Object.prototype.hasOwnProperty.call(actual, key) && sameJson(actual[key], expected[key]));
  }
  return actual === expected;
}

/** For `unordered` cases: the top-level arrays hold the same items, each matched once, in any order. */
export function sameMultiset(actual: unknown, expected: unknown): boolean {
  if (!isList(actual) || !isList(expected)) return sameJson(actual, expected);
  if (actual.length !== expected.length) return false;
  const unmatched: unknown[] = [...actual];
  return expected.every((item) => {
    const at = unmatched.findIndex((candidate) => sameJson(candidate, item));
    if (at < 0) return false;
    unmatched.splice(at, 1);
    return true;
  });
}

function describeError(error: unknown): string {
  const code = fieldOf(error, 'code');
  const message = fieldOf(error, 'message');
  const text = typeof message === 'string' ? message : show(error);
  return typeof code === 'string' ? `${code}: ${text}` : text;
}

/** A short readable rendering of a value for failure messages. */
function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'function' ? '<function>' : v)) ?? '<unserializable value>';
  } catch {
    text = '<unserializable value>';
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
