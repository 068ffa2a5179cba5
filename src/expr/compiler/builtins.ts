/**
 * The built-in functions compiled expressions call. Synchronous built-ins are jsonata's own
 * function objects (implementation and signature), so results and errors are jsonata's by
 * construction. jsonata's higher-order and pattern functions are `async` (a callback or matcher
 * might be); they are re-implemented here synchronously, following jsonata's algorithms step by
 * step so that results, call order and errors agree.
 */
import jsonata from 'jsonata';
import type { Budget } from '../bounds.js';
import { JSONATA_FUNCTIONS } from '../jsonata-functions.js';
import {
  fail,
  functionArity,
  isArrayOfNumbers,
  isArrayOfStrings,
  isDeepEqual,
  isFunction,
  isSequence,
  ownKeys,
  toBoolean,
  type createSequence,
  type NativeFunction,
  type Signature,
} from './values.js';

/**
 * Calls a JSONata function value (lambda, built-in or JS function) with arguments; set by the
 * runtime. `role` is the name jsonata's implementation gives the callback (`func`, `comp`,
 * `matcher`, `replacer`), for the error a raw built-in gives there (see compile.ts, TailCall).
 */
export type Invoke = (fn: unknown, args: unknown[], role: CallbackRole) => unknown;
export type CallbackRole = 'func' | 'comp' | 'matcher' | 'replacer';

/** `this` for a built-in, as jsonata passes it (`createSequence` is the part the built-ins use). */
export interface Focus {
  readonly input: unknown;
  readonly createSequence: typeof createSequence;
  readonly environment: { readonly timestamp: Date };
  /** jsonata's options as its built-ins read them (`$append` checks `sequence`). */
  readonly options: { readonly sequence: number };
  readonly invoke: Invoke;
  /** mqflow's: what the evaluation may still build, and its clock (invariant 28). */
  readonly budget: Budget;
  readonly tick: () => void;
}

/** Re-implemented synchronously below; only the signature is jsonata's. */
const REWRITTEN: readonly string[] = ['map', 'filter', 'single', 'reduce', 'sift', 'each', 'sort', 'contains', 'split', 'replace', 'match', 'now', 'millis'];

/**
 * jsonata's implementation, wrapped so that what it builds is bounded (invariant 28): checked
 * before it builds ($pad's width, $join's total length) or right after ($string), or rewritten
 * with the clock in its loop ($distinct, quadratic in jsonata).
 */
const GUARDED: readonly string[] = ['pad', 'join', 'string', 'distinct'];

/**
 * jsonata's other built-ins run synchronously whatever their arguments and are used as they are;
 * `$eval` is not compiled (an expression that calls it runs on jsonata).
 */
const SYNCHRONOUS = JSONATA_FUNCTIONS.filter((name) => name !== 'eval' && !REWRITTEN.includes(name) && !GUARDED.includes(name));

/** jsonata's function object for each built-in name (its static frame, read once at load). */
async function jsonataBuiltins(names: readonly string[]): Promise<Map<string, NativeFunction>> {
  const values = (await jsonata(`[${names.map((n) => `$${n}`).join(', ')}]`).evaluate(undefined)) as NativeFunction[];
  return new Map(names.map((name, i) => [name, values[i] as NativeFunction]));
}

const reference = await jsonataBuiltins([...SYNCHRONOUS, ...REWRITTEN, ...GUARDED]);

function signatureOf(name: string): Signature | undefined {
  return reference.get(name)?.signature;
}

/** jsonata's own implementation of a built-in, unguarded. */
export function jsonataImplementation(name: string): (...args: never[]) => unknown {
  const fn = reference.get(name);
  if (fn === undefined) throw new Error(`jsonata has no built-in ${name}`);
  return fn.implementation;
}

const padImplementation = jsonataImplementation('pad') as (this: unknown, str: string | undefined, width: number, char: string | undefined) => unknown;
const joinImplementation = jsonataImplementation('join') as (this: unknown, strs: string[] | undefined, separator: string | undefined) => unknown;
const stringImplementation = jsonataImplementation('string') as (this: unknown, arg: unknown, prettify: boolean | undefined) => unknown;

function pad(this: Focus, str: string | undefined, width: number, char: string | undefined): unknown {
  if (str !== undefined && Math.abs(width) > str.length) this.budget.string(Math.abs(width), '$pad');
  return padImplementation.call(this, str, width, char);
}

function join(this: Focus, strs: string[] | undefined, separator: string | undefined): unknown {
  if (strs !== undefined) {
    let length = (separator?.length ?? 0) * Math.max(0, strs.length - 1);
    for (const s of strs) length += typeof s === 'string' ? s.length : 0;
    this.budget.string(length, '$join');
  }
  return joinImplementation.call(this, strs, separator);
}

// `prettify = false` as in jsonata: its arity (1) decides what a callback of $map is given, and its
// source text is what partial application (`$string(?, true)`) reads.
function string(this: Focus, arg: unknown, prettify = false): unknown {
  const result = stringImplementation.call(this, arg, prettify);
  if (typeof result === 'string') this.budget.string(result.length, '$string');
  return result;
}

/** jsonata's algorithm, with the clock in its loop; functions equal only themselves (see isDeepEqual). */
function distinct(this: Focus, arr: unknown): unknown {
  if (arr === undefined) return undefined;
  if (!Array.isArray(arr) || arr.length <= 1) return arr;
  const results: unknown[] = isSequence(arr) ? this.createSequence() : [];
  for (const value of arr) {
    let includes = false;
    for (const seen of results) {
      this.tick();
      if (isDeepEqual(value, seen)) {
        includes = true;
        break;
      }
    }
    if (!includes) results.push(value);
  }
  return results;
}

function native(name: string, implementation: (this: Focus, ...args: never[]) => unknown): NativeFunction {
  return { _jsonata_function: true, implementation: implementation as (...args: unknown[]) => unknown, signature: signatureOf(name) };
}

/** The arguments a callback receives: the value, then index and array only if it declares them. */
function callbackArgs(fn: unknown, value: unknown, index: unknown, whole: unknown): unknown[] {
  const arity = functionArity(fn);
  const args = [value];
  if (arity >= 2) args.push(index);
  if (arity >= 3) args.push(whole);
  return args;
}

function map(this: Focus, arr: unknown[] | undefined, fn: unknown): unknown {
  if (arr === undefined) return undefined;
  const result = this.createSequence();
  for (let i = 0; i < arr.length; i++) {
    const value = this.invoke(fn, callbackArgs(fn, arr[i], i, arr), 'func');
    if (value !== undefined) result.push(value);
  }
  return result;
}

function filter(this: Focus, arr: unknown[] | undefined, fn: unknown): unknown {
  if (arr === undefined) return undefined;
  const result = this.createSequence();
  for (let i = 0; i < arr.length; i++) {
    if (toBoolean(this.invoke(fn, callbackArgs(fn, arr[i], i, arr), 'func'))) result.push(arr[i]);
  }
  return result;
}

function single(this: Focus, arr: unknown[] | undefined, fn: unknown): unknown {
  if (arr === undefined) return undefined;
  let found = false;
  let result: unknown;
  for (let i = 0; i < arr.length; i++) {
    const matches = fn === undefined ? true : toBoolean(this.invoke(fn, callbackArgs(fn, arr[i], i, arr), 'func'));
    if (!matches) continue;
    if (found) fail('D3138', { index: i });
    result = arr[i];
    found = true;
  }
  if (!found) fail('D3139');
  return result;
}

function reduce(this: Focus, sequence: unknown[] | undefined, fn: unknown, init: unknown): unknown {
  if (sequence === undefined) return undefined;
  const arity = functionArity(fn);
  if (arity < 2) fail('D3050', { index: 1 });
  let result: unknown;
  let index: number;
  if (init === undefined && sequence.length > 0) {
    result = sequence[0];
    index = 1;
  } else {
    result = init;
    index = 0;
  }
  for (; index < sequence.length; index++) {
    const args = [result, sequence[index]];
    if (arity >= 3) args.push(index);
    if (arity >= 4) args.push(sequence);
    result = this.invoke(fn, args, 'func');
  }
  return result;
}

function sift(this: Focus, obj: unknown, fn: unknown): unknown {
  const result: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const source = obj as Record<string, unknown>;
  for (const key of ownKeys(obj)) {
    if (toBoolean(this.invoke(fn, callbackArgs(fn, source[key], key, obj), 'func'))) result[key] = source[key];
  }
  return Object.keys(result).length === 0 ? undefined : result;
}

function each(this: Focus, obj: unknown, fn: unknown): unknown {
  const result = this.createSequence();
  const source = obj as Record<string, unknown>;
  for (const key of ownKeys(obj)) {
    const value = this.invoke(fn, callbackArgs(fn, source[key], key, obj), 'func');
    if (value !== undefined) result.push(value);
  }
  return result;
}

/** jsonata's stable merge sort; the comparator says whether its two arguments must swap. */
function sort(this: Focus, arr: unknown[] | undefined, comparator: unknown): unknown {
  if (arr === undefined) return undefined;
  if (arr.length <= 1) return arr;
  let swap: (a: unknown, b: unknown) => unknown;
  if (comparator === undefined) {
    if (!isArrayOfNumbers(arr) && !isArrayOfStrings(arr)) fail('D3070', { index: 1 });
    swap = (a, b) => (a as number) > (b as number);
  } else {
    swap = (a, b) => this.invoke(comparator, [a, b], 'comp');
  }
  const merge = (left: unknown[], right: unknown[]): unknown[] => {
    const merged: unknown[] = [];
    let l = 0;
    let r = 0;
    while (l < left.length && r < right.length) {
      if (swap(left[l], right[r])) merged.push(right[r++]);
      else merged.push(left[l++]);
    }
    while (l < left.length) merged.push(left[l++]);
    while (r < right.length) merged.push(right[r++]);
    return merged;
  };
  const msort = (array: unknown[]): unknown[] => {
    if (array.length <= 1) return array;
    const middle = Math.floor(array.length / 2);
    return merge(msort(array.slice(0, middle)), msort(array.slice(middle)));
  };
  return msort(arr);
}

interface Match {
  match: string;
  start: number;
  end: number;
  groups: string[];
  next: unknown;
}

/** A matcher (a function from string to match object); checks the shape as jsonata does. */
function runMatcher(focus: Focus, matcher: unknown, str?: string): Match | undefined {
  const result = focus.invoke(matcher, str === undefined ? [] : [str], 'matcher') as Match | undefined;
  if (result && !(typeof result.start === 'number' || Array.isArray(result.groups) || isFunction(result.next))) fail('T1010');
  return result;
}

function contains(this: Focus, str: string | undefined, token: unknown): unknown {
  if (str === undefined || token === undefined) return undefined;
  if (typeof token === 'string') return str.indexOf(token) !== -1;
  return runMatcher(this, token, str) !== undefined;
}

function match(this: Focus, str: string | undefined, regex: unknown, limit: number | undefined): unknown {
  if (str === undefined) return undefined;
  if (limit !== undefined && limit < 0) fail('D3040', { value: limit, index: 3 });
  const result = this.createSequence();
  if (limit === undefined || limit > 0) {
    let count = 0;
    let found = runMatcher(this, regex, str);
    while (found !== undefined && (limit === undefined || count < limit)) {
      result.push({ match: found.match, index: found.start, groups: found.groups });
      found = runMatcher(this, found.next);
      count++;
    }
  }
  return result;
}

/** `$n` references in a replacement string, expanded exactly as jsonata does. */
function substitute(replacement: string, found: Match): string {
  let out = '';
  let position = 0;
  let index = replacement.indexOf('$', position);
  while (index !== -1 && position < replacement.length) {
    out += replacement.substring(position, index);
    position = index + 1;
    const next = replacement.charAt(position);
    if (next === '$') {
      out += '$';
      position++;
    } else if (next === '0') {
      out += found.match;
      position++;
    } else {
      const maxDigits = found.groups.length === 0 ? 1 : Math.floor(Math.log(found.groups.length) * Math.LOG10E) + 1;
      index = parseInt(replacement.substring(position, position + maxDigits), 10);
      if (maxDigits > 1 && index > found.groups.length) index = parseInt(replacement.substring(position, position + maxDigits - 1), 10);
      if (!Number.isNaN(index)) {
        if (found.groups.length > 0) {
          const group = found.groups[index - 1];
          if (group !== undefined) out += group;
        }
        position += index.toString().length;
      } else {
        out += '$';
      }
    }
    index = replacement.indexOf('$', position);
  }
  return out + replacement.substring(position);
}

function replace(this: Focus, str: string | undefined, pattern: unknown, replacement: unknown, limit: number | undefined): unknown {
  if (str === undefined) return undefined;
  if (pattern === '') fail('D3010', { value: pattern, index: 2 });
  if (limit !== undefined && limit < 0) fail('D3011', { value: limit, index: 4 });
  const replacer = typeof replacement === 'string' ? (found: Match): unknown => substitute(replacement, found) : (found: Match): unknown => this.invoke(replacement, [found], 'replacer');
  if (limit !== undefined && limit <= 0) return str;
  let result = '';
  let position = 0;
  let count = 0;
  // Each match may add a replacement longer than itself: bounded as it grows (invariant 28).
  const max = this.budget.limits.maxString;
  const built = (text: string): string => {
    this.budget.string(text.length, '$replace');
    return text;
  };
  if (typeof pattern === 'string') {
    let index = str.indexOf(pattern, position);
    while (index !== -1 && (limit === undefined || count < limit)) {
      result += str.substring(position, index) + String(replacement);
      if (result.length > max) built(result);
      position = index + pattern.length;
      count++;
      index = str.indexOf(pattern, position);
    }
    return built(result + str.substring(position));
  }
  let found = runMatcher(this, pattern, str);
  if (found === undefined) return str;
  while (found !== undefined && (limit === undefined || count < limit)) {
    result += str.substring(position, found.start);
    const replaced = replacer(found);
    if (typeof replaced !== 'string') fail('D3012', { value: replaced });
    result += replaced;
    if (result.length > max) built(result);
    position = found.start + found.match.length;
    count++;
    found = runMatcher(this, found.next);
  }
  return built(result + str.substring(position));
}

function split(this: Focus, str: string | undefined, separator: unknown, limit: number | undefined): unknown {
  if (str === undefined) return undefined;
  if (limit !== undefined && limit < 0) fail('D3020', { value: limit, index: 3 });
  if (limit !== undefined && limit <= 0) return [];
  if (typeof separator === 'string') return str.split(separator, limit);
  const result: string[] = [];
  let count = 0;
  let found = runMatcher(this, separator, str);
  if (found === undefined) return [str];
  let start = 0;
  while (found !== undefined && (limit === undefined || count < limit)) {
    result.push(str.substring(start, found.start));
    start = found.end;
    found = runMatcher(this, found.next);
    count++;
  }
  if (limit === undefined || count < limit) result.push(str.substring(start));
  return result;
}

const fromMillis = reference.get('fromMillis') as NativeFunction;

/** `$now()` and `$millis()` read one timestamp per evaluation, taken when first asked for. */
function now(this: Focus, picture: unknown, timezone: unknown): unknown {
  return fromMillis.implementation.call(this, timestamp(this).getTime(), picture, timezone);
}
function millis(this: Focus): unknown {
  return timestamp(this).getTime();
}
function timestamp(focus: Focus): Date {
  return focus.environment.timestamp;
}

/** Every built-in a compiled expression can call, by name (without the `$`). */
export const BUILTINS: ReadonlyMap<string, NativeFunction> = new Map<string, NativeFunction>([
  ...SYNCHRONOUS.map((name) => [name, reference.get(name) as NativeFunction] as const),
  ['map', native('map', map)],
  ['filter', native('filter', filter)],
  ['single', native('single', single)],
  ['reduce', native('reduce', reduce)],
  ['sift', native('sift', sift)],
  ['each', native('each', each)],
  ['sort', native('sort', sort)],
  ['contains', native('contains', contains)],
  ['split', native('split', split)],
  ['replace', native('replace', replace)],
  ['match', native('match', match)],
  ['now', native('now', now)],
  ['millis', native('millis', millis)],
  ['pad', native('pad', pad)],
  ['join', native('join', join)],
  ['string', native('string', string)],
  ['distinct', native('distinct', distinct)],
]);
