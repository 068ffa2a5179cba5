/**
 * load: finds the flow files of a folder and parses each one into a document with source
 * positions, secrets resolved. Discovery does I/O; parsing is pure.
 */
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit, type YAMLError } from 'yaml';
import { FileLimitError, MAX_FILE_BYTES, readFileWithin, ReadBudget } from '../util/bounded-read.js';
import { interpolate, type InterpolationEnvironment } from './interpolate.js';
import type { FlowProblem, ProblemList } from './problem.js';
import { SourceFile } from './source.js';

const FLOW_FILE = /\.ya?ml$/i;
const TEST_FILE = /\.test\.ya?ml$/i;
/** YAML anchors may be reused; this bounds "billion laughs" documents. */
const MAX_ALIAS_COUNT = 1000;

export interface LoadedFile {
  readonly source: SourceFile;
  /** The file's data with `${…}` references resolved; undefined when the file could not be parsed. */
  readonly data: unknown;
  readonly interpolated: ReadonlyMap<string, readonly string[]>;
  readonly secrets: readonly string[];
}

/** Is `name` (a file name, no folder) a flow file: *.yaml or *.yml, not a *.test.yaml, not hidden? */
export function isFlowFileName(name: string): boolean {
  return !name.startsWith('.') && FLOW_FILE.test(name) && !TEST_FILE.test(name);
}

/**
 * Every `*.yaml` / `*.yml` under `dir`, sorted, skipping dot-folders, node_modules and test files
 * (`*.test.yaml`, which belong to `mqflow test`). A link to a folder is not followed, so a link
 * cannot make a loop; anything else so named is listed, and reading it decides (readFlowFile).
 */
export function discoverFlowFiles(dir: string): string[] {
  const found: string[] = [];
  const visit = (folder: string): void => {
    const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') visit(full);
      } else if (FLOW_FILE.test(entry.name) && !TEST_FILE.test(entry.name)) {
        // A link to a folder is not followed (no loops). Anything else with a flow file's name is listed, so that a
        // dangling link, a FIFO or a device is reported by readFlowFile rather than silently left out.
        if (entry.isSymbolicLink() && isFolder(full)) continue;
        found.push(full);
      }
    }
  };
  visit(dir);
  return found;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** How a path is shown in problems: relative to the working directory when it is below it. */
export function displayPath(absolutePath: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, absolutePath);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolutePath;
}

/**
 * Reads and parses one flow file. Only a regular file of at most MAX_FILE_BYTES is read, and what
 * it and its `${file:…}` references read is counted against `budget`, which the caller shares
 * between the files of one folder (MAX_FOLDER_BYTES); a file not read is a problem at `file:1:1`.
 */
export function readFlowFile(
  absolutePath: string,
  environment: InterpolationEnvironment,
  problems: ProblemList,
  cwd?: string,
  budget: ReadBudget = new ReadBudget(),
): LoadedFile {
  const shownAs = displayPath(absolutePath, cwd);
  let text: string;
  try {
    if (budget.exhausted) throw budget.refusal(absolutePath);
    const bytes = readFileWithin(absolutePath, MAX_FILE_BYTES);
    if (!budget.take(bytes.length)) throw budget.refusal(absolutePath);
    text = bytes.toString('utf8');
  } catch (error) {
    problems.add({ severity: 'error', code: 'MQFLOW_READ', file: shownAs, line: 1, column: 1, path: '', ...readProblem(error) });
    // An empty document stands in for it; `data: undefined` keeps its (unknown) definitions from being checked against.
    return { ...parseFlowFile(absolutePath, shownAs, '', environment, problems), data: undefined };
  }
  return parseFlowFile(absolutePath, shownAs, text, budgeted(environment, budget), problems);
}

function readProblem(error: unknown): { message: string; hint?: string } {
  if (error instanceof FileLimitError) {
    const hint = error.kind === 'too-large' ? 'split it into several flow files' : error.kind === 'not-regular' ? 'make it a regular file, or move it out of the flow folder' : error.hint;
    return { message: `cannot read the file: ${error.reason}`, hint };
  }
  const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (a dangling link?)' : (error as Error).message;
  return { message: `cannot read the file: ${reason}` };
}

/** `environment` with its file reads (`${file:…}`) counted against the folder's budget. */
function budgeted(environment: InterpolationEnvironment, budget: ReadBudget): InterpolationEnvironment {
  return {
    env: environment.env,
    readFile: (path) => {
      if (budget.exhausted) throw budget.refusal(path);
      const text = environment.readFile(path);
      if (!budget.take(Buffer.byteLength(text))) throw budget.refusal(path);
      return text;
    },
  };
}

/** Parses one file's text. Pure apart from `${file:…}` reads, which go through `environment`. */
export function parseFlowFile(
  absolutePath: string,
  shownAs: string,
  text: string,
  environment: InterpolationEnvironment,
  problems: ProblemList,
): LoadedFile {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true, merge: true, prettyErrors: false });
  const source = new SourceFile(absolutePath, shownAs, text, document, lines);
  const empty: LoadedFile = { source, data: undefined, interpolated: new Map(), secrets: [] };

  // After the first syntax error the parser's further errors are mostly its confusion: report the first only.
  const firstSyntaxError = document.errors.find((e) => e.code !== 'DUPLICATE_KEY');
  for (const error of document.errors) if (error.code === 'DUPLICATE_KEY' || error === firstSyntaxError) problems.add(yamlProblem(source, error));
  // A duplicate key leaves a usable document; any other syntax error would only cause follow-on noise.
  if (document.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return empty;

  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    problems.add({
      severity: 'error',
      code: 'MQFLOW_YAML_SYNTAX',
      ...source.positionAt(0),
      path: '',
      message: `YAML error: ${(error as Error).message}`,
    });
    return empty;
  }
  if (data === null || data === undefined) return { ...empty, data: {} };
  // Most files reference no secret: skip the walk that copies the document.
  if (!text.includes('${')) return { source, data, interpolated: new Map(), secrets: [] };
  const resolved = interpolate(data, source, environment, problems);
  return { source, data: resolved.value, interpolated: resolved.interpolated, secrets: resolved.secrets };
}

function yamlProblem(source: SourceFile, error: YAMLError): FlowProblem {
  const position = source.positionAt(error.pos[0]);
  if (error.code === 'MULTIPLE_DOCS') {
    return {
      severity: 'error',
      code: 'MQFLOW_YAML_SYNTAX',
      ...position,
      path: '',
      message: 'a flow file holds one YAML document, and this "---" starts a second one',
      hint: 'move each document into a file of its own, or merge their maps',
    };
  }
  if (error.code === 'DUPLICATE_KEY') {
    const first = firstOccurrence(source, error.pos[0]);
    const key = first?.key ?? /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:#\n]+?)(?=\s*:)/.exec(source.text.slice(error.pos[0]))?.[1] ?? 'key';
    const where = first === undefined ? '' : ` (first at line ${source.positionAt(first.offset).line})`;
    return {
      severity: 'error',
      code: 'MQFLOW_DUPLICATE_KEY',
      ...position,
      path: '',
      message: `duplicate key "${key}"${where}: a key may appear only once in a map`,
      hint: 'remove or rename one of the two entries',
    };
  }
  return {
    severity: 'error',
    code: 'MQFLOW_YAML_SYNTAX',
    ...position,
    path: '',
    message: `YAML syntax error: ${error.message.replace(/\s+at line \d+, column \d+:?[\s\S]*$/, '')}`,
    hint: 'check the indentation and quoting here; quote a value that contains ": " or " #", or starts with one of { [ * & ! | > % @ `',
  };
}

/** For a duplicate key at `offset`: the key and where it first appears in the same map. */
function firstOccurrence(source: SourceFile, offset: number): { key: string; offset: number } | undefined {
  let found: { key: string; offset: number } | undefined;
  visit(source.document, {
    Map(_, map) {
      const keys = map.items.map((pair) => (isScalar(pair.key) ? pair.key : undefined));
      const duplicate = keys.find((k) => k?.range?.[0] === offset);
      if (duplicate === undefined) return undefined;
      const first = keys.find((k) => k !== undefined && k !== duplicate && k.value === duplicate.value);
      if (first?.range) found = { key: String(first.value), offset: first.range[0] };
      return visit.BREAK;
    },
  });
  return found;
}
