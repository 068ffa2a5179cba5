/** log: writes a line to the runtime's log, with the trigger and topic of the message. */
import type { Template } from '../expr/template.js';
import { render } from '../pipeline/evaluate.js';
import { after } from '../util/maybe.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogStep extends StepData {
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
  summary: { does: 'writes a log line', changesPayload: 'no' },
  table: {
    header: ['Value / field', 'Type', 'Default', 'Description'],
    rows: [
      ['(string)', 'template', '', 'The message, at level `info`.'],
      ['`message`', 'template', 'required', 'Text with optional `{{ JSONata }}` parts.'],
      ['`level`', '`trace`, `debug`, `info`, `warn`, `error`', '`info`', 'Log level.'],
    ],
  },
  example: `services:
  log-reading:
    steps:
      - log: "reading from {{ device }}: {{ celsius }} °C"
      - log:
          level: debug
          message: "full payload: {{ $ }}"
`,
  compile(value, header, path, compiler) {
    const text = typeof value === 'string' ? value : value.message;
    const message = compiler.template(text, typeof value === 'string' ? path : [...path, 'message']);
    const level = typeof value === 'string' ? 'info' : (value.level ?? 'info');
    return message && { kind: 'log', ...header, level, message };
  },
  run(step, exec, { effects }) {
    return after(render(step.message, exec, step), (text) => {
      effects.log(step.level, text, exec, step.path);
      return CONTINUE;
    });
  },
};
