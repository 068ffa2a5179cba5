/** filter: stops processing a message (successfully, nothing more is published) when a condition is false. */
import { evaluate } from '../pipeline/evaluate.js';
import { jsonataBoolean } from '../pipeline/execution.js';
import type { Expression } from '../expr/expression.js';
import type { StepHeader, StepKind } from './step.js';

export interface FilterStep extends StepHeader {
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
  compile(value, header, path, compiler) {
    const expression = compiler.expression(value, path);
    return expression && { kind: 'filter', ...header, expression };
  },
  async run(step, exec) {
    return jsonataBoolean(await evaluate(step.expression, exec.payload, exec, step)) ? 'continue' : 'stop';
  },
};
