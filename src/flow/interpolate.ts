/**
 * Resolves `${env:NAME}`, `${env:NAME:-default}` and `${file:path}` in string values at load time.
 * Resolved values are secrets: they are recorded so that problems never print them, and so later
 * stages can redact them from any output.
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { describeLimit, FileLimitError, MAX_FILE_BYTES, readTextFileWithin } from '../util/bounded-read.js';
import type { ProblemList } from './problem.js';
import { formatPath, toPointer, type PathSegment } from '../util/path.js';
import type { SourceFile } from './source.js';

/** `$${…}` escapes a reference; group 1 is the escape, 2 the kind, 3 the rest. */
const REFERENCE = /\$(\$?)\{(env|file):([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface Interpolation {
  /** The document with every reference resolved. */
  readonly value: unknown;
  /** JSON pointer of each interpolated string → the references it used, as written (`${env:PASSWORD}`). */
  readonly interpolated: ReadonlyMap<string, readonly string[]>;
  /** Every resolved value, for redaction. */
  readonly secrets: readonly string[];
}

/**
 * Set on the variables of an environment by withPlaceholders(). It travels on `env`, which every
 * stage passes on as it is (the folder's read budget wraps readFile, not env).
 */
const PLACEHOLDERS = Symbol('mqflow.placeholders');

/**
 * The variables `${env:…}` reads. With placeholders (withPlaceholders: for commands that connect to
 * nothing, validate, test, graph, a dry-run invoke), a variable that is not set and has no default
 * stands in as a placeholder value (placeholderValue) with a warning, MQFLOW_ENV_PLACEHOLDER, instead
 * of an error, and the callback is told its name. Without, as for run, dev, publish and invoke
 * --live, it is an error.
 */
export type EnvironmentVariables = Readonly<Record<string, string | undefined>> & { readonly [PLACEHOLDERS]?: (name: string) => void };

export interface InterpolationEnvironment {
  readonly env: EnvironmentVariables;
  readonly readFile: (absolutePath: string) => string;
}

/** `environment`, with placeholders for the variables it does not set (see EnvironmentVariables). */
export function withPlaceholders(environment: InterpolationEnvironment, used: (name: string) => void = () => {}): InterpolationEnvironment {
  return { ...environment, env: { ...environment.env, [PLACEHOLDERS]: used } };
}

/**
 * What a missing variable stands in as: a value every check accepts where such references are
 * usually written. A whole URL gets a URL of the scheme its place needs (the reserved `.invalid`
 * domain, which never resolves); anything else the word `placeholder`.
 */
export function placeholderValue(path: readonly PathSegment[], whole: boolean): string {
  const key = path.findLast((s) => typeof s === 'string');
  if (!whole || (key !== 'url' && key !== 'urls')) return 'placeholder';
  if (path[0] === 'connections') return 'mqtt://placeholder.invalid:1883';
  if (path[0] === 'stores') return 'redis://placeholder.invalid:6379';
  return 'http://placeholder.invalid';
}

/** The real one. Its readFile, which also reads TLS files at compile, reads only regular files of at most MAX_FILE_BYTES. */
export const processEnvironment: InterpolationEnvironment = {
  env: process.env,
  readFile: (p) => readTextFileWithin(p, MAX_FILE_BYTES),
};

export function interpolate(
  data: unknown,
  source: SourceFile,
  environment: InterpolationEnvironment,
  problems: ProblemList,
): Interpolation {
  const interpolated = new Map<string, string[]>();
  const secrets: string[] = [];

  const resolveString = (text: string, path: PathSegment[]): string => {
    if (!text.includes('${')) return text;
    const used: string[] = [];
    const out = text.replace(REFERENCE, (whole: string, escape: string, kind: string, body: string) => {
      if (escape === '$') return whole.slice(1);
      used.push(whole);
      return (kind === 'env' ? resolveEnv(whole, body, path, whole === text) : resolveFile(whole, body, path)) ?? '';
    });
    if (used.length > 0) interpolated.set(toPointer(path), used);
    return out;
  };

  const report = (reference: string, path: PathSegment[], message: string, hint: string): void => {
    problems.add({
      severity: 'error',
      code: 'MQFLOW_INTERPOLATION',
      ...referencePosition(source, path, reference),
      path: formatPath(path),
      message: `${formatPath(path)}: ${message}`,
      hint,
    });
  };

  const resolveEnv = (reference: string, body: string, path: PathSegment[], whole: boolean): string | undefined => {
    const split = body.indexOf(':-');
    const name = split === -1 ? body : body.slice(0, split);
    const fallback = split === -1 ? undefined : body.slice(split + 2);
    if (!ENV_NAME.test(name)) {
      report(reference, path, `"${reference}" is not a valid environment reference`, 'write ${env:NAME} or ${env:NAME:-default}, where NAME is letters, digits and _');
      return undefined;
    }
    const value = environment.env[name];
    if (value !== undefined && value !== '') {
      secrets.push(value);
      return value;
    }
    // A default is written in the flow file itself, so it is not a secret.
    if (fallback !== undefined) return fallback;
    const placeholders = environment.env[PLACEHOLDERS];
    if (placeholders !== undefined) {
      placeholders(name);
      problems.add({
        severity: 'warning',
        code: 'MQFLOW_ENV_PLACEHOLDER',
        ...referencePosition(source, path, reference),
        path: formatPath(path),
        message: `${formatPath(path)}: environment variable ${name} is not set; checked with a placeholder in its place`,
        hint: `mqflow run, dev, publish and invoke --live need ${name} set (or give a default: \${env:${name}:-value})`,
      });
      return placeholderValue(path, whole);
    }
    report(reference, path, `environment variable ${name} is not set`, `set ${name}, or give a default: \${env:${name}:-value}`);
    return undefined;
  };

  const resolveFile = (reference: string, body: string, path: PathSegment[]): string | undefined => {
    if (body.trim() === '') {
      report(reference, path, `"${reference}" names no file`, 'write ${file:path}, with the path relative to this flow file');
      return undefined;
    }
    const absolute = resolve(dirname(source.absolutePath), body);
    try {
      // One trailing newline is dropped: `echo secret > file` is how most secret files are made.
      const value = environment.readFile(absolute).replace(/\r?\n$/, '');
      if (value !== '') secrets.push(value);
      return value;
    } catch (error) {
      // Shown relative to where the flow file is shown, like every other path in problems.
      const shown = isAbsolute(body) ? body : join(dirname(source.displayPath), body);
      if (error instanceof FileLimitError) {
        const hint = error.kind === 'folder-total' ? error.hint : `point it at a regular file of at most ${describeLimit(error.limit)} (a secret, a password), relative to the flow file`;
        report(reference, path, `cannot read ${reference} (${shown}): ${error.reason}`, hint);
        return undefined;
      }
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      report(reference, path, `cannot read ${reference}: ${reason} (${shown})`, 'the path is relative to the flow file that uses it');
      return undefined;
    }
  };

  const walk = (node: unknown, path: PathSegment[]): unknown => {
    if (typeof node === 'string') return resolveString(node, path);
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        // defineProperty so that a key named __proto__ stays a plain key.
        Object.defineProperty(out, key, { value: walk(value, [...path, key]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return node;
  };

  return { value: walk(data, []), interpolated, secrets };
}

/** Points at the reference itself when it can be found inside the scalar's source text. */
function referencePosition(source: SourceFile, path: PathSegment[], reference: string) {
  const scalar = source.scalarAt(path);
  if (scalar !== undefined) {
    const at = source.text.indexOf(reference, scalar.offset);
    if (at !== -1 && at < scalar.end) return source.positionAt(at);
  }
  return source.locate(path);
}

/** How a value is quoted in a message; values from `${env:…}`/`${file:…}` are never shown, only where they came from. */
export function describeValue(value: unknown, pointer: string, interpolated: ReadonlyMap<string, readonly string[]>): string {
  const references = interpolated.get(pointer);
  if (references !== undefined) return `the value of ${references.join(' ')}`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return JSON.stringify(value) ?? String(typeof value);
}
