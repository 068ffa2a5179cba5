/**
 * The one interface through which flows evaluate expressions: compile once at load, evaluate per
 * message. Steps depend on this interface only, so the engine behind it can change.
 */

/** Named values available to an expression as `$name`. */
export type Bindings = Readonly<Record<string, unknown>>;

export interface Expression {
  /** The expression as written. */
  readonly source: string;
  evaluate(input: unknown, bindings?: Bindings): Promise<unknown>;
  /** How the engine runs it; `mqflow validate --explain` reports this. */
  readonly execution?: ExpressionExecution;
}

/** Compiled to JavaScript, or interpreted by jsonata's own evaluator (with the reason why). */
export type ExpressionExecution = { readonly mode: 'compiled' } | { readonly mode: 'interpreted'; readonly reason: string };

export interface ExpressionEngine {
  readonly name: string;
  /** Throws ExpressionSyntaxError when `source` does not parse. */
  compile(source: string): Expression;
}

/** A syntax error with the 0-based offset inside the expression where the problem is. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}
