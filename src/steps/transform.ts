/** transform: replaces the payload with the result of a JSONata expression. */
import { evaluate } from '../pipeline/evaluate.js';
import type { Expression } from '../expr/expression.js';
import type { StepHeader, StepKind } from './step.js';

export interface TransformStep extends StepHeader {
  readonly kind: 'transform';
  readonly expression: Expression;
}

export const transform: StepKind<string, TransformStep> = {
  kind: 'transform',
  description: 'Replace the payload with the result of a JSONata expression evaluated against it.',
  schema: {
    type: 'string',
    minLength: 1,
    description: 'A JSONata expression; its result becomes the payload for the following steps.',
    examples: ['{ "device": deviceId, "celsius": (temp_f - 32) * 5 / 9 }'],
  },
  compile(value, header, path, compiler) {
    const expression = compiler.expression(value, path);
    return expression && { kind: 'transform', ...header, expression };
  },
  async run(step, exec) {
    exec.payload = await evaluate(step.expression, exec.payload, exec, step);
    return 'continue';
  },
};
