/**
 * JSONata's run-time value model, as the compiled code sees it. These mirror the `jsonata`
 * package's internal helpers (src/utils.js) because compiled code must produce and recognise the
 * very same values: a *sequence* is an array flagged `sequence`, `keepSingleton` stops a
 * one-item sequence collapsing to its item, `cons` marks an array built by `[...]`, and
 * `outerWrapper` marks the one-item sequence that wraps an input which is itself an array.
 */

export type Sequence = unknown[] & { sequence?: boolean; keepSingleton?: boolean; cons?: boolean; outerWrapper?: boolean; tupleStream?: boolean };

/** A JSONata run-time error: a plain object, as jsonata throws them (the message is added at the end). */
export interface JsonataError {
  code: string;
  stack?: string;
  position?: number;
  token?: unknown;
  value?: unknown;
  value2?: unknown;
  index?: number;
  message?: string;
}

export function createSequence(...items: unknown[]): Sequence {
  const sequence: Sequence = items.length === 1 ? [items[0]] : [];
  sequence.sequence = true;
  return sequence;
}

export function isSequence(value: unknown): value is Sequence {
  return Array.isArray(value) && (value as Sequence).sequence === true;
}

/** Throws a JSONata error. jsonata throws plain objects, not Errors; callers read `code` and friends. */
export function fail(code: string, fields: Omit<JsonataError, 'code' | 'stack'> = {}): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- jsonata's error shape, on purpose
  throw { code, stack: new Error().stack, ...fields } satisfies JsonataError;
}

/** A number JSONata can compute with; infinities are an error (D1001), NaN is not a number. */
export function isNumeric(value: unknown): value is number {
  if (typeof value !== 'number') return false;
  if (Number.isNaN(value)) return false;
  if (!Number.isFinite(value)) fail('D1001', { value });
  return true;
}

export function isArrayOfNumbers(value: unknown): value is number[] {
  if (!Array.isArray(value)) return false;
  // Every item is tested (as jsonata does), so an infinity anywhere raises D1001.
  let all = true;
  for (const item of value) if (!isNumeric(item)) all = false;
  return all;
}

export function isArrayOfStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** A lambda defined in an expression (compiled or jsonata's). */
export interface LambdaValue {
  readonly _jsonata_lambda: true;
  readonly arguments: readonly { readonly value: string }[];
  thunk?: boolean;
  token?: unknown;
  position?: number;
}

/** A built-in function as jsonata defines it. */
export interface NativeFunction {
  readonly _jsonata_function: true;
  readonly implementation: (...args: unknown[]) => unknown;
  readonly signature?: Signature;
  token?: unknown;
  position?: number;
}

/** jsonata's parsed function signature: checks and (for `-` context parameters) completes arguments. */
export interface Signature {
  readonly definition: string;
  validate(args: unknown[], context: unknown): unknown[];
}

export function isLambda(value: unknown): value is LambdaValue {
  return typeof value === 'object' && value !== null && (value as { _jsonata_lambda?: unknown })._jsonata_lambda === true;
}

export function isNativeFunction(value: unknown): value is NativeFunction {
  return typeof value === 'object' && value !== null && (value as { _jsonata_function?: unknown })._jsonata_function === true;
}

export function isFunction(value: unknown): boolean {
  return isLambda(value) || isNativeFunction(value) || typeof value === 'function';
}

export function functionArity(fn: unknown): number {
  const f = fn as { arity?: unknown; implementation?: unknown; length?: unknown; arguments?: { length: number } };
  if (typeof f.arity === 'number') return f.arity;
  if (typeof f.implementation === 'function') return f.implementation.length;
  if (typeof f.length === 'number') return f.length;
  return f.arguments?.length ?? 0;
}

export function ownKeys(value: unknown): string[] {
  return typeof value === 'object' && value !== null ? Object.keys(value) : [];
}

export function isDeepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs !== 'object' || typeof rhs !== 'object' || lhs === null || rhs === null) return false;
  // A function equals only itself. jsonata compares its lambdas field by field, and two of them
  // differ in their environments (closures), so two lambdas made apart are never equal there.
  if (isLambda(lhs) || isLambda(rhs) || isNativeFunction(lhs) || isNativeFunction(rhs)) return false;
  if (Array.isArray(lhs) && Array.isArray(rhs)) {
    if (lhs.length !== rhs.length) return false;
    for (let i = 0; i < lhs.length; i++) if (!isDeepEqual(lhs[i], rhs[i])) return false;
    return true;
  }
  const lkeys = Object.getOwnPropertyNames(lhs).sort();
  const rkeys = Object.getOwnPropertyNames(rhs).sort();
  if (lkeys.length !== rkeys.length) return false;
  for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
  const l = lhs as Record<string, unknown>;
  const r = rhs as Record<string, unknown>;
  for (const key of lkeys) if (!isDeepEqual(l[key], r[key])) return false;
  return true;
}

/** JSONata's effective boolean value ($boolean); undefined stays undefined. */
export function toBoolean(value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 1) return toBoolean(value[0]);
    if (value.length > 1) return value.filter((item) => toBoolean(item)).length > 0;
    return false;
  }
  if (typeof value === 'string') return value.length > 0;
  if (isNumeric(value)) return value !== 0;
  if (value !== null && typeof value === 'object' && !isFunction(value)) return Object.keys(value).length > 0;
  return value === true;
}

/** `$append`: undefined is ignored, non-arrays become one-item arrays, the result is a new array. */
export function append(arg1: unknown, arg2: unknown): unknown {
  if (arg1 === undefined) return arg2;
  if (arg2 === undefined) return arg1;
  const left = Array.isArray(arg1) ? arg1 : createSequence(arg1);
  const right = Array.isArray(arg2) ? arg2 : [arg2];
  return left.concat(right);
}

/** A field of every item (`$lookup`); arrays are mapped and flattened one level into a sequence. */
export function lookup(input: unknown, key: string): unknown {
  if (Array.isArray(input)) {
    const result = createSequence();
    for (const item of input) {
      const value = lookup(item, key);
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) result.push(v);
      else result.push(value);
    }
    return result;
  }
  if (input !== null && typeof input === 'object' && Object.prototype.hasOwnProperty.call(input, key) && !isFunction(input)) {
    return (input as Record<string, unknown>)[key];
  }
  return undefined;
}

export function flatten(value: unknown, into: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const item of value) flatten(item, into);
  else into.push(value);
  return into;
}
