/**
 * Problems found in a flow folder. Every problem carries a stable code, the place it was found and,
 * where it helps, a hint saying what to change.
 */

import type { SourcePosition } from '../util/position.js';

export type { SourcePosition };
export type Severity = 'error' | 'warning';

export interface FlowProblem extends SourcePosition {
  readonly severity: Severity;
  /** Stable identifier, e.g. `MQFLOW_SCHEMA_ENUM`. */
  readonly code: string;
  /** The dotted path of the offending value (`triggers.temp-in.qos`), empty for file-level problems. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

/** Collects problems while a stage runs; stages report everything they find instead of stopping at the first. */
export class ProblemList {
  readonly #problems: FlowProblem[] = [];

  add(problem: FlowProblem): void {
    this.#problems.push(problem);
  }

  /** Every problem added, in order. */
  all(): FlowProblem[] {
    return [...this.#problems];
  }

  get errorCount(): number {
    return this.#problems.filter((p) => p.severity === 'error').length;
  }

  /** Sorted by file, line and column; duplicates (same place and message) removed. */
  sorted(): FlowProblem[] {
    const seen = new Set<string>();
    const unique = this.#problems.filter((p) => {
      const key = `${p.file}\0${p.line}\0${p.column}\0${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return unique.sort(compareProblems);
  }
}

export function compareProblems(a: FlowProblem, b: FlowProblem): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line || a.column - b.column || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0);
}

/** `flows/plant.yaml:12:5 error: triggers.temp-in.qos must be 0, 1 or 2 (got 3)` plus an indented hint line. */
export function formatProblem(p: FlowProblem): string {
  const head = `${p.file}:${p.line}:${p.column} ${p.severity}: ${p.message}`;
  return p.hint === undefined ? head : `${head}\n  hint: ${p.hint}`;
}
