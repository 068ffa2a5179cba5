/**
 * Compiles jsonata's parse tree to synchronous JavaScript closures, one per node.
 *
 * Each closure does what jsonata's `evaluate()` does for that node (src/jsonata.js), in the same
 * order, with the same intermediate values (sequences and their flags), so results and errors
 * are jsonata's. The differences are only in how: no promises, variables in prototype-chained
 * frames, built-ins resolved when compiled, and a few fast paths whose result is provably the
 * general path's. Evaluation bounds: when the expression defines functions (the only way it can
 * recurse), every node counts its depth as jsonata's evaluator does, so a depth limit trips at
 * the very same point; otherwise the tree's own height bounds the depth, checked once here.
 */
import jsonata from 'jsonata';
import { children, type AstNode, type Group, type Stage } from './ast.js';
import { BUILTINS, type CallbackRole, type Focus } from './builtins.js';
import {
  append,
  createSequence,
  fail,
  flatten,
  isArrayOfNumbers,
  isArrayOfStrings,
  isDeepEqual,
  functionArity,
  isFunction,
  isLambda,
  isNativeFunction,
  isNumeric,
  isSequence,
  lookup,
  ownKeys,
  toBoolean,
  type JsonataError,
  type LambdaValue,
  type Sequence,
  type Signature,
} from './values.js';

/** Variables in scope: a null-prototype object per block or call, chained to the enclosing one. */
export type Frame = Record<string, unknown>;

/** Per-evaluation state. */
export interface Context {
  depth: number;
  ticks: number;
  readonly maxDepth: number;
  readonly deadline: number;
  readonly timeoutMs: number;
  /** What `$now()`, `$millis()` and `$toMillis()` read: one time per evaluation. */
  readonly environment: EvaluationTime;
  /** Calls a function value from a built-in (a callback); input is null, as in jsonata. */
  readonly invoke: (fn: unknown, args: unknown[], role: CallbackRole) => unknown;
}

export type Code = (input: unknown, frame: Frame, ctx: Context) => unknown;

export interface CompileOptions {
  /** Count depth per node (the expression defines functions and a depth or time bound is set). */
  readonly guarded: boolean;
}

/** The evaluation's timestamp, taken when first read (most evaluations never ask). */
export class EvaluationTime {
  #timestamp: Date | undefined;
  get timestamp(): Date {
    return (this.#timestamp ??= new Date());
  }
}

/** A tail call, returned by a function body for its caller's loop to run (jsonata's thunk). */
class TailCall {
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
class Lambda implements LambdaValue {
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
 * Thrown when jsonata's own evaluator must give this evaluation's outcome: several items of one
 * constructor failed (jsonata evaluates them concurrently, so which error it reports depends on
 * its scheduling), or the compiled code ran out of JavaScript stack (jsonata's evaluator is
 * asynchronous and does not).
 */
export class Reinterpret extends Error {}

const TICK_MASK = 1023;

function checkTime(ctx: Context): void {
  if (Date.now() > ctx.deadline) fail('D1012', { value: ctx.timeoutMs });
}

/** Loops over data check the clock now and then, so a bounded expression cannot run away. */
function tick(ctx: Context): void {
  if ((++ctx.ticks & TICK_MASK) === 0) checkTime(ctx);
}

/** jsonata collapses every result: an empty sequence is nothing, a one-item one is its item. */
function normalize(result: unknown, keepArray: boolean): unknown {
  if (result && isSequence(result) && !result.tupleStream) {
    if (keepArray) result.keepSingleton = true;
    if (result.length === 0) return undefined;
    if (result.length === 1) return result.keepSingleton ? result : result[0];
  }
  return result;
}

/**
 * `this` for a built-in. `raw` are the arguments a tail call passed unwrapped: jsonata wraps a
 * function argument in a JavaScript closure, except in its tail-call loop, so there a function
 * object reaches the implementation as is. Built-in function objects have no `apply` method and
 * neither kind can be called directly ($sort's comparator), so jsonata fails with JavaScript's
 * TypeError there; reproduced.
 */
function focusFor(input: unknown, ctx: Context, raw?: readonly unknown[]): Focus {
  const uncallable = (fn: unknown, role: CallbackRole): boolean => isNativeFunction(fn) || (isLambda(fn) && (role === 'comp' || PARTIAL.has(fn)));
  const invoke =
    raw === undefined || !raw.some((arg) => isNativeFunction(arg) || isLambda(arg))
      ? ctx.invoke
      : (fn: unknown, args: unknown[], role: CallbackRole): unknown => {
          if (uncallable(fn, role) && raw.includes(fn)) throw new TypeError(role === 'comp' ? 'comp is not a function' : `${role}.apply is not a function`);
          return ctx.invoke(fn, args, role);
        };
  return { input, createSequence, environment: ctx.environment, options: undefined, invoke };
}

/** Sets a property as jsonata does on a value it believes is a function object (throws on primitives). */
function tag(target: unknown, key: 'token' | 'position', value: unknown): void {
  (target as Record<string, unknown>)[key] = value;
}

function asError(error: unknown): JsonataError {
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
function settled(result: unknown): unknown {
  if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
    throw new Error('a function called by a compiled expression returned a promise; bindings must be synchronous');
  }
  return result;
}

function applyLambda(lambda: Lambda, args: unknown[], ctx: Context): unknown {
  const frame = Object.create(lambda.frame) as Frame;
  lambda.params.forEach((name, i) => {
    frame[name] = args[i];
  });
  return lambda.body(lambda.input, frame, ctx);
}

/** Which blocks need a frame of their own: those a `:=` binds into (its nearest enclosing block). */
function bindingScopes(root: AstNode): Set<AstNode> {
  const scopes = new Set<AstNode>();
  const visit = (node: AstNode, scope: AstNode | undefined): void => {
    if (node.type === 'bind' && scope !== undefined) scopes.add(scope);
    const inner = node.type === 'block' || node.type === 'lambda' ? node : scope;
    for (const child of children(node)) visit(child, inner);
  };
  visit(root, undefined);
  return scopes;
}

export function compileTree(root: AstNode, options: CompileOptions): Code {
  const framed = bindingScopes(root);

  /** A node as jsonata's evaluate() runs it: the node, its predicates, collapsing, depth. */
  const node = (n: AstNode): Code => {
    let code = body(n);
    if (n.predicate !== undefined && n.predicate.length > 0) {
      const inner = code;
      const filters = n.predicate.map(filterStage);
      code = (input, frame, ctx) => {
        let result = inner(input, frame, ctx);
        for (const filter of filters) result = filter(result, frame, ctx);
        return result;
      };
    }
    if (n.type !== 'path' && n.group !== undefined) {
      const inner = code;
      const group = grouping(n.group);
      code = (input, frame, ctx) => group(inner(input, frame, ctx), frame, ctx);
    }
    const plain = n.type === 'string' || n.type === 'number' || n.type === 'value' || n.type === 'lambda';
    if (!plain || n.predicate !== undefined || n.group !== undefined || n.keepArray === true) {
      const inner = code;
      const keepArray = n.keepArray === true;
      code = (input, frame, ctx) => normalize(inner(input, frame, ctx), keepArray);
    }
    return options.guarded ? counted(code) : code;
  };

  const counted = (code: Code): Code => (input, frame, ctx) => {
    if (++ctx.depth > ctx.maxDepth) fail('D1011', { value: ctx.maxDepth });
    tick(ctx);
    const result = code(input, frame, ctx);
    ctx.depth--;
    return result;
  };

  const body = (n: AstNode): Code => {
    switch (n.type) {
      case 'path':
        return path(n);
      case 'binary':
        return binary(n);
      case 'unary':
        return unary(n);
      case 'name': {
        const name = String(n.value);
        return (input) => lookup(input, name);
      }
      case 'string':
      case 'number':
      case 'value': {
        const value = n.value;
        return () => value;
      }
      case 'wildcard':
        return wildcard;
      case 'descendant':
        return descendants;
      case 'condition':
        return condition(n);
      case 'block':
        return block(n);
      case 'bind':
        return bind(n);
      case 'function':
        return call(n, false);
      case 'variable':
        return variable(n);
      case 'lambda':
        return lambda(n);
      case 'apply':
        return applyOperator(n);
      case 'regex':
        return () => matcher(n);
      case 'transform':
        return transform(n);
      case 'partial':
        return partial(n);
      default:
        throw new Error(`the compiler does not handle "${n.type}" nodes`);
    }
  };

  const path = (n: AstNode): Code => {
    const steps = n.steps ?? [];
    const first = steps[0] as AstNode;
    const simpleName =
      !options.guarded && n.group === undefined && steps.length === 1 && first.type === 'name' && first.stages === undefined && first.predicate === undefined && first.keepArray !== true && n.keepSingletonArray !== true;
    const general = generalPath(n);
    if (!simpleName) return general;
    // `field` on an object: the general path's sequences would hand back exactly the field's value.
    const name = String(first.value);
    return (input, frame, ctx) => {
      if (input !== null && typeof input === 'object' && !Array.isArray(input) && !isFunction(input)) {
        if (!Object.prototype.hasOwnProperty.call(input, name)) return undefined;
        const value = (input as Record<string, unknown>)[name];
        if (!isSequence(value)) return value;
      }
      return general(input, frame, ctx);
    };
  };

  const generalPath = (n: AstNode): Code => {
    const steps = (n.steps ?? []).map((step, i) => ({
      code: step.type === 'sort' ? undefined : node(step),
      sort: step.type === 'sort' ? orderBy(step) : undefined,
      stages: step.stages?.map(filterStage),
      consarray: i === 0 && step.consarray === true,
    }));
    const absolute = n.steps?.[0]?.type === 'variable';
    const keepSingletonArray = n.keepSingletonArray === true;
    const group = n.group === undefined ? undefined : grouping(n.group);
    return (input, frame, ctx) => {
      let inputSequence: unknown = Array.isArray(input) && !absolute ? input : createSequence(input);
      let resultSequence: unknown;
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i] as (typeof steps)[number];
        if (step.sort !== undefined) {
          resultSequence = step.sort(inputSequence as Sequence, frame, ctx);
          for (const stage of step.stages ?? []) resultSequence = stage(resultSequence, frame, ctx);
        } else if (step.consarray) resultSequence = (step.code as Code)(inputSequence, frame, ctx);
        else resultSequence = evaluateStep(step.code as Code, step.stages, inputSequence as Sequence, frame, ctx, i === steps.length - 1);
        if (resultSequence === undefined || (resultSequence as Sequence).length === 0) break;
        inputSequence = resultSequence;
      }
      if (keepSingletonArray) {
        if (Array.isArray(resultSequence) && (resultSequence as Sequence).cons && !(resultSequence as Sequence).sequence) {
          resultSequence = createSequence(resultSequence);
        }
        (resultSequence as Sequence).keepSingleton = true;
      }
      if (group !== undefined) resultSequence = group(resultSequence, frame, ctx);
      return resultSequence;
    };
  };

  /** `^( … )`: jsonata's merge sort with a comparator built from the order-by terms. */
  const orderBy = (n: AstNode): ((input: Sequence, frame: Frame, ctx: Context) => unknown) => {
    const terms = (n.terms ?? []).map((term) => ({ descending: term.descending === true, code: node(term.expression) }));
    const sort = (BUILTINS.get('sort') as { implementation: (this: Focus, arr: unknown, comparator: unknown) => unknown }).implementation;
    return (input, frame, ctx) => {
      const comparator = (a: unknown, b: unknown): boolean => {
        let comp = 0;
        for (let index = 0; comp === 0 && index < terms.length; index++) {
          const term = terms[index] as (typeof terms)[number];
          const aa = term.code(a, frame, ctx);
          const bb = term.code(b, frame, ctx);
          const atype = typeof aa;
          const btype = typeof bb;
          if (atype === 'undefined') {
            comp = btype === 'undefined' ? 0 : 1;
            continue;
          }
          if (btype === 'undefined') {
            comp = -1;
            continue;
          }
          if (!(atype === 'string' || atype === 'number') || !(btype === 'string' || btype === 'number')) {
            fail('T2008', { position: n.position, value: !(atype === 'string' || atype === 'number') ? aa : bb });
          }
          if (atype !== btype) fail('T2007', { position: n.position, value: aa, value2: bb });
          if (aa === bb) continue;
          comp = (aa as number) < (bb as number) ? -1 : 1;
          if (term.descending) comp = -comp;
        }
        return comp === 1;
      };
      return sort.call(focusFor(input, ctx), input, comparator);
    };
  };

  const grouping = (group: Group): ((input: unknown, frame: Frame, ctx: Context) => unknown) =>
    groupExpression(
      group.lhs.map(([key, value]) => ({ key: node(key), value: node(value) })),
      group.position,
    );

  const evaluateStep = (code: Code, stages: Filter[] | undefined, input: Sequence, frame: Frame, ctx: Context, lastStep: boolean): unknown => {
    const result = createSequence();
    for (let i = 0; i < input.length; i++) {
      tick(ctx);
      let res = code(input[i], frame, ctx);
      if (stages !== undefined) for (const stage of stages) res = stage(res, frame, ctx);
      if (res !== undefined) result.push(res);
    }
    if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSequence(result[0])) return result[0];
    const resultSequence = createSequence();
    for (const res of result) {
      if (!Array.isArray(res) || (res as Sequence).cons) resultSequence.push(res);
      else for (const value of res) resultSequence.push(value);
    }
    return resultSequence;
  };

  type Filter = (input: unknown, frame: Frame, ctx: Context) => unknown;

  /** A predicate `[ … ]`: an index (a number literal) or a filter evaluated per item. */
  const filterStage = (stage: Stage): Filter => {
    const predicate = stage.expr;
    if (predicate.type === 'number') {
      const at = Math.floor(predicate.value as number);
      return (input) => {
        const items = (Array.isArray(input) ? input : createSequence(input)) as Sequence;
        const index = at < 0 ? items.length + at : at;
        const item = items[index];
        let results = createSequence() as unknown[];
        if (item !== undefined) {
          if (Array.isArray(item)) results = item;
          else results.push(item);
        }
        return results;
      };
    }
    const code = node(predicate);
    return (input, frame, ctx) => {
      const results = createSequence();
      const items = (Array.isArray(input) ? input : createSequence(input)) as Sequence;
      for (let index = 0; index < items.length; index++) {
        tick(ctx);
        const item = items[index];
        let res = code(item, frame, ctx);
        if (isNumeric(res)) res = [res];
        if (isArrayOfNumbers(res)) {
          for (const wanted of res) {
            let i = Math.floor(wanted);
            if (i < 0) i = items.length + i;
            if (i === index) results.push(item);
          }
        } else if (toBoolean(res)) {
          results.push(item);
        }
      }
      return results;
    };
  };

  const binary = (n: AstNode): Code => {
    const lhs = node(n.lhs as AstNode);
    const rhs = node(n.rhs as AstNode);
    const op = String(n.value);
    const position = n.position;
    const tagged = (error: unknown): unknown => {
      const err = asError(error);
      err.position = position;
      err.token = op;
      return error;
    };
    if (op === 'and' || op === 'or') {
      const isAnd = op === 'and';
      return (input, frame, ctx) => {
        const left = lhs(input, frame, ctx);
        try {
          const l = toBoolean(left) ?? false;
          if (isAnd ? !l : l) return l;
          return toBoolean(rhs(input, frame, ctx)) ?? false;
        } catch (error) {
          throw tagged(error);
        }
      };
    }
    const operate = operator(op);
    return (input, frame, ctx) => {
      const left = lhs(input, frame, ctx);
      const right = rhs(input, frame, ctx);
      try {
        return operate(left, right, ctx);
      } catch (error) {
        throw tagged(error);
      }
    };
  };

  const unary = (n: AstNode): Code => {
    if (n.value === '-') {
      const operand = node(n.expression as AstNode);
      return (input, frame, ctx) => {
        const value = operand(input, frame, ctx);
        if (value === undefined) return undefined;
        if (isNumeric(value)) return -value;
        fail('D1002', { position: n.position, token: '-', value });
      };
    }
    if (n.value === '[') return arrayConstructor(n);
    return objectConstructor(n);
  };

  const arrayConstructor = (n: AstNode): Code => {
    const items = (n.expressions ?? []).map((item) => ({ code: node(item), nested: item.value === '[' }));
    const cons = n.consarray === true;
    return (input, frame, ctx) => {
      let result: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as (typeof items)[number];
        let value: unknown;
        try {
          value = item.code(input, frame, ctx);
        } catch (error) {
          throw anotherFails(items.slice(i + 1), input, frame, ctx) ? new Reinterpret('several items of an array constructor failed') : error;
        }
        if (value === undefined) continue;
        if (item.nested) result.push(value);
        else result = append(result, value) as unknown[];
      }
      if (cons) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
      return result;
    };
  };

  const objectConstructor = (n: AstNode): Code => {
    const pairs = (n.lhs ?? []) as readonly (readonly [AstNode, AstNode])[];
    const compiled = pairs.map(([key, value]) => ({ key: node(key), value: node(value) }));
    const general = groupExpression(compiled, n.position);
    // Literal keys, all different and none reserved: on a non-array input jsonata makes one group
    // per key with the input as its data, so the object can be built directly.
    const literal = pairs.every(([key]) => key.type === 'string' && key.predicate === undefined);
    const keys = pairs.map(([key]) => String(key.value));
    if (options.guarded || !literal || new Set(keys).size !== keys.length || keys.some((k) => k === '__proto__' || k.startsWith('_jsonata_'))) {
      return general;
    }
    // Keys come out (and values are evaluated) in JavaScript's property order, as jsonata's do.
    const order = Object.keys(Object.fromEntries(keys.map((k) => [k, 0])));
    const values = order.map((k) => ({ key: k, code: (compiled[keys.indexOf(k)] as { value: Code }).value }));
    return (input, frame, ctx) => {
      if (Array.isArray(input)) return general(input, frame, ctx);
      const result = new Bare();
      for (let i = 0; i < values.length; i++) {
        const { key, code } = values[i] as (typeof values)[number];
        let v: unknown;
        try {
          v = code(input, frame, ctx);
        } catch (error) {
          throw anotherFails(values.slice(i + 1), input, frame, ctx) ? new Reinterpret('several values of an object constructor failed') : error;
        }
        if (v !== undefined) result[key] = v;
      }
      return result;
    };
  };

  const groupExpression = (pairs: readonly { key: Code; value: Code }[], position: number | undefined): Code => {
    return (input, frame, ctx) => {
      const result = Object.create(null) as Record<string, unknown>;
      const groups = Object.create(null) as Record<string, { data: unknown; exprIndex: number }>;
      const items = (Array.isArray(input) ? input : createSequence(input)) as unknown[];
      // jsonata pushes `undefined` into the (possibly shared) empty array and evaluates the
      // values concurrently, so what the other values see depends on its scheduling.
      if (items.length === 0 && Array.isArray(input)) throw new Reinterpret('an object constructor over an empty array');
      if (items.length === 0) items.push(undefined);
      for (const item of items) {
        tick(ctx);
        for (let pairIndex = 0; pairIndex < pairs.length; pairIndex++) {
          const key = (pairs[pairIndex] as { key: Code }).key(item, frame, ctx);
          if (typeof key !== 'string' && key !== undefined) fail('T1003', { position, value: key });
          if (key === undefined) continue;
          if (key === '_jsonata_lambda' || key === '_jsonata_function') fail('D1013', { position, value: key });
          const existing = groups[key];
          if (existing !== undefined) {
            if (existing.exprIndex !== pairIndex) fail('D1009', { position, value: key });
            existing.data = append(existing.data, item);
          } else {
            groups[key] = { data: item, exprIndex: pairIndex };
          }
        }
      }
      const keys = Object.keys(groups);
      const valueOf = (key: string): unknown => {
        const entry = groups[key] as { data: unknown; exprIndex: number };
        return (pairs[entry.exprIndex] as { value: Code }).value(entry.data, frame, ctx);
      };
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        let value: unknown;
        try {
          value = valueOf(key);
        } catch (error) {
          const others = keys.slice(i + 1).map((other) => ({ code: () => valueOf(other) }));
          throw anotherFails(others, undefined, frame, ctx) ? new Reinterpret('several values of an object constructor failed') : error;
        }
        if (value !== undefined) result[key] = value;
      }
      return result;
    };
  };

  const condition = (n: AstNode): Code => {
    const test = node(n.condition as AstNode);
    const then = node(n.then as AstNode);
    const otherwise = n.else === undefined ? undefined : node(n.else);
    return (input, frame, ctx) => {
      if (toBoolean(test(input, frame, ctx))) return then(input, frame, ctx);
      return otherwise === undefined ? undefined : otherwise(input, frame, ctx);
    };
  };

  const block = (n: AstNode): Code => {
    const expressions = (n.expressions ?? []).map(node);
    const ownFrame = framed.has(n);
    return (input, frame, ctx) => {
      const scope = ownFrame ? (Object.create(frame) as Frame) : frame;
      let result: unknown;
      for (const expression of expressions) result = expression(input, scope, ctx);
      return result;
    };
  };

  const bind = (n: AstNode): Code => {
    const name = String((n.lhs as AstNode).value);
    const value = node(n.rhs as AstNode);
    return (input, frame, ctx) => {
      const v = value(input, frame, ctx);
      frame[name] = v;
      return v;
    };
  };

  const variable = (n: AstNode): Code => {
    const name = String(n.value);
    if (name === '') return (input) => (input && (input as Sequence).outerWrapper ? (input as Sequence)[0] : input);
    const builtin = BUILTINS.get(name);
    return (_input, frame) => (name in frame ? frame[name] : builtin);
  };

  /** Whether a name is a variable at run time (for the "did you mean $name" error, T1005). */
  const isBound = (name: string, frame: Frame): boolean => {
    const value = name in frame ? frame[name] : BUILTINS.get(name);
    return Boolean(value);
  };

  /** A function call; `applyTo` for `lhs ~> $f(…)`, where lhs becomes the first argument. */
  const call = (n: AstNode, applyTo: boolean): Code & ((input: unknown, frame: Frame, ctx: Context, context?: unknown) => unknown) => {
    const procedureNode = n.procedure as AstNode;
    const procedure = node(procedureNode);
    const args = (n.arguments ?? []).map(node);
    const procName = procedureNode.type === 'path' ? procedureNode.steps?.[0]?.value : procedureNode.value;
    const forgotDollar = procedureNode.type === 'path' ? String(procedureNode.steps?.[0]?.value) : undefined;
    return (input: unknown, frame: Frame, ctx: Context, context?: unknown) => {
      const proc = procedure(input, frame, ctx);
      if (proc === undefined && forgotDollar !== undefined && isBound(forgotDollar, frame)) {
        fail('T1005', { position: n.position, token: forgotDollar });
      }
      const evaluated: unknown[] = [];
      if (applyTo) evaluated.push(context);
      for (const arg of args) evaluated.push(arg(input, frame, ctx));
      try {
        if (typeof proc === 'object') {
          tag(proc, 'token', procName);
          tag(proc, 'position', n.position);
        }
        return apply(proc, evaluated, input, ctx);
      } catch (error) {
        const err = asError(error);
        if (!err.position) err.position = n.position;
        if (!err.token) err.token = procName;
        throw error;
      }
    };
  };

  const lambda = (n: AstNode): Code => {
    if (n.thunk === true) {
      const target = n.body as AstNode;
      const procedure = node(target.procedure as AstNode);
      const args = (target.arguments ?? []).map(node);
      return (input, frame) => new TailCall(target, procedure, args, input, frame);
    }
    const params = (n.arguments ?? []).map((p) => String(p.value));
    const code = node(n.body as AstNode);
    const signature = n.signature;
    return (input, frame) => new Lambda(params, signature, code, input, frame);
  };

  /** `| pattern | update, delete |`: a function returning a changed copy of its argument. */
  const transform = (n: AstNode): Code => {
    const pattern = node(n.pattern as AstNode);
    const update = node(n.update as AstNode);
    const deletion = n.delete === undefined ? undefined : node(n.delete);
    return (_input, frame, ctx) => {
      const transformer = (obj: unknown): unknown => {
        if (obj === undefined) return undefined;
        const clone = 'clone' in frame ? frame['clone'] : BUILTINS.get('clone');
        if (!isFunction(clone)) fail('T2013', { position: n.position });
        const result = apply(clone, [obj], null, ctx);
        let matches = pattern(result, frame, ctx);
        if (matches === undefined) return result;
        if (!Array.isArray(matches)) matches = [matches];
        for (const match of matches as unknown[]) {
          const changes = update(match, frame, ctx);
          if (changes !== undefined) {
            if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) fail('T2011', { position: n.update?.position, value: changes });
            for (const prop of Object.keys(changes)) (match as Record<string, unknown>)[prop] = (changes as Record<string, unknown>)[prop];
          }
          if (deletion === undefined) continue;
          let deletions = deletion(match, frame, ctx);
          if (deletions === undefined) continue;
          const value = deletions;
          if (!Array.isArray(deletions)) deletions = [deletions];
          if (!isArrayOfStrings(deletions)) fail('T2012', { position: n.delete?.position, value });
          for (const key of deletions) {
            if (typeof match === 'object' && match !== null) delete (match as Record<string, unknown>)[key];
          }
        }
        return result;
      };
      return { _jsonata_function: true, implementation: transformer, signature: TRANSFORM_SIGNATURE };
    };
  };

  /** `$f(?, 2)`: a function of the `?` parameters with the others bound. */
  const partial = (n: AstNode): Code => {
    const procedureNode = n.procedure as AstNode;
    const procedure = node(procedureNode);
    const args = (n.arguments ?? []).map((arg) => (arg.type === 'operator' && arg.value === '?' ? undefined : node(arg)));
    const forgotDollar = procedureNode.type === 'path' ? String(procedureNode.steps?.[0]?.value) : undefined;
    const token = procedureNode.type === 'path' ? procedureNode.steps?.[0]?.value : procedureNode.value;
    return (input, frame, ctx) => {
      const evaluated = args.map((arg) => (arg === undefined ? PLACEHOLDER : arg(input, frame, ctx)));
      const proc = procedure(input, frame, ctx);
      if (proc === undefined && forgotDollar !== undefined && isBound(forgotDollar, frame)) fail('T1007', { position: n.position, token: forgotDollar });
      if (proc instanceof Lambda) return partialLambda(proc.params, proc.body, proc.input, proc.frame, evaluated);
      if (isNativeFunction(proc)) return partialNative(proc.implementation, evaluated, frame);
      if (typeof proc === 'function') return partialNative(proc as (...a: unknown[]) => unknown, evaluated, frame);
      return fail('T1008', { position: n.position, token });
    };
  };

  const applyOperator = (n: AstNode): Code => {
    const lhs = node(n.lhs as AstNode);
    const rhsNode = n.rhs as AstNode;
    if (rhsNode.type === 'function') {
      // jsonata invokes the call directly here, not through evaluate(): no predicates, no depth.
      const invocation = call(rhsNode, true);
      return (input, frame, ctx) => invocation(input, frame, ctx, lhs(input, frame, ctx));
    }
    const rhs = node(rhsNode);
    let chain: Code | undefined;
    return (input, frame, ctx) => {
      const left = lhs(input, frame, ctx);
      const fn = rhs(input, frame, ctx);
      if (!isFunction(fn)) fail('T2006', { position: n.position, value: fn });
      if (isFunction(left)) {
        // `$f ~> $g` composes, through the very expression jsonata uses for it.
        chain ??= node(CHAIN);
        return apply(chain(null, frame, ctx), [left, fn], null, ctx);
      }
      return apply(fn, [left], null, ctx);
    };
  };

  return node(root);
}

/**
 * Objects with nothing to inherit, as jsonata's (`Object.create(null)`: no `toString`, no
 * `valueOf`), but built with a constructor, so V8 keeps them in its fast object layout, which
 * builds and serialises about twice as fast.
 */
const Bare = function Bare() {} as unknown as new () => Record<string, unknown>;
Bare.prototype = Object.create(null) as object;

const CHAIN = jsonata('function($f, $g) { function($x){ $g($f($x)) } }').ast() as AstNode;

const TRANSFORM_SIGNATURE = (jsonata('function($o)<(oa):o>{ $o }').ast() as AstNode).signature;

/** Marks an argument left open by `?`. */
const PLACEHOLDER = Symbol('?');

/** A partial application is a lambda of the open parameters; like jsonata's, it has no `apply` method. */
function partialLambda(params: readonly string[], body: Code, input: unknown, enclosing: Frame, args: readonly unknown[]): Lambda {
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
const PARTIAL = new WeakSet<object>();

/**
 * A built-in partially applied: jsonata writes a function definition naming the implementation's
 * parameters as they appear in its source (so a default value makes it a syntax error, S0208),
 * then calls the implementation with them unchecked and unwrapped.
 */
function partialNative(implementation: (...args: unknown[]) => unknown, args: readonly unknown[], frame: Frame): Lambda {
  const names = (/\(([^)]*)\)/.exec(implementation.toString())?.[1] ?? '').split(',');
  jsonata(`function(${names.map((name) => `$${name.trim()}`).join(', ')}){ _ }`);
  const params = names.map((name) => name.trim());
  // Arguments given later arrive through a call, where jsonata wraps a function in a closure.
  const open = new Set(params.filter((_, i) => args[i] === PLACEHOLDER));
  const body: Code = (_input, scope, ctx) => {
    const values = params.map((name) => {
      const value = name in scope ? scope[name] : BUILTINS.get(name);
      if (!open.has(name) || !isFunction(value) || typeof value === 'function') return value;
      return Object.assign((...callArgs: unknown[]) => ctx.invoke(value, callArgs, 'func'), { arity: functionArity(value) });
    });
    return settled(implementation.apply({ ...focusFor(undefined, ctx, values), input: undefined }, values));
  };
  return partialLambda(params, body, undefined, frame, args);
}

/** Whether evaluating any of these (the siblings after a failed one) fails too. */
function anotherFails(siblings: readonly { code: Code }[], input: unknown, frame: Frame, ctx: Context): boolean {
  // Out of time is out of time, whichever item noticed first.
  if (Date.now() > ctx.deadline) return false;
  for (const sibling of siblings) {
    try {
      sibling.code(input, frame, ctx);
    } catch {
      return true;
    }
  }
  return false;
}

/** A regular expression literal: a matcher function, made afresh per evaluation as jsonata does. */
function matcher(n: AstNode): unknown {
  const pattern = n.value as RegExp;
  const re = new RegExp(pattern);
  const match = (str: string, fromIndex?: number): unknown => {
    re.lastIndex = fromIndex ?? 0;
    const found = re.exec(str);
    if (found === null) return undefined;
    const result = { match: found[0], start: found.index, end: found.index + found[0].length, groups: found.slice(1), next: (): unknown => undefined };
    result.next = () => {
      if (re.lastIndex >= str.length) return undefined;
      const next = match(str, re.lastIndex) as { match?: string } | undefined;
      if (next && next.match === '') fail('D1004', { position: n.position, value: pattern.source });
      return next;
    };
    return result;
  };
  return match;
}

function wildcard(input: unknown): unknown {
  let results: unknown = createSequence();
  let value = input;
  if (Array.isArray(value) && (value as Sequence).outerWrapper && value.length > 0) value = value[0];
  if (value !== null && typeof value === 'object' && !isFunction(value)) {
    for (const key of ownKeys(value)) {
      const v = (value as Record<string, unknown>)[key];
      if (Array.isArray(v)) results = append(results, flatten(v));
      else (results as unknown[]).push(v);
    }
  }
  return results;
}

function descendants(input: unknown): unknown {
  if (input === undefined) return undefined;
  const results = createSequence();
  const recurse = (value: unknown): void => {
    if (!Array.isArray(value)) results.push(value);
    if (Array.isArray(value)) for (const member of value) recurse(member);
    else if (value !== null && typeof value === 'object' && !isFunction(value)) for (const key of ownKeys(value)) recurse((value as Record<string, unknown>)[key]);
  };
  recurse(input);
  return results.length === 1 ? results[0] : results;
}

type Operator = (lhs: unknown, rhs: unknown, ctx: Context) => unknown;

function operator(op: string): Operator {
  switch (op) {
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return numeric(op);
    case '=':
      return (l, r) => (l === undefined || r === undefined ? false : isDeepEqual(l, r));
    case '!=':
      return (l, r) => (l === undefined || r === undefined ? false : !isDeepEqual(l, r));
    case '<':
      return comparison((l, r) => l < r);
    case '<=':
      return comparison((l, r) => l <= r);
    case '>':
      return comparison((l, r) => l > r);
    case '>=':
      return comparison((l, r) => l >= r);
    case '&':
      return concat;
    case '..':
      return range;
    case 'in':
      return includes;
    default:
      throw new Error(`the compiler does not handle the "${op}" operator`);
  }
}

function numeric(op: string): Operator {
  const compute =
    op === '+'
      ? (l: number, r: number) => l + r
      : op === '-'
        ? (l: number, r: number) => l - r
        : op === '*'
          ? (l: number, r: number) => l * r
          : op === '/'
            ? (l: number, r: number) => l / r
            : (l: number, r: number) => l % r;
  return (lhs, rhs) => {
    if (lhs !== undefined && !isNumeric(lhs)) fail('T2001', { value: lhs });
    if (rhs !== undefined && !isNumeric(rhs)) fail('T2002', { value: rhs });
    if (lhs === undefined || rhs === undefined) return undefined;
    return compute(lhs, rhs);
  };
}

function comparison(compare: (l: number | string, r: number | string) => boolean): Operator {
  return (lhs, rhs) => {
    const ltype = typeof lhs;
    const rtype = typeof rhs;
    const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
    const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
    if (!lcomparable || !rcomparable) fail('T2010', { value: !(ltype === 'string' || ltype === 'number') ? lhs : rhs });
    if (ltype === 'undefined' || rtype === 'undefined') return undefined;
    if (ltype !== rtype) fail('T2009', { value: lhs, value2: rhs });
    return compare(lhs as number | string, rhs as number | string);
  };
}

const stringOf = (BUILTINS.get('string') as { implementation: (value: unknown) => string }).implementation;

function concat(lhs: unknown, rhs: unknown): unknown {
  const l = lhs === undefined ? '' : typeof lhs === 'string' ? lhs : stringOf(lhs);
  const r = rhs === undefined ? '' : typeof rhs === 'string' ? rhs : stringOf(rhs);
  return l + r;
}

function range(lhs: unknown, rhs: unknown, ctx: Context): unknown {
  if (lhs !== undefined && !Number.isInteger(lhs)) fail('T2003', { value: lhs });
  if (rhs !== undefined && !Number.isInteger(rhs)) fail('T2004', { value: rhs });
  if (lhs === undefined || rhs === undefined) return undefined;
  const from = lhs as number;
  const to = rhs as number;
  if (from > to) return undefined;
  const size = to - from + 1;
  if (size > 1e7) fail('D2014', { value: size });
  const result = new Array<number>(size) as number[] & { sequence?: boolean };
  for (let item = from, index = 0; item <= to; item++, index++) {
    if ((index & 0xffff) === 0) checkTime(ctx);
    result[index] = item;
  }
  result.sequence = true;
  return result;
}

function includes(lhs: unknown, rhs: unknown): unknown {
  if (lhs === undefined || rhs === undefined) return false;
  const candidates = Array.isArray(rhs) ? rhs : [rhs];
  return candidates.some((candidate) => candidate === lhs);
}
