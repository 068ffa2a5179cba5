/** log: writes a line to the runtime's log, with the trigger and topic of the message. */
import { render } from '../pipeline/evaluate.js';
import type { Template } from '../expr/template.js';
import type { StepHeader, StepKind } from './step.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogStep extends StepHeader {
  readonly kind: 'log';
  readonly level: LogLevel;
  readonly message: Template;
}

type LogValue = string | { level?: LogLevel; message: string };

export const log: StepKind<LogValue, LogStep> = {
  kind: 'log',
  description: 'Write a log line; the payload is unchanged.',
  schema: {
    description: 'A message template, or { level, message }. The message is text with optional {{ JSONata }} parts.',
    anyOf: [
      { type: 'string', minLength: 1 },
      {
        type: 'object',
        required: ['message'],
        additionalProperties: false,
        properties: {
          level: { enum: ['trace', 'debug', 'info', 'warn', 'error'], description: 'Log level. Default: info.' },
          message: { type: 'string', minLength: 1, description: 'Text with optional {{ JSONata }} parts.' },
        },
      },
    ],
    examples: ['reading from {{ device }}: {{ celsius }} °C', { level: 'warn', message: 'over threshold: {{ celsius }}' }],
  },
  compile(value, header, path, compiler) {
    const text = typeof value === 'string' ? value : value.message;
    const message = compiler.template(text, typeof value === 'string' ? path : [...path, 'message']);
    const level = typeof value === 'string' ? 'info' : (value.level ?? 'info');
    return message && { kind: 'log', ...header, level, message };
  },
  async run(step, exec, effects) {
    effects.log(step.level, await render(step.message, exec, step), exec, step.path);
    return 'continue';
  },
};
