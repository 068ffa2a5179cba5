/** The JSONata engine, backed by the `jsonata` package's own parser and evaluator. */
import jsonata from 'jsonata';
import { ExpressionSyntaxError, type Bindings, type Expression, type ExpressionEngine } from './expression.js';

export interface JsonataLimits {
  /** Evaluation time limit per call, in milliseconds. */
  readonly timeoutMs?: number;
  /** Maximum evaluation depth (guards against runaway recursion). */
  readonly maxDepth?: number;
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
      const expression: Expression = {
        source,
        evaluate: (input: unknown, bindings?: Bindings): Promise<unknown> => compiled.evaluate(input, bindings),
      };
      cache.set(source, expression);
      return expression;
    },
  };
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
