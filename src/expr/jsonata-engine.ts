/**
 * The JSONata engine. Expressions are parsed by the `jsonata` package; those inside the compiled
 * subset run as JavaScript compiled from jsonata's parse tree (./compiler), the rest on jsonata's
 * own evaluator. Both give the same results and errors; `execution` says which runs.
 */
import jsonata from 'jsonata';
import { Budget, checkHeap, DEFAULT_BUILD_LIMITS, type BuildLimits } from './bounds.js';
import { variableNames, type AstNode } from './compiler/ast.js';
import { BUILTINS, jsonataImplementation } from './compiler/builtins.js';
import { withJsonataMessage } from './compiler/errors.js';
import { Reinterpret } from './compiler/context.js';
import { compileProgram, type Program } from './compiler/program.js';
import { JSONATA_FUNCTIONS } from './jsonata-functions.js';
import { ExpressionSyntaxError, type Bindings, type Expression, type ExpressionEngine } from './expression.js';

/** Extra depth jsonata's evaluator gets for grouping (see createJsonataEngine). */
const INTERPRETED_GROUPING_DEPTH = 20_000;

/** The runtime's bounds unless `mqflow run` is told otherwise (--expression-timeout, --expression-depth, --expression-max-sequence, --expression-max-string). */
export const DEFAULT_LIMITS = { timeoutMs: 1000, maxDepth: 500, ...DEFAULT_BUILD_LIMITS } as const;

export interface JsonataLimits {
  /** Evaluation time limit per call, in milliseconds. */
  readonly timeoutMs?: number;
  /** Maximum evaluation depth (guards against runaway recursion). */
  readonly maxDepth?: number;
  /** What one evaluation may build (docs/architecture.md, invariant 28); default DEFAULT_BUILD_LIMITS. Infinity: no bound. */
  readonly build?: BuildLimits;
  /**
   * Depth jsonata's evaluator gets on top of maxDepth, for the groups it evaluates at once (see
   * createJsonataEngine); default 20,000. 0 gives jsonata exactly maxDepth (the fuzzer's reference).
   */
  readonly interpretedDepthAllowance?: number;
  /**
   * Functions that replace JSONata's (or add to them) in every evaluation: `mqflow test` fixes
   * `$now`, `$millis` and `$random` this way so outputs are deterministic.
   */
  readonly functions?: Readonly<Record<string, (...args: unknown[]) => unknown>>;
  /**
   * Compile expressions to JavaScript where the compiler covers them (default true); false runs
   * every expression on jsonata's own evaluator (the reference the compiler is tested against).
   */
  readonly compile?: boolean;
}

interface JsonataFailure {
  code?: unknown;
  position?: unknown;
  token?: unknown;
  message?: unknown;
}

export function createJsonataEngine(limits: JsonataLimits = {}): ExpressionEngine {
  const options: jsonata.JsonataOptions = {};
  if (limits.timeoutMs !== undefined) options.timeout = limits.timeoutMs;
  // jsonata's evaluator counts the groups of `{ … }` after a path, which it evaluates at once, as
  // two levels each: 300 devices grouped would pass the default depth limit there and not in
  // compiled code. Its limit gets room for 10,000 groups on top; deeper runaway recursion still
  // stops there (about 150 MB and 0.1 s at that depth).
  if (limits.maxDepth !== undefined) options.stack = limits.maxDepth + (limits.interpretedDepthAllowance ?? INTERPRETED_GROUPING_DEPTH);
  const build = limits.build ?? DEFAULT_BUILD_LIMITS;
  if (Number.isFinite(build.maxSequence)) options.sequence = build.maxSequence;
  // The same expression text is common across a folder ($wildcards[0], a shared transform):
  // compile it once. A compiled jsonata expression holds no per-evaluation state.
  const cache = new Map<string, Expression>();
  return {
    name: 'jsonata',
    compile(source: string): Expression {
      const known = cache.get(source);
      if (known !== undefined) return known;
      let compiled: jsonata.Expression;
      try {
        compiled = jsonata(source, options);
      } catch (error) {
        throw toSyntaxError(source, error as JsonataFailure);
      }
      const expression = limits.compile === false ? interpreted(source, compiled, limits, 'compilation is off') : compiledOrInterpreted(source, compiled, limits);
      cache.set(source, expression);
      return expression;
    },
  };
}

/** Compiled to JavaScript when the compiler covers every construct it uses, else jsonata's evaluator. */
function compiledOrInterpreted(source: string, compiled: jsonata.Expression, limits: JsonataLimits): Expression {
  const result = compileProgram(compiled.ast() as AstNode, { timeoutMs: limits.timeoutMs, maxDepth: limits.maxDepth, functions: limits.functions, build: limits.build });
  const fallback = interpreted(source, compiled, limits, 'compilation is off');
  if ('reason' in result) return { ...fallback, execution: { mode: 'interpreted', reason: result.reason } };
  return compiledExpression(source, result.program, fallback, namedVariables(compiled.ast()));
}

function compiledExpression(source: string, program: Program, fallback: Expression, names: readonly string[] | 'all'): Expression {
  const run = (input: unknown, bindings?: Bindings): unknown => {
    try {
      return program(input, bindings);
    } catch (error) {
      // Rare outcomes only jsonata's evaluator can decide (see Reinterpret): its answer stands.
      if (error instanceof Reinterpret) return fallback.evaluate(input, bindings);
      return withJsonataMessage(error).then((failure) => Promise.reject(failure as Error));
    }
  };
  return {
    source,
    execution: { mode: 'compiled' },
    readsVariables: readsBindings(names),
    run,
    evaluate(input: unknown, bindings?: Bindings): Promise<unknown> {
      const value = run(input, bindings);
      return value instanceof Promise ? value : Promise.resolve(value);
    },
  };
}

function interpreted(source: string, compiled: jsonata.Expression, limits: JsonataLimits, reason: string): Expression {
  const execution = { mode: 'interpreted', reason } as const;
  const functions = limits.functions;
  // jsonata binds every binding on every call: pass only those the expression names (a binding
  // may shadow a built-in function of the same name, as in jsonata), or none.
  const names = namedVariables(compiled.ast());
  // The built-ins that could build without bound get guarded stand-ins (invariant 28); $eval can
  // name any of them at run time.
  const guarded = names === 'all' ? GUARDED : GUARDED.filter((name) => names.includes(name));
  const asyncOnly = (evaluate: (input: unknown, bindings?: Bindings) => Promise<unknown>): Expression => ({ source, execution, evaluate, run: evaluate, readsVariables: readsBindings(names) });
  if (names === 'all') return asyncOnly((input, bindings) => compiled.evaluate(input, { ...bindings, ...guards(guarded, limits), ...functions }));
  const fixed = Object.entries(functions ?? {}).filter(([name]) => names.includes(name));
  if (names.length === 0) return asyncOnly((input) => compiled.evaluate(input));
  return asyncOnly((input, bindings) => {
    const named = Object.create(null) as Record<string, unknown>;
    if (bindings !== undefined) for (const name of names) if (Object.prototype.hasOwnProperty.call(bindings, name)) named[name] = bindings[name];
    if (guarded.length > 0) Object.assign(named, guards(guarded.filter((name) => !(name in named)), limits));
    for (const [name, fn] of fixed) named[name] = fn;
    return compiled.evaluate(input, named);
  });
}

/** The built-ins jsonata's evaluator gets guarded stand-ins for. */
const GUARDED: readonly string[] = ['pad', 'join', 'string', 'distinct', 'replace'];

interface NativeShape {
  readonly _jsonata_function: true;
  readonly implementation: (...args: unknown[]) => unknown;
  readonly signature?: unknown;
}

/**
 * Guarded built-ins for one evaluation on jsonata's evaluator: the compiled engine's own (their
 * checks read `this.budget`, `this.tick`), and `$replace` checked on what it built, since
 * jsonata's is asynchronous (its callback may be).
 */
function guards(names: readonly string[], limits: JsonataLimits): Record<string, NativeShape> {
  const budget = new Budget(limits.build ?? DEFAULT_BUILD_LIMITS);
  const timeoutMs = limits.timeoutMs ?? Infinity;
  const deadline = Date.now() + timeoutMs;
  let ticks = 0;
  const tick = (): void => {
    if ((++ticks & 1023) !== 0) return;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- jsonata's error shape
    if (Date.now() > deadline) throw { code: 'D1012', value: timeoutMs };
    checkHeap();
  };
  // jsonata reads a built-in's parameter names from its source (partial application, `$f(?, …)`),
  // so each stand-in spells out the parameters of the function it stands in for.
  const call = (name: string, focus: object, args: unknown[]): unknown => BUILTINS.get(name)!.implementation.apply({ ...focus, budget, tick }, args);
  const replace = jsonataImplementation('replace') as (...args: unknown[]) => unknown;
  const checked = (result: unknown): unknown => {
    if (typeof result === 'string') budget.string(result.length, '$replace');
    return result;
  };
  const implementations: Record<string, (...args: never[]) => unknown> = {
    pad(this: object, str: unknown, width: unknown, char: unknown) {
      return call('pad', this, [str, width, char]);
    },
    join(this: object, strs: unknown, separator: unknown) {
      return call('join', this, [strs, separator]);
    },
    string(this: object, arg: unknown, prettify = false) {
      return call('string', this, [arg, prettify]);
    },
    distinct(this: object, arr: unknown) {
      return call('distinct', this, [arr]);
    },
    replace(this: object, str: unknown, pattern: unknown, replacement: unknown, limit: unknown) {
      const result = replace.call(this, str, pattern, replacement, limit);
      return result instanceof Promise ? result.then(checked) : checked(result);
    },
  };
  const out: Record<string, NativeShape> = {};
  for (const name of names) {
    out[name] = { _jsonata_function: true, signature: BUILTINS.get(name)?.signature, implementation: implementations[name] as (...args: unknown[]) => unknown };
  }
  return out;
}

/** Whether evaluations need bindings: a name other than a built-in function's may be bound ($message, a set variable …). */
function readsBindings(names: readonly string[] | 'all'): boolean {
  return names === 'all' || names.some((name) => !JSONATA_FUNCTIONS.includes(name));
}

/**
 * The variables an expression names, other than `$` and `$$`; 'all' when it calls `$eval`
 * (which can name any variable at run time).
 */
function namedVariables(ast: unknown): readonly string[] | 'all' {
  const names = variableNames(ast as AstNode);
  if (names.has('eval')) return 'all';
  return [...names].filter((name) => name !== '' && name !== '$');
}

/**
 * jsonata reports `position` as the offset just past the offending token; point at the token's
 * start instead, or just after the last character when the expression ended too early.
 */
function toSyntaxError(source: string, failure: JsonataFailure): ExpressionSyntaxError {
  const code = typeof failure.code === 'string' ? failure.code : 'S0000';
  const message = typeof failure.message === 'string' ? failure.message : 'syntax error';
  const position = typeof failure.position === 'number' ? failure.position : 0;
  const token = typeof failure.token === 'string' ? failure.token : undefined;
  let offset: number;
  const last = source[position - 1];
  if (token === '(end)') offset = source.trimEnd().length;
  else if (token !== undefined && (last === '"' || last === "'" || last === '`')) offset = openingQuote(source, position - 1);
  else if (token !== undefined && position >= token.length) offset = position - token.length;
  else offset = Math.max(0, position - 1);
  return new ExpressionSyntaxError(message, code, Math.min(offset, source.length));
}

/** A string or quoted-name token is reported without its quotes (and escapes); find where it opens. */
function openingQuote(source: string, closing: number): number {
  const quote = source[closing];
  for (let i = closing - 1; i >= 0; i--) {
    if (source[i] !== quote) continue;
    let backslashes = 0;
    for (let j = i - 1; j >= 0 && source[j] === '\\'; j--) backslashes++;
    if (backslashes % 2 === 0) return i;
  }
  return Math.max(0, closing);
}
