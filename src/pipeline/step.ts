/**
 * The step contract the pipeline runs: every compiled step carries its own `run`. Which kinds
 * exist, and how each is written and compiled, is the business of src/steps.
 */
import type { SourcePosition } from '../util/position.js';
import type { Effects, Execution, Outcome } from './execution.js';
import type { Maybe } from '../util/maybe.js';

/** Fields every compiled step has. */
export interface StepHeader {
  /** Optional name given in the flow, for logs. */
  readonly name?: string;
  /** Where the step is written. */
  readonly at: SourcePosition;
  /** Its dotted path, e.g. `services.normalize.steps[2]`. */
  readonly path: string;
}

export interface Step extends StepHeader {
  readonly kind: string;
  /**
   * Runs the step for one message: 'stop' ends the message (successfully). Returns a Promise only
   * when the step must wait (invariant 27); failures are thrown (or rejected) as MessageFailure.
   */
  readonly run: (exec: Execution, runtime: StepRuntime) => Maybe<Outcome>;
}

/** What a running step may use beyond its execution. */
export interface StepRuntime {
  readonly effects: Effects;
  /** Runs nested steps (choice branches, split bodies) in the same pipeline. */
  runSteps(steps: readonly Step[], exec: Execution): Maybe<Outcome>;
}
