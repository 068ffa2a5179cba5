/**
 * A step kind is one component (docs/architecture.md, "Components"): its spec (the schema of its
 * value, its rows in docs/flow-language.md, an example), its compile, and its run. The step
 * compiler of src/flow attaches `run` to each compiled step, so the pipeline calls it directly.
 */
import type { ComponentCompiler } from '../component/compiler.js';
import type { DocTable } from '../component/spec.js';
import type { Template } from '../expr/template.js';
import type { Execution, Outcome } from '../pipeline/execution.js';
import type { Maybe } from '../util/maybe.js';
import type { Step, StepHeader, StepRuntime } from '../pipeline/step.js';
import type { JsonSchema } from '../util/json-schema.js';
import type { ValuePath } from '../util/path.js';
import { JSONATA_FUNCTIONS } from '../expr/jsonata-functions.js';

/** A compiled step before `run` is attached: its kind, header and kind-specific fields. */
export interface StepData extends StepHeader {
  readonly kind: string;
}

/** What a step refers to, for `mqflow graph`: a topic it publishes to, a service it invokes, an HTTP API it calls, steps it nests. */
export type StepUse =
  | { readonly kind: 'publish'; readonly topic: Template; readonly connection?: string; readonly label?: 'request' | 'reply' }
  | { readonly kind: 'invoke'; readonly service: string }
  | { readonly kind: 'http'; readonly method: string; readonly url: Template }
  | { readonly kind: 'nested'; readonly label: 'when' | 'otherwise' | 'each'; readonly expression?: string; readonly steps: readonly Step[] };

export interface StepKind<Value, Data extends StepData> {
  readonly kind: string;
  /** One sentence for the schema and the docs. */
  readonly description: string;
  /** The schema of the value under the step's key. */
  readonly schema: JsonSchema;
  /** Its row in the table of step kinds: what it does, and whether it changes the payload. */
  readonly summary: { readonly does: string; readonly changesPayload: string };
  /** Its reference table in docs/flow-language.md (the id is `step-<kind>`). */
  readonly table: Omit<DocTable, 'id'>;
  /** A flow file using it (services only; it may use the connection `plant` of the docs' complete example). */
  readonly example: string;
  /** `value` has passed `schema`; `path` points at it (…steps[2].transform). */
  compile(value: Value, header: StepHeader, path: ValuePath, compiler: ComponentCompiler): Data | undefined;
  /** Runs the step for one message: a Promise only when it must wait; failures are MessageFailure. */
  run(step: Data, exec: Execution, runtime: StepRuntime): Maybe<Outcome>;
  /** What it refers to (publishes, invokes, nested steps). */
  uses?(step: Data): readonly StepUse[];
  /** It reads or writes a state store: messages of services using it get a MessageState. */
  readonly stateful?: boolean;
}

/** Names that expressions see as `$name` for every message; `set` may not reuse them. */
export const CONTEXT_BINDINGS: readonly string[] = ['message', 'topic', 'levels', 'wildcards', 'item', 'index'];

/** Why `name` cannot be a variable steps bind (`as`, `set`), or undefined. */
export function variableNameProblem(name: string): string | undefined {
  if (CONTEXT_BINDINGS.includes(name) || JSONATA_FUNCTIONS.includes(name) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `"${name}" cannot be a variable name here: it would hide $${name}`;
  return undefined;
}

/** JSONata's built-in functions; a `set` variable with one of these names would hide it. */
export { JSONATA_FUNCTIONS };

export const CONTINUE: Outcome = 'continue';
export const STOP: Outcome = 'stop';
