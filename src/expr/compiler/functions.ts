/**
 * Calling functions, as jsonata's apply() does: lambdas (with their frames and signatures),
 * built-ins, JavaScript functions from bindings, tail calls in a loop, partial application.
 */
import jsonata from 'jsonata';
import { BUILTINS, type CallbackRole, type Focus } from './builtins.js';
import { tick, type Code, type Context, type Frame } from './context.js';
import { createSequence, fail, functionArity, isFunction, isLambda, isNativeFunction, type JsonataError, type LambdaValue, type Signature } from './values.js';
import type { AstNode } from './ast.js';

/** A tail call, returned by a function body for its caller's loop to run (jsonata's thunk). */
export class TailCall {
  constructor(
    readonly node: AstNode,
    readonly procedure: Code,
    readonly args: readonly Code[],
    readonly input: unknown,
    readonly frame: Frame,
  ) {}
}

/**
 * jsonata's lambdas hold their environment, which refers to itself: serialising one (into an
 * error message, or a result) fails with this very TypeError. Compiled lambdas show the same.
 */
const ENVIRONMENT: { base?: unknown } = {};
ENVIRONMENT.base = ENVIRONMENT;

/** A function defined in the expression; enumerable properties as jsonata's lambda objects have. */
export class Lambda implements LambdaValue {
  readonly _jsonata_lambda = true as const;
  readonly input: unknown;
  readonly environment = ENVIRONMENT;
  /** As jsonata's lambdas: the parameters, whose count is the arity higher-order functions read. */
  declare readonly arguments: readonly { readonly value: string }[];
  declare readonly params: readonly string[];
  declare readonly signature: Signature | undefined;
  declare readonly body: Code;
  declare readonly frame: Frame;
  declare token?: unknown;
  declare position?: number;
  constructor(params: readonly string[], signature: Signature | undefined, body: Code, input: unknown, frame: Frame) {
    this.input = input;
    const hidden = (value: unknown, writable = false): PropertyDescriptor => ({ value, writable, enumerable: false, configurable: true });
    Object.defineProperties(this, {
      arguments: hidden(params.map((value) => ({ value }))),
      params: hidden(params),
      signature: hidden(signature),
      body: hidden(body),
      frame: hidden(frame),
      token: hidden(undefined, true),
      position: hidden(undefined, true),
    });
  }
}

/**
 * `this` for a built-in. `raw` are the arguments a tail call passed unwrapped: jsonata wraps a
 * function argument in a JavaScript closure, except in its tail-call loop, so there a function
 * object reaches the implementation as is. Built-in function objects have no `apply` method and
 * neither kind can be called directly ($sort's comparator), so jsonata fails with JavaScript's
 * TypeError there; reproduced.
 */
export function focusFor(input: unknown, ctx: Context, raw?: readonly unknown[]): Focus {
  const uncallable = (fn: unknown, role: CallbackRole): boolean => isNativeFunction(fn) || (isLambda(fn) && (role === 'comp' || PARTIAL.has(fn)));
  const invoke =
    raw === undefined || !raw.some((arg) => isNativeFunction(arg) || isLambda(arg))
      ? ctx.invoke
      : (fn: unknown, args: unknown[], role: CallbackRole): unknown => {
          if (uncallable(fn, role) && raw.includes(fn)) throw new TypeError(role === 'comp' ? 'comp is not a function' : `${role}.apply is not a function`);
          return ctx.invoke(fn, args, role);
        };
  return { input, createSequence, environment: ctx.environment, options: ctx.options, invoke, budget: ctx.budget, tick: () => tick(ctx) };
}

/** Sets a property as jsonata does on a value it believes is a function object (throws on primitives). */
export function tag(target: unknown, key: 'token' | 'position', value: unknown): void {
  (target as Record<string, unknown>)[key] = value;
}

export function asError(error: unknown): JsonataError {
  return error as JsonataError;
}

/** jsonata's apply(): run a function, then any tail calls it returns, in a loop. */
export function apply(proc: unknown, args: unknown[], input: unknown, ctx: Context): unknown {
  let result = applyInner(proc, args, input, ctx);
  while (result instanceof TailCall) {
    const call = result;
    const procedureNode = call.node.procedure as AstNode;
    const next = call.procedure(call.input, call.frame, ctx);
    if (procedureNode.type === 'variable') tag(next, 'token', procedureNode.value);
    tag(next, 'position', procedureNode.position);
    const evaluated: unknown[] = [];
    for (const arg of call.args) evaluated.push(arg(call.input, call.frame, ctx));
    result = applyInner(next, evaluated, input, ctx, true);
  }
  return result;
}

function applyInner(proc: unknown, args: unknown[], input: unknown, ctx: Context, raw = false): unknown {
  try {
    let validated = args;
    if (proc) {
      const signature = (proc as { signature?: Signature }).signature;
      if (signature !== undefined) validated = signature.validate(args, input);
    }
    if (proc instanceof Lambda) return applyLambda(proc, validated, ctx);
    if (isNativeFunction(proc)) return settled(proc.implementation.apply(focusFor(input, ctx, raw ? args : undefined), validated));
    if (typeof proc === 'function') return settled((proc as (...a: unknown[]) => unknown).apply(input, validated));
    if (isLambda(proc)) throw new Error('a function defined by another JSONata evaluator cannot be called from a compiled expression');
    fail('T1006');
  } catch (error) {
    if (proc) {
      const err = asError(error);
      const { token, position } = proc as { token?: unknown; position?: number };
      if (err.token === undefined && token !== undefined) err.token = token;
      err.position = position || err.position;
    }
    throw error;
  }
}

/** Compiled code cannot wait: a function given in bindings must answer synchronously. */
export function settled(result: unknown): unknown {
  if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
    throw new Error('a function called by a compiled expression returned a promise; bindings must be synchronous');
  }
  return result;
}

export function applyLambda(lambda: Lambda, args: unknown[], ctx: Context): unknown {
  const frame = Object.create(lambda.frame) as Frame;
  lambda.params.forEach((name, i) => {
    frame[name] = args[i];
  });
  return lambda.body(lambda.input, frame, ctx);
}

/** Marks an argument left open by `?`. */
export const PLACEHOLDER = Symbol('?');

/** A partial application is a lambda of the open parameters; like jsonata's, it has no `apply` method. */
export function partialLambda(params: readonly string[], body: Code, input: unknown, enclosing: Frame, args: readonly unknown[]): Lambda {
  const frame = Object.create(enclosing) as Frame;
  const open: string[] = [];
  params.forEach((name, i) => {
    if (args[i] === PLACEHOLDER) open.push(name);
    else frame[name] = args[i];
  });
  const lambda = new Lambda(open, undefined, body, input, frame);
  PARTIAL.add(lambda);
  return lambda;
}

/** Lambdas made by partial application (see focusFor: they cannot be called back raw). */
export const PARTIAL = new WeakSet<object>();

/**
 * A built-in partially applied: jsonata writes a function definition naming the implementation's
 * parameters as they appear in its source (so a default value makes it a syntax error, S0208),
 * then calls the implementation with them unchecked and unwrapped.
 */
/** A variable's value at run time: the innermost frame binding it, else the built-in of that name. */
export function lookupVariable(name: string, frame: Frame): unknown {
  return name in frame ? frame[name] : BUILTINS.get(name);
}

/** The name a call is known by in errors (`$f(…)` → "f"; `f(…)`, a forgotten `$`, → "f" too). */
export function procedureName(procedure: AstNode): unknown {
  return procedure.type === 'path' ? procedure.steps?.[0]?.value : procedure.value;
}

export function partialNative(implementation: (...args: unknown[]) => unknown, args: readonly unknown[], frame: Frame): Lambda {
  const names = (/\(([^)]*)\)/.exec(implementation.toString())?.[1] ?? '').split(',');
  jsonata(`function(${names.map((name) => `$${name.trim()}`).join(', ')}){ _ }`);
  const params = names.map((name) => name.trim());
  // Arguments given later arrive through a call, where jsonata wraps a function in a closure.
  const open = new Set(params.filter((_, i) => args[i] === PLACEHOLDER));
  const body: Code = (_input, scope, ctx) => {
    const values = params.map((name) => {
      const value = lookupVariable(name, scope);
      if (!open.has(name) || !isFunction(value) || typeof value === 'function') return value;
      return Object.assign((...callArgs: unknown[]) => ctx.invoke(value, callArgs, 'func'), { arity: functionArity(value) });
    });
    return settled(implementation.apply({ ...focusFor(undefined, ctx, values), input: undefined }, values));
  };
  return partialLambda(params, body, undefined, frame, args);
}
