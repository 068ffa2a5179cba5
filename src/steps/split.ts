/** split: runs steps once per element of an array; the payload after the split is the one before it. */
import { evaluate } from '../pipeline/evaluate.js';
import type { Expression } from '../expr/expression.js';
import type { Step, StepHeader, StepKind } from './step.js';

export interface SplitStep extends StepHeader {
  readonly kind: 'split';
  readonly items: Expression;
  readonly steps: readonly Step[];
}

export const split: StepKind<{ items: string; steps: unknown[] }, SplitStep> = {
  kind: 'split',
  description: 'Run steps once for each element of an array; each element is the payload of its run ($item, $index).',
  schema: {
    type: 'object',
    required: ['items', 'steps'],
    additionalProperties: false,
    properties: {
      items: { type: 'string', minLength: 1, description: 'A JSONata expression giving the elements (a single value counts as one element).', examples: ['readings'] },
      steps: { $ref: '#/definitions/steps', description: 'Steps run for each element, in order.' },
    },
    examples: [{ items: 'readings', steps: [{ publish: { topic: 'readings/{{ sensor }}' } }] }],
  },
  compile(value, header, path, compiler) {
    const items = compiler.expression(value.items, [...path, 'items']);
    const steps = compiler.steps(value.steps, [...path, 'steps']);
    return items && { kind: 'split', ...header, items, steps };
  },
  async run(step, exec, _effects, runSteps) {
    const items = await evaluate(step.items, exec.payload, exec, step);
    const list: readonly unknown[] = items === undefined ? [] : Array.isArray(items) ? items : [items];
    // One element at a time, in order; a filter inside ends only that element's run.
    for (let index = 0; index < list.length; index++) {
      const item = list[index];
      await runSteps(step.steps, exec.child(item, { item, index }));
    }
    return 'continue';
  },
};
