/**
 * What one evaluation of compiled code carries: its frames of variables, its bounds and clock,
 * and the signal that hands an evaluation to jsonata.
 */
import { checkHeap, type Budget } from '../bounds.js';
import type { CallbackRole } from './builtins.js';
import { fail } from './values.js';

/** Variables in scope: a null-prototype object per block or call, chained to the enclosing one. */
export type Frame = Record<string, unknown>;

/** Per-evaluation state. */
export interface Context {
  depth: number;
  ticks: number;
  readonly maxDepth: number;
  readonly deadline: number;
  readonly timeoutMs: number;
  /** What this evaluation may still build (invariant 28). */
  readonly budget: Budget;
  /** jsonata's options as its built-ins read them: `sequence`, the items one sequence may hold. */
  readonly options: { readonly sequence: number };
  /** What `$now()`, `$millis()` and `$toMillis()` read: one time per evaluation. */
  readonly environment: EvaluationTime;
  /** Calls a function value from a built-in (a callback); input is null, as in jsonata. */
  readonly invoke: (fn: unknown, args: unknown[], role: CallbackRole) => unknown;
}

export type Code = (input: unknown, frame: Frame, ctx: Context) => unknown;

/** The evaluation's timestamp, taken when first read (most evaluations never ask). */
export class EvaluationTime {
  #timestamp: Date | undefined;
  get timestamp(): Date {
    return (this.#timestamp ??= new Date());
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

export function checkTime(ctx: Context): void {
  if (Date.now() > ctx.deadline) fail('D1012', { value: ctx.timeoutMs });
  checkHeap();
}

/** Loops over data check the clock now and then, so a bounded expression cannot run away. */
export function tick(ctx: Context): void {
  if ((++ctx.ticks & TICK_MASK) === 0) checkTime(ctx);
}
