/** validate: checks the payload against a JSON Schema; a payload that fails goes to the error route. */
import { MessageFailure } from '../pipeline/execution.js';
import type { PayloadSchema } from '../pipeline/payload-schema.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';

export interface ValidateStep extends StepData {
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
  summary: { does: 'checks the payload against a JSON Schema', changesPayload: 'no' },
  table: { header: ['Field', 'Type', 'Default', 'Description'], rows: [['`schema`', 'JSON Schema (map)', 'required', 'A JSON Schema (draft-07) for the payload.']] },
  example: `services:
  checked-reading:
    steps:
      - validate:
          schema:
            type: object
            required: [deviceId, temp_f]
            properties:
              deviceId: { type: string }
              temp_f: { type: number, minimum: -459.67 }
      - publish:
          topic: plant/readings/{{ deviceId }}
`,
  compile(value, header, path, compiler) {
    const schema = compiler.payloadSchema(value.schema, [...path, 'schema']);
    return schema && { kind: 'validate', ...header, schema };
  },
  run(step, exec) {
    const problems = step.schema.check(exec.payload);
    if (problems.length > 0) {
      throw new MessageFailure(`${step.path}: the payload does not match the schema: ${problems.join('; ')}`, 'MQFLOW_VALIDATE', { path: step.path, at: step.at });
    }
    return CONTINUE;
  },
};
