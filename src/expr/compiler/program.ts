/**
 * A compiled expression ready to run: decides whether the tree can be compiled (and why not),
 * and sets up what one evaluation needs — the root frame with the bindings the expression
 * names, the input wrapped as jsonata wraps it, and the bounds.
 */
import { Budget, DEFAULT_BUILD_LIMITS, type BuildLimits } from '../bounds.js';
import { containsLambda, nestingDepth, outsideSubset, variableNames, type AstNode } from './ast.js';
import { compileTree } from './compile.js';
import { EvaluationTime, Reinterpret, type Context, type Frame } from './context.js';
import { apply } from './functions.js';
import { createSequence, isSequence, type Sequence } from './values.js';

export interface ProgramOptions {
  readonly timeoutMs?: number;
  readonly maxDepth?: number;
  /** What one evaluation may build (invariant 28). */
  readonly build?: BuildLimits;
  /** Always-present bindings (mqflow test's fixed `$now`, `$millis`, `$random`). */
  readonly functions?: Readonly<Record<string, unknown>>;
}

export type Program = (input: unknown, bindings?: Readonly<Record<string, unknown>>) => unknown;

export type CompileResult = { readonly program: Program } | { readonly reason: string };

export function compileProgram(ast: AstNode, options: ProgramOptions = {}): CompileResult {
  const reason = outsideSubset(ast);
  if (reason !== undefined) return { reason };
  const maxDepth = options.maxDepth !== undefined && options.maxDepth > 0 ? options.maxDepth : Infinity;
  const timeoutMs = options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : Infinity;
  const bounded = maxDepth !== Infinity || timeoutMs !== Infinity;
  // Without functions nothing can recurse: the tree's height bounds the depth jsonata would reach.
  const guarded = bounded && containsLambda(ast);
  if (!guarded && maxDepth !== Infinity && nestingDepth(ast) >= maxDepth) {
    return { reason: `nested deeper than the depth limit (${maxDepth})` };
  }
  const code = compileTree(ast, { guarded });
  const names = [...variableNames(ast)].filter((name) => name !== '' && name !== '$');
  const fixed = Object.entries(options.functions ?? {}).filter(([name]) => names.includes(name));
  const build = options.build ?? DEFAULT_BUILD_LIMITS;
  const sequenceOption = { sequence: build.maxSequence };

  const program: Program = (input, bindings) => {
    const frame = Object.create(null) as Frame;
    if (bindings !== undefined) {
      for (const name of names) if (Object.prototype.hasOwnProperty.call(bindings, name)) frame[name] = bindings[name];
    }
    for (const [name, fn] of fixed) frame[name] = fn;
    frame['$'] = input;
    let context = input;
    if (Array.isArray(input) && !isSequence(input)) {
      const wrapped: Sequence = createSequence(input);
      wrapped.outerWrapper = true;
      context = wrapped;
    }
    const ctx: Context = {
      depth: 0,
      ticks: 0,
      maxDepth,
      timeoutMs,
      deadline: timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs,
      budget: new Budget(build),
      options: sequenceOption,
      environment: new EvaluationTime(),
      invoke: (fn, args) => apply(fn, args, null, ctx),
    };
    try {
      return code(context, frame, ctx);
    } catch (error) {
      if (error instanceof RangeError && /call stack/i.test(error.message)) throw new Reinterpret('the compiled code ran out of stack');
      throw error;
    }
  };
  return { program };
}
