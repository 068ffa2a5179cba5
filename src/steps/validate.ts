/** validate: checks the payload against a JSON Schema; a payload that fails goes to the error route. */
import { MessageFailure } from '../pipeline/execution.js';
import type { PayloadSchema } from '../flow/payload-schema.js';
import type { StepHeader, StepKind } from './step.js';

export interface ValidateStep extends StepHeader {
  readonly kind: 'validate';
  readonly schema: PayloadSchema;
}

export const validate: StepKind<{ schema: Record<string, unknown> }, ValidateStep> = {
  kind: 'validate',
  description: 'Check the payload against a JSON Schema; a payload that does not conform fails the message with the reasons.',
  schema: {
    type: 'object',
    required: ['schema'],
    additionalProperties: false,
    properties: {
      schema: { type: 'object', description: 'A JSON Schema (draft-07) for the payload.' },
    },
    examples: [{ schema: { type: 'object', required: ['deviceId', 'temp_f'], properties: { temp_f: { type: 'number' } } } }],
  },
  compile(value, header, path, compiler) {
    const schema = compiler.payloadSchema(value.schema, [...path, 'schema']);
    return schema && { kind: 'validate', ...header, schema };
  },
  run(step, exec) {
    const problems = step.schema.check(exec.payload);
    if (problems.length > 0) {
      return Promise.reject(new MessageFailure(`${step.path}: the payload does not match the schema: ${problems.join('; ')}`, 'MQFLOW_VALIDATE', { path: step.path, at: step.at }));
    }
    return Promise.resolve('continue');
  },
};
