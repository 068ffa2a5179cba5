/** transform: replaces the payload with the result of a JSONata expression. */
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';

export interface TransformStep extends StepData {
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
  summary: { does: 'replaces the payload with the result of a JSONata expression', changesPayload: 'yes' },
  table: { header: ['Value', 'Description'], rows: [['string', 'A JSONata expression; its result becomes the payload for the following steps.']] },
  example: `services:
  normalize:
    steps:
      - transform: |
          {
            "device": deviceId,
            "celsius": $round((temp_f - 32) * 5 / 9, 2),
            "site": $wildcards[0],
            "ts": ts ? ts : $millis()
          }
`,
  compile(value, header, path, compiler) {
    const expression = compiler.expression(value, path);
    return expression && { kind: 'transform', ...header, expression };
  },
  run(step, exec) {
    const value = evaluate(step.expression, exec.payload, exec, step);
    if (value instanceof Promise) return value.then((v) => ((exec.payload = v), CONTINUE));
    exec.payload = value;
    return CONTINUE;
  },
};
