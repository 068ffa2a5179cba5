/** What the compile stage shares between its parts: the expression engine, the problem list and collected references. */
import type { ExpressionEngine, ExpressionExecution } from '../expr/expression.js';
import type { LoadedFile } from './load.js';
import { formatPath, toPointer, type ValuePath } from '../util/path.js';
import type { ProblemList, Severity } from './problem.js';
import { describeValue } from './interpolate.js';
import { createHash } from 'node:crypto';
import { fingerprint } from './fingerprint.js';
import type { Definition } from './model.js';

/** A definition as written: its name, schema-valid value, and where it is. */
export interface Located<Value> {
  readonly name: string;
  readonly value: Value;
  readonly file: LoadedFile;
  readonly path: ValuePath;
  /** True when the schema check found a problem at `path` or below; such parts are not compiled (their problem is reported already). */
  readonly broken: (path: ValuePath) => boolean;
  /** True when the schema check found a problem at exactly `path` (its type, or a key inside it). */
  readonly brokenAt: (path: ValuePath) => boolean;
}

/** A name used somewhere that must be defined somewhere (checked once all files are compiled). */
export interface Reference {
  readonly kind: 'service' | 'connection' | 'store' | 'window' | 'listener';
  readonly name: string;
  /** The service whose step makes the reference, for invoke-cycle detection. */
  readonly fromService?: string;
  readonly file: LoadedFile;
  readonly path: ValuePath;
}

export interface CompileContext {
  readonly engine: ExpressionEngine;
  readonly problems: ProblemList;
  /** Reads files named by flows (TLS certificates); injected so compile stays testable without I/O. */
  readonly readFile: (absolutePath: string) => string;
  readonly references: Reference[];
  /** Collects where each expression is and how it runs, for `mqflow validate --explain`. */
  readonly expressions?: ExpressionSite[];
}

/** An expression in a flow file and how the engine runs it. */
export interface ExpressionSite {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The flow value holding it, e.g. `services.normalize.steps[0].transform`. */
  readonly path: string;
  readonly source: string;
  readonly execution: ExpressionExecution;
}

export function report(
  context: CompileContext,
  file: LoadedFile,
  path: ValuePath,
  code: string,
  message: string,
  hint?: string,
  severity: Severity = 'error',
): void {
  context.problems.add({ severity, code, ...file.source.locate(path), path: formatPath(path), message, ...(hint === undefined ? {} : { hint }) });
}

/** A value quoted for a message, or where it came from when it was resolved from a secret. */
export function quote(file: LoadedFile, path: ValuePath, value: unknown): string {
  return describeValue(value, toPointer(path), file.interpolated);
}

export function contentDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `context` with its reads recorded (path → digest of the contents): the files a definition depends on. */
export function recordingReads(context: CompileContext): { context: CompileContext; files: Map<string, string> } {
  const files = new Map<string, string>();
  const readFile = (path: string): string => {
    const text = context.readFile(path);
    files.set(path, contentDigest(text));
    return text;
  };
  return { context: { ...context, readFile }, files };
}

/** The fields every compiled definition has; `identity` is what its fingerprint is computed from. */
export function definitionHeader(def: Located<{ description?: string; enabled?: boolean }>, identity: unknown): Definition {
  return {
    name: def.name,
    ...(def.value.description === undefined ? {} : { description: def.value.description }),
    enabled: def.value.enabled ?? true,
    at: def.file.source.locate(def.path),
    fingerprint: fingerprint(identity),
  };
}
