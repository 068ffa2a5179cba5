/** filter: stops processing a message (successfully, nothing more is published) when a condition is false. */
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { jsonataBoolean } from '../pipeline/execution.js';
import { after } from '../util/maybe.js';
import { CONTINUE, STOP, type StepData, type StepKind } from './kind.js';

export interface FilterStep extends StepData {
  readonly kind: 'filter';
  readonly expression: Expression;
}

export const filter: StepKind<string, FilterStep> = {
  kind: 'filter',
  description: 'Continue only when a JSONata condition is true; otherwise the message is done and acknowledged.',
  schema: {
    type: 'string',
    minLength: 1,
    description: 'A JSONata condition, read with JSONata\'s $boolean rules; false, empty or undefined ends processing of the message.',
    examples: ['temp_f != null and status = "ok"'],
  },
  summary: { does: 'ends the message (successfully) unless a condition holds', changesPayload: 'no' },
  table: {
    header: ['Value', 'Description'],
    rows: [['string', 'A JSONata condition, read with JSONata\'s `$boolean` rules: `false`, `0`, `""`, `null`, an empty array or object, or no result at all end the message.']],
  },
  example: `services:
  valid-readings:
    steps:
      - filter: temp_f != null and status = "ok"
      - publish:
          topic: plant/{{ $wildcards[0] }}/valid
`,
  compile(value, header, path, compiler) {
    const expression = compiler.expression(value, path);
    return expression && { kind: 'filter', ...header, expression };
  },
  run(step, exec) {
    return after(evaluate(step.expression, exec.payload, exec, step), (value) => (jsonataBoolean(value) ? CONTINUE : STOP));
  },
};
