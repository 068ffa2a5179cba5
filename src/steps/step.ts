/**
 * What every step kind provides: the JSON Schema of its value (which goes into flows.schema.json),
 * and a compile function that turns the validated value into an immutable step. The runtime adds
 * each kind's run function beside its compile.
 */
import type { Expression } from '../expr/expression.js';
import type { Effects, Execution, Outcome } from '../pipeline/execution.js';
import type { Template } from '../expr/template.js';
import type { PayloadSchema } from '../flow/payload-schema.js';
import type { SourcePosition } from '../flow/problem.js';
import type { ValuePath } from '../flow/path.js';
import type { ChoiceStep } from './choice.js';
import type { FilterStep } from './filter.js';
import type { InvokeStep } from './invoke.js';
import type { LogStep } from './log.js';
import type { PublishStep } from './publish.js';
import type { SetStep } from './set.js';
import type { SplitStep } from './split.js';
import type { TransformStep } from './transform.js';
import type { ValidateStep } from './validate.js';

export type Step = TransformStep | FilterStep | SetStep | PublishStep | LogStep | InvokeStep | ChoiceStep | SplitStep | ValidateStep;

export type JsonSchema = Readonly<Record<string, unknown>>;

/** Fields every compiled step has. */
export interface StepHeader {
  /** Optional name given in the flow, for logs. */
  readonly name?: string;
  /** Where the step is written. */
  readonly at: SourcePosition;
  /** Its dotted path, e.g. `services.normalize.steps[2]`. */
  readonly path: string;
}

/** What compile functions use to compile the parts of a step and report problems at their place. */
export interface StepCompiler {
  problem(path: ValuePath, code: string, message: string, hint?: string): void;
  /** A JSONata expression; syntax errors are reported at their line and column inside the file. */
  expression(source: string, path: ValuePath): Expression | undefined;
  /** A `{{ expression }}` template. */
  template(source: string, path: ValuePath): Template | undefined;
  /** A nested list of steps (choice branches, split bodies). */
  steps(list: readonly unknown[], path: ValuePath): readonly Step[];
  payloadSchema(schema: unknown, path: ValuePath): PayloadSchema | undefined;
  /** A value quoted for a message (`"text"`), or `the value of ${env:NAME}` when it came from a secret. */
  quote(path: ValuePath, value: unknown): string;
  /** True when the schema check found a problem at exactly `path`; such a part is skipped (its problem is reported). */
  broken(path: ValuePath): boolean;
  /** Records a reference, checked once every definition of the folder is known. */
  refer(kind: 'service' | 'connection', name: string, path: ValuePath): void;
}

export interface StepKind<Value, Compiled extends StepHeader> {
  readonly kind: string;
  /** One sentence for the schema and the docs. */
  readonly description: string;
  /** The schema of the value under the step's key. */
  readonly schema: JsonSchema;
  /** `value` has passed `schema`; `path` points at it (…steps[2].transform). */
  compile(value: Value, header: StepHeader, path: ValuePath, compiler: StepCompiler): Compiled | undefined;
  /** Runs the step for one message; 'stop' ends the message (successfully). Failures throw MessageFailure. */
  run(step: Compiled, exec: Execution, effects: Effects, runSteps: RunSteps): Promise<Outcome>;
}

/** Runs nested steps (choice branches, split bodies) in the same pipeline. */
export type RunSteps = (steps: readonly Step[], exec: Execution) => Promise<Outcome>;

/** Names that expressions see as `$name` for every message; `set` may not reuse them. */
export const CONTEXT_BINDINGS: readonly string[] = ['message', 'topic', 'levels', 'wildcards', 'item', 'index'];

/** JSONata's built-in functions; a `set` variable with one of these names would hide it. */
export { JSONATA_FUNCTIONS } from '../expr/jsonata-functions.js';
