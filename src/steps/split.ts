/** split: runs steps once per element of an array; the payload after the split is the one before it. */
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import type { Execution, Outcome } from '../pipeline/execution.js';
import { after, type Maybe } from '../util/maybe.js';
import type { Step, StepRuntime } from '../pipeline/step.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';

export interface SplitStep extends StepData {
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
  summary: { does: 'runs steps once per element of an array', changesPayload: 'no' },
  table: {
    header: ['Field', 'Type', 'Default', 'Description'],
    rows: [
      ['`items`', 'JSONata expression', 'required', 'The elements; a single value counts as one element.'],
      ['`steps`', 'list of steps', 'required', 'The steps run for each element, in order, with the element as the payload.'],
    ],
  },
  example: `services:
  split-batch:
    description: '{ "gateway": "gw-1", "readings": [ { "deviceId": "press-1", "bar": 4.2 } ] } → one message per reading'
    steps:
      - set:
          site: $wildcards[0]
          gateway: gateway
      - split:
          items: readings
          steps:
            - validate:
                schema:
                  type: object
                  required: [deviceId, bar]
            - publish:
                topic: plant/{{ $site }}/pressure/{{ deviceId }}
                payload: '{ "gateway": $gateway, "device": deviceId, "bar": bar, "index": $index }'
      - log: "{{ $count(readings) }} readings of {{ gateway }} republished"
`,
  compile(value, header, path, compiler) {
    const items = compiler.expression(value.items, [...path, 'items']);
    const steps = compiler.steps(value.steps, [...path, 'steps']);
    return items && { kind: 'split', ...header, items, steps };
  },
  run(step, exec, runtime) {
    return after(evaluate(step.items, exec.payload, exec, step), (items) => {
      const list: readonly unknown[] = items === undefined ? [] : Array.isArray(items) ? items : [items];
      return eachFrom(step, exec, runtime, list, 0);
    });
  },
  uses: (step) => [{ kind: 'nested', label: 'each', expression: step.items.source, steps: step.steps }],
};

/** One element at a time, in order; a filter inside ends only that element's run. */
function eachFrom(step: SplitStep, exec: Execution, runtime: StepRuntime, list: readonly unknown[], first: number): Maybe<Outcome> {
  for (let index = first; index < list.length; index++) {
    const item = list[index];
    const outcome = runtime.runSteps(step.steps, exec.child(item, { item, index }));
    if (outcome instanceof Promise) return outcome.then(() => eachFrom(step, exec, runtime, list, index + 1));
  }
  return CONTINUE;
}
