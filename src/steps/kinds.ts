/** The registry of step kinds, in the order the docs and the schema list them. Adding a kind: its module, and one line here. */
import { choice } from './choice.js';
import { filter } from './filter.js';
import { invoke } from './invoke.js';
import type { StepData, StepKind } from './kind.js';
import { log } from './log.js';
import { publish } from './publish.js';
import { set } from './set.js';
import { split } from './split.js';
import { transform } from './transform.js';
import { validate } from './validate.js';

// Each kind's value type differs; the registry sees them as unknown (values are schema-checked before compile).
export type AnyStepKind = StepKind<unknown, StepData>;

export const STEP_KINDS: readonly AnyStepKind[] = [transform, filter, set, validate, publish, log, invoke, choice, split];

export const STEP_KIND_NAMES: readonly string[] = STEP_KINDS.map((k) => k.kind);

export function stepKind(name: string): AnyStepKind | undefined {
  return STEP_KINDS.find((k) => k.kind === name);
}
