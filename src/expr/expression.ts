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
  /**
   * The same evaluation, without a promise hop where none is needed: the value itself when the
   * expression completes synchronously (compiled code), else a Promise of it (jsonata's
   * evaluator). A compiled expression's failure is a rejected Promise too (its message comes
   * from jsonata). Expression values are never Promises, so `instanceof Promise` tells which.
   */
  run(input: unknown, bindings?: Bindings): unknown;
  /** False when the expression names no variable (`$name`): its caller need not build bindings. */
  readonly readsVariables?: boolean;
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
