/** The JSONata engine, backed by the `jsonata` package's own parser and evaluator. */
import jsonata from 'jsonata';
import { ExpressionSyntaxError, type Bindings, type Expression, type ExpressionEngine } from './expression.js';
import { JSONATA_FUNCTIONS } from './jsonata-functions.js';

const BUILT_IN = new Set(JSONATA_FUNCTIONS);

export interface JsonataLimits {
  /** Evaluation time limit per call, in milliseconds. */
  readonly timeoutMs?: number;
  /** Maximum evaluation depth (guards against runaway recursion). */
  readonly maxDepth?: number;
  /**
   * Functions that replace JSONata's (or add to them) in every evaluation: `mqflow test` fixes
   * `$now`, `$millis` and `$random` this way so outputs are deterministic.
   */
  readonly functions?: Readonly<Record<string, (...args: unknown[]) => unknown>>;
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
  if (limits.maxDepth !== undefined) options.stack = limits.maxDepth;
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
      // jsonata binds every binding on every call; an expression that names none of them (most
      // transforms and filters) is evaluated without.
      const functions = limits.functions;
      const expression: Expression =
        functions !== undefined
          ? { source, evaluate: (input: unknown, bindings?: Bindings): Promise<unknown> => compiled.evaluate(input, { ...bindings, ...functions }) }
          : readsBindings(compiled.ast())
            ? { source, evaluate: (input: unknown, bindings?: Bindings): Promise<unknown> => compiled.evaluate(input, bindings) }
            : { source, evaluate: (input: unknown): Promise<unknown> => compiled.evaluate(input) };
      cache.set(source, expression);
      return expression;
    },
  };
}

/**
 * Whether an expression may read a binding: it names a variable other than `$`, `$$` and the
 * built-in functions, or calls `$eval` (which can name any variable at run time).
 */
function readsBindings(ast: unknown): boolean {
  const seen = new Set<object>();
  const visit = (node: unknown): boolean => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return false;
    seen.add(node);
    const { type, value } = node as { type?: unknown; value?: unknown };
    if (type === 'variable' && typeof value === 'string' && value !== '' && value !== '$' && (value === 'eval' || !BUILT_IN.has(value))) return true;
    return Object.values(node).some(visit);
  };
  return visit(ast);
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
