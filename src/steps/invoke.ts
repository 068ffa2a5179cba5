/** invoke: runs another service with the current payload (or an expression's result); its result becomes the payload. */
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { after } from '../util/maybe.js';
import { CONTINUE, STOP, type StepData, type StepKind } from './kind.js';

export interface InvokeStep extends StepData {
  readonly kind: 'invoke';
  readonly service: string;
  /** Undefined: the current payload. */
  readonly payload?: Expression;
}

type InvokeValue = string | { service: string; payload?: string };

export const invoke: StepKind<InvokeValue, InvokeStep> = {
  kind: 'invoke',
  description: 'Run another service; the payload it ends with becomes the payload here.',
  schema: {
    description: 'The name of the service to run, or { service, payload } to pass it the result of an expression.',
    anyOf: [
      { type: 'string', minLength: 1 },
      {
        type: 'object',
        required: ['service'],
        additionalProperties: false,
        properties: {
          service: { type: 'string', minLength: 1, description: 'The service to run.' },
          payload: { type: 'string', minLength: 1, description: 'A JSONata expression for the payload passed to it. Default: the current payload.' },
        },
      },
    ],
    examples: ['enrich-with-site', { service: 'raise-alert', payload: '{ "device": device, "value": celsius }' }],
  },
  summary: { does: 'runs another service; its result becomes the payload', changesPayload: 'yes' },
  table: {
    header: ['Value / field', 'Type', 'Default', 'Description'],
    rows: [
      ['(string)', 'string', '', 'The name of the service to run, with the current payload.'],
      ['`service`', 'string', 'required', 'The service to run.'],
      ['`payload`', 'JSONata expression', 'the current payload', 'The payload passed to it.'],
    ],
  },
  example: `services:
  enrich-and-check:
    steps:
      - invoke: to-celsius
      - invoke:
          service: raise-alert
          payload: '{ "device": device, "value": celsius }'
  raise-alert:
    steps:
      - filter: value > 80
      - publish:
          topic: plant/alerts/{{ device }}
`,
  compile(value, header, path, compiler) {
    const service = typeof value === 'string' ? value : value.service;
    compiler.refer('service', service, typeof value === 'string' ? path : [...path, 'service']);
    if (typeof value === 'string' || value.payload === undefined) return { kind: 'invoke', ...header, service };
    const payload = compiler.expression(value.payload, [...path, 'payload']);
    return payload && { kind: 'invoke', ...header, service, payload };
  },
  run(step, exec, { effects }) {
    const payload = step.payload === undefined ? exec.payload : evaluate(step.payload, exec.payload, exec, step);
    return after(payload, (p) =>
      after(effects.invoke(step.service, p, exec), (result) => {
        if (result.outcome === 'stop') return STOP;
        exec.payload = result.payload;
        return CONTINUE;
      }),
    );
  },
  uses: (step) => [{ kind: 'invoke', service: step.service }],
};
