/**
 * What one evaluation may build (docs/architecture.md, invariant 28): time and depth alone do not
 * bound memory, since one call of a built-in can ask for more than the process has. Both engines
 * check these: the compiled code in its loops and operators, jsonata's evaluator through its
 * `sequence` option and the guarded built-ins it gets as bindings.
 */
import { getHeapStatistics } from 'node:v8';

export interface BuildLimits {
  /** Items in one sequence (jsonata's `sequence` option, D2015). */
  readonly maxSequence: number;
  /** Characters in one string an evaluation builds; ten times this for all of them together. */
  readonly maxString: number;
}

export const DEFAULT_BUILD_LIMITS: BuildLimits = { maxSequence: 1_000_000, maxString: 10_000_000 };

/** An evaluation asked to build more than its limits allow. */
export class ExpressionLimitError extends Error {
  readonly code = 'MQFLOW_EXPRESSION_LIMIT';

  constructor(message: string) {
    super(message);
    this.name = 'ExpressionLimitError';
  }
}

/** What one evaluation has built so far, against its limits. */
export class Budget {
  /** Characters built by the string-building built-ins and `&`. */
  #chars = 0;
  /** Items of the ranges (`a..b`) built. */
  #items = 0;

  constructor(readonly limits: BuildLimits) {}

  /** A string of `length` characters is about to be built by `what`. */
  string(length: number, what: string): void {
    const { maxString } = this.limits;
    if (length > maxString) throw new ExpressionLimitError(`${what} would build a string of ${length} characters; the limit is ${maxString} (--expression-max-string)`);
    this.#chars += length;
    if (this.#chars > maxString * 10) throw new ExpressionLimitError(`${what}: this evaluation has built ${this.#chars} characters of strings; the limit is ${maxString * 10} (10 × --expression-max-string)`);
  }

  /** A range of `size` items is about to be built (jsonata's own D2015 covers one range). */
  range(size: number): void {
    this.#items += size;
    const total = this.limits.maxSequence * 10;
    if (this.#items > total) throw new ExpressionLimitError(`ranges (..) of this evaluation would hold ${this.#items} items; the limit is ${total} (10 × --expression-max-sequence)`);
  }
}

/** Evaluations stop when the heap is this full, whatever built it: the last line of defence. */
const HEAP_SHARE = 0.75;
const heapLimit = getHeapStatistics().heap_size_limit;

/** Called now and then from the loops of an evaluation (with the time check). */
export function checkHeap(): void {
  const used = getHeapStatistics().used_heap_size;
  if (used > heapLimit * HEAP_SHARE) {
    throw new ExpressionLimitError(`the evaluation stopped with the heap ${Math.round(used / 1_048_576)} MB full (of ${Math.round(heapLimit / 1_048_576)} MB)`);
  }
}
