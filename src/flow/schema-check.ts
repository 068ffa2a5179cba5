/**
 * validate, part one: checks a file's data against the flow schema and turns ajv's errors into
 * positioned problems that say what to change. Values that came from `${env:…}` are coerced to the
 * number or boolean the schema expects (environment variables are always text).
 */
import { REBIRTH_PATTERN } from '../component/codec.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { LoadedFile } from './load.js';
import { PERCENT_PATTERN } from '../steps/changed.js';
import { NAMESPACE_PATTERN } from '../steps/state-step.js';
import { DURATION_PATTERN } from '../util/duration.js';
import { describeValue } from './interpolate.js';
import { formatPath, fromPointer, toPointer, type PathSegment, type ValuePath } from '../util/path.js';
import type { FlowProblem, ProblemList } from './problem.js';
import { FLOW_SCHEMA } from './schema.js';
import { closestMatch, didYouMean } from './suggest.js';

let compiled: ValidateFunction | undefined;

/** ajv compiles the schema to a function once per process, on first use. */
function flowValidator(): ValidateFunction {
  compiled ??= compileFileSchema(FLOW_SCHEMA);
  return compiled;
}

/** A validator for a YAML file format (flow files, test files), with the options checkFile's messages rely on. */
export function compileFileSchema(schema: object): ValidateFunction {
  return new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, allowUnionTypes: true }).compile(schema);
}

export interface SchemaCheck {
  /** The data, with interpolated values coerced to the types the schema expects. */
  readonly data: unknown;
  /** The paths of the values that broke the schema (empty when the file is valid). */
  readonly invalidPaths: readonly ValuePath[];
}

/** Validates `file.data` against the flow schema and reports every problem. */
export function checkSchema(file: LoadedFile, problems: ProblemList): SchemaCheck {
  return checkFile(flowValidator(), file, problems);
}

/** Validates `file.data` with `validate` (see compileFileSchema) and reports every problem, positioned. */
export function checkFile(validate: ValidateFunction, file: LoadedFile, problems: ProblemList): SchemaCheck {
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
  return withoutMisspeltRequired(collapseAlternatives(errors)).map((error) => ({ problem: describe(error, data, file, []), path: fromPointer(error.instancePath, data) }));
}

/** Patterns said in words. */
const PATTERN_PHRASES: Readonly<Record<string, string>> = {
  [DURATION_PATTERN]: 'be a duration such as "500ms", "10s", "5m" or a number of milliseconds',
  [PERCENT_PATTERN]: 'be a number or a percentage such as "5%"',
  [REBIRTH_PATTERN]: 'be a duration such as "30s" or "5m", a number of milliseconds, or off',
  [NAMESPACE_PATTERN]: 'be a namespace: letters, digits and _ . - / [ ], starting with a letter, digit or _, at most 200 characters',
};

/**
 * Problems with a JSON Schema written inside a flow (a service's `input`, a validate step), found
 * by checking it against the JSON Schema meta-schema. `schemaPath` is where the schema is written.
 */
export function describeSchemaErrors(errors: readonly ErrorObject[], schema: unknown, file: LoadedFile, schemaPath: ValuePath): FlowProblem[] {
  return withoutMisspeltRequired(collapseAlternatives(errors)).map((error) => describe(error, schema, file, schemaPath));
}

/** A misspelt required key is reported once, as "unknown key … (did you mean …)", not also as missing. */
function withoutMisspeltRequired(errors: ErrorObject[]): ErrorObject[] {
  const suggested = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'additionalProperties') continue;
    const known = Object.keys((e.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
    const match = closestMatch(String((e.params as { additionalProperty: unknown }).additionalProperty), known);
    if (match !== undefined) suggested.add(`${e.instancePath}\0${match}`);
  }
  return errors.filter((e) => e.keyword !== 'required' || !suggested.has(`${e.instancePath}\0${String((e.params as { missingProperty: unknown }).missingProperty)}`));
}

/**
 * For anyOf, ajv reports every branch's errors. When the value's type matched one branch, only that
 * branch's errors matter; when it matched none, one "must be A or B" error replaces them all.
 */
function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  // ajv pushes a failed anyOf's branch errors just before the anyOf error itself: the run of errors
  // right before it, at or below its instance, belongs to it (schemaPath alone cannot tell, since
  // it is relative to a $ref target).
  // Outermost first: an anyOf nested in a branch goes with that branch's errors, and is resolved
  // when that branch is (with its own branch errors, not without them).
  const owner = new Map<ErrorObject, number>();
  for (let index = errors.length - 1; index >= 0; index--) {
    const alt = errors[index]!;
    if (alt.keyword !== 'anyOf' || owner.has(alt)) continue;
    for (let i = index - 1; i >= 0; i--) {
      const e = errors[i]!;
      if (e.instancePath !== alt.instancePath && !e.instancePath.startsWith(`${alt.instancePath}/`)) break;
      if (!owner.has(e)) owner.set(e, index);
    }
  }
  const out: ErrorObject[] = [];
  errors.forEach((error, index) => {
    if (owner.has(error)) return; // handled with the anyOf that owns it
    if (error.keyword !== 'anyOf') {
      out.push(error);
      return;
    }
    out.push(...resolveAlternative(error, errors.filter((e) => owner.get(e) === index)));
  });
  return out;
}

/**
 * When the value's type matched a branch, only that branch's errors matter; when it matched none,
 * one "must be A or B" error replaces them all.
 */
function resolveAlternative(alt: ErrorObject, branchErrors: readonly ErrorObject[]): ErrorObject[] {
  const branches = new Map<string, ErrorObject[]>();
  for (const e of branchErrors) {
    const key = e.schemaPath.startsWith(`${alt.schemaPath}/`) ? e.schemaPath.slice(alt.schemaPath.length + 1).split('/')[0]! : e.schemaPath;
    branches.set(key, [...(branches.get(key) ?? []), e]);
  }
  const typeMismatch = (list: ErrorObject[]): boolean => list.every((e) => e.keyword === 'type' && e.instancePath === alt.instancePath);
  // A branch that failed only on the value itself (its type, an enum) explains less than one that
  // took the value and failed inside it: `payload: { sparkplugB: { rebirth: x } }` is about rebirth.
  const shallow = (list: ErrorObject[]): boolean => list.every((e) => e.instancePath === alt.instancePath && (e.keyword === 'type' || e.keyword === 'enum' || e.keyword === 'const'));
  const candidates = [...branches.values()].filter((list) => !typeMismatch(list));
  const matched = candidates.find((list) => !shallow(list)) ?? candidates[0];
  if (matched !== undefined) return collapseAlternatives(matched);
  const types = branchErrors.map((e) => String((e.params as { type: unknown }).type));
  return [{ ...alt, keyword: 'type', params: { type: types.join(',') } }];
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

/**
 * One ajv error as a problem. `prefix` is empty for the flow schema; for a JSON Schema written in a
 * flow it is where that schema is, and the message says the schema itself is invalid.
 */
function describe(error: ErrorObject, data: unknown, file: LoadedFile, prefix: ValuePath): FlowProblem {
  const inner = fromPointer(error.instancePath, data);
  const path = [...prefix, ...inner];
  const where = formatPath(prefix.length === 0 ? path : inner);
  const subject = where === '' ? (prefix.length === 0 ? 'the file' : 'the schema') : where;
  const got = (): string => describeValue(error.data, toPointer(path), file.interpolated);
  const lead = prefix.length === 0 ? '' : `${formatPath(prefix)} is not a valid JSON Schema: `;
  const base = (code: string, message: string, at: PathSegment[] = path, hint?: string): FlowProblem => ({
    severity: 'error',
    code: prefix.length === 0 ? code : 'MQFLOW_JSON_SCHEMA',
    ...file.source.locate(at),
    path: formatPath(at),
    message: lead + message,
    ...(hint === undefined ? {} : { hint }),
  });
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((error.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
      const suggestion = didYouMean(key, known);
      const inWhat = where === '' ? (prefix.length === 0 ? 'at the top level of the file' : 'at the top of the schema') : `in ${where}`;
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
    case 'pattern': {
      const phrase = PATTERN_PHRASES[String(params.pattern)];
      return base('MQFLOW_SCHEMA_FORMAT', `${subject} must ${phrase ?? `match ${String(params.pattern)}`} (got ${got()})`);
    }
    default:
      return base('MQFLOW_SCHEMA', `${subject} ${error.message ?? 'is invalid'}`);
  }
}
