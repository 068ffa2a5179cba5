/**
 * validate, part one: checks a file's data against the flow schema and turns ajv's errors into
 * positioned problems that say what to change. Values that came from `${env:…}` are coerced to the
 * number or boolean the schema expects (environment variables are always text).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { LoadedFile } from './load.js';
import { DURATION_PATTERN } from './duration.js';
import { describeValue } from './interpolate.js';
import { formatPath, fromPointer, type PathSegment, type ValuePath } from './path.js';
import type { FlowProblem, ProblemList } from './problem.js';
import { FLOW_SCHEMA } from './schema.js';
import { didYouMean } from './suggest.js';

let compiled: ValidateFunction | undefined;

/** ajv compiles the schema to a function once per process, on first use. */
function flowValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, allowUnionTypes: true }).compile(FLOW_SCHEMA);
  return compiled;
}

export interface SchemaCheck {
  /** The data, with interpolated values coerced to the types the schema expects. */
  readonly data: unknown;
  /** The paths of the values that broke the schema (empty when the file is valid). */
  readonly invalidPaths: readonly ValuePath[];
}

/** Validates `file.data` and reports every problem. */
export function checkSchema(file: LoadedFile, problems: ProblemList): SchemaCheck {
  const validate = flowValidator();
  let data = file.data;
  if (validate(data)) return { data, invalidPaths: [] };
  const coerced = coerceInterpolated(data, validate.errors ?? [], file.interpolated);
  if (coerced !== undefined) {
    data = coerced;
    if (validate(data)) return { data, invalidPaths: [] };
  }
  const found = describeErrors(validate.errors ?? [], data, file);
  for (const problem of found) problems.add(problem.problem);
  return { data, invalidPaths: found.map((f) => f.path) };
}

/** Returns a copy of `data` with interpolated strings turned into the numbers/booleans the schema wants, or undefined if there is nothing to coerce. */
function coerceInterpolated(data: unknown, errors: readonly ErrorObject[], interpolated: LoadedFile['interpolated']): unknown {
  const replacements = new Map<string, unknown>();
  for (const error of errors) {
    if (!interpolated.has(error.instancePath) || typeof error.data !== 'string') continue;
    const wanted = error.keyword === 'type' ? String((error.params as { type: unknown }).type) : error.keyword === 'enum' ? 'enum' : undefined;
    const text = error.data.trim();
    let value: unknown;
    if ((wanted === 'integer' && /^-?\d+$/.test(text)) || ((wanted === 'number' || wanted === 'enum') && text !== '' && Number.isFinite(Number(text)))) value = Number(text);
    else if ((wanted === 'boolean' || wanted === 'enum') && (text === 'true' || text === 'false')) value = text === 'true';
    if (value !== undefined) replacements.set(error.instancePath, value);
  }
  if (replacements.size === 0) return undefined;
  const copy: unknown = structuredClone(data);
  for (const [pointer, value] of replacements) {
    const path = fromPointer(pointer, copy);
    const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string, unknown>)[key as string], copy);
    (parent as Record<string | number, unknown>)[path[path.length - 1]!] = value;
  }
  return copy;
}

function describeErrors(errors: readonly ErrorObject[], data: unknown, file: LoadedFile): { problem: FlowProblem; path: ValuePath }[] {
  return collapseAlternatives(errors).map((error) => ({ problem: describe(error, data, file), path: fromPointer(error.instancePath, data) }));
}

/**
 * For anyOf, ajv reports every branch's errors. When the value's type matched one branch, only that
 * branch's errors matter; when it matched none, one "must be A or B" error replaces them all.
 */
function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  const alternatives = errors.filter((e) => e.keyword === 'anyOf');
  const inBranch = (e: ErrorObject, alt: ErrorObject): boolean => e !== alt && e.schemaPath.startsWith(`${alt.schemaPath}/`);
  const out = errors.filter((e) => e.keyword !== 'anyOf' && !alternatives.some((alt) => inBranch(e, alt)));
  for (const alt of alternatives) {
    // Nested alternatives are handled by their outermost anyOf.
    if (alternatives.some((outer) => inBranch(alt, outer))) continue;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of errors) {
      if (!inBranch(e, alt)) continue;
      const index = e.schemaPath.slice(alt.schemaPath.length + 1).split('/')[0]!;
      branches.set(index, [...(branches.get(index) ?? []), e]);
    }
    const typeMismatch = (list: ErrorObject[]): boolean => list.every((e) => e.keyword === 'type' && e.instancePath === alt.instancePath);
    const matched = [...branches.values()].find((list) => !typeMismatch(list));
    if (matched !== undefined) {
      out.push(...collapseAlternatives(matched));
    } else {
      const types = [...branches.values()].flat().map((e) => String((e.params as { type: unknown }).type));
      out.push({ ...alt, keyword: 'type', params: { type: types.join(',') } });
    }
  }
  return out;
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a map',
  array: 'a list',
  null: 'null',
};

function typeList(types: string): string {
  const names = [...new Set(types.split(',').map((t) => TYPE_NAMES[t] ?? t))];
  return oxford(names);
}

function oxford(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]!}`;
}

function describe(error: ErrorObject, data: unknown, file: LoadedFile): FlowProblem {
  const path = fromPointer(error.instancePath, data);
  const where = formatPath(path);
  const subject = where === '' ? 'the file' : where;
  const got = (): string => describeValue(error.data, error.instancePath, file.interpolated);
  const base = (code: string, message: string, at: PathSegment[] = path, hint?: string): FlowProblem => ({
    severity: 'error',
    code,
    ...file.source.locate(at),
    path: formatPath(at),
    message,
    ...(hint === undefined ? {} : { hint }),
  });
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((error.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
      const suggestion = didYouMean(key, known);
      const inWhat = where === '' ? 'at the top level of the file' : `in ${where}`;
      return {
        ...base('MQFLOW_UNKNOWN_KEY', `unknown key "${key}" ${inWhat}${suggestion}`, [...path, key]),
        ...file.source.locateKey(path, key),
        ...(suggestion === '' ? { hint: `known keys here: ${known.join(', ')}` } : {}),
      };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const property = (error.parentSchema?.properties as Record<string, { description?: string }> | undefined)?.[missing];
      return base('MQFLOW_REQUIRED', `${subject} is missing "${missing}"`, path, property?.description === undefined ? undefined : `${missing}: ${property.description}`);
    }
    case 'type':
      return base('MQFLOW_SCHEMA_TYPE', `${subject} must be ${typeList(String(params.type))} (got ${got()})`);
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
      return base('MQFLOW_SCHEMA_ENUM', `${subject} must be ${oxford(allowed)} (got ${got()})`);
    }
    case 'minimum':
    case 'maximum': {
      const op = error.keyword === 'minimum' ? 'at least' : 'at most';
      return base('MQFLOW_SCHEMA_RANGE', `${subject} must be ${op} ${String(params.limit)} (got ${got()})`);
    }
    case 'minLength':
      return base('MQFLOW_SCHEMA_EMPTY', `${subject} must not be empty`);
    case 'minItems':
      return base('MQFLOW_SCHEMA_EMPTY', `${subject} must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`);
    case 'minProperties':
      return base('MQFLOW_SCHEMA_EMPTY', `${subject} must not be empty`);
    case 'pattern':
      return params.pattern === DURATION_PATTERN
        ? base('MQFLOW_SCHEMA_FORMAT', `${subject} must be a duration such as "500ms", "10s", "5m" or a number of milliseconds (got ${got()})`)
        : base('MQFLOW_SCHEMA_FORMAT', `${subject} must match ${String(params.pattern)} (got ${got()})`);
    default:
      return base('MQFLOW_SCHEMA', `${subject} ${error.message ?? 'is invalid'}`);
  }
}
