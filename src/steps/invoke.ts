/** invoke: runs another service with the current payload (or an expression's result); its result becomes the payload. */
import { evaluate } from '../pipeline/evaluate.js';
import type { Expression } from '../expr/expression.js';
import type { StepHeader, StepKind } from './step.js';

export interface InvokeStep extends StepHeader {
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
  compile(value, header, path, compiler) {
    const service = typeof value === 'string' ? value : value.service;
    compiler.refer('service', service, typeof value === 'string' ? path : [...path, 'service']);
    if (typeof value === 'string' || value.payload === undefined) return { kind: 'invoke', ...header, service };
    const payload = compiler.expression(value.payload, [...path, 'payload']);
    return payload && { kind: 'invoke', ...header, service, payload };
  },
  async run(step, exec, effects) {
    const payload = step.payload === undefined ? exec.payload : await evaluate(step.payload, exec.payload, exec, step);
    const result = await effects.invoke(step.service, payload, exec);
    if (result.outcome === 'stop') return 'stop';
    exec.payload = result.payload;
    return 'continue';
  },
};
