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
  return {
    name: 'jsonata',
    compile(source: string): Expression {
      let compiled: jsonata.Expression;
      try {
        compiled = jsonata(source, options);
      } catch (error) {
        throw toSyntaxError(source, error as JsonataFailure);
      }
      return {
        source,
        evaluate: (input: unknown, bindings?: Bindings): Promise<unknown> => compiled.evaluate(input, bindings),
      };
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
  if (token === '(end)') offset = source.trimEnd().length;
  else if (token !== undefined && position >= token.length) offset = position - token.length;
  else offset = Math.max(0, position - 1);
  return new ExpressionSyntaxError(message, code, Math.min(offset, source.length));
}
