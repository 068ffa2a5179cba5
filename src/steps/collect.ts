/**
 * collect: adds a value to a window (`windows:`). The message is acknowledged only once every
 * window it went into has closed and its output was acknowledged (docs/architecture.md,
 * invariant 41): on the memory store an open window is held by the broker's redelivery.
 */
import { fieldRows, objectSchema } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { after } from '../util/maybe.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';

export interface CollectStep extends StepData {
  readonly kind: 'collect';
  readonly window: string;
  /** Undefined: the payload. */
  readonly value?: Expression;
}

type CollectValue = string | { window: string; value?: string };

const FIELDS = {
  window: { schema: { type: 'string', minLength: 1, description: 'The window (under windows:) to add to.', examples: ['room-climate'] }, type: 'string', default: 'required', doc: 'The window (under `windows:`) to add to. `collect: <name>` is short for `collect: { window: <name> }`.' },
  value: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the value to add. Default: the payload.', examples: ['{ "room": $wildcards[0], "celsius": celsius }'] }, type: 'JSONata expression', default: 'the payload', doc: 'The value the window gets: its `key` and `aggregate` expressions read it.' },
} as const;

export const collect: StepKind<CollectValue, CollectStep> = {
  kind: 'collect',
  description: 'Add a value to a window; the message is acknowledged once the window has closed and its output was acknowledged.',
  schema: {
    anyOf: [{ type: 'string', minLength: 1, description: 'The window to add the payload to.' }, objectSchema('Add a value to a window.', FIELDS, ['window'])],
  },
  summary: { does: 'adds a value to a window (`windows:`)', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `windows:
  room-readings:
    key: room
    tumbling: 1m
    steps:
      - publish:
          connection: plant
          topic: plant/rooms/{{ key }}/minutely
services:
  temperature-into-room:
    steps:
      - collect:
          window: room-readings
          value: '{ "room": $wildcards[0], "celsius": celsius }'
  humidity-into-room:
    steps:
      - collect:
          window: room-readings
          value: '{ "room": $wildcards[0], "humidity": percent }'
`,
  compile(raw, header, path, compiler) {
    const value = typeof raw === 'string' ? { window: raw } : raw;
    compiler.refer('window', value.window, typeof raw === 'string' ? path : [...path, 'window']);
    const expression = value.value === undefined ? undefined : compiler.expression(value.value, [...path, 'value']);
    if (value.value !== undefined && expression === undefined) return undefined;
    return { kind: 'collect', ...header, window: value.window, ...(expression === undefined ? {} : { value: expression }) };
  },
  run(step, exec, runtime) {
    return after(step.value === undefined ? exec.payload : evaluate(step.value, exec.payload, exec, step), (value) => after(runtime.effects.collect(step.window, value, exec, step), () => CONTINUE));
  },
};
