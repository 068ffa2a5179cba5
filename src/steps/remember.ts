/**
 * remember: keeps a value under a key (the latest reading of a room, a device's metadata from a
 * retained config topic) for `lookup` steps of any service. The write takes effect when the
 * message is done; the last message done wins (docs/architecture.md, invariant 36).
 */
import { fieldRows, objectSchema } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { after } from '../util/maybe.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';
import { compileStateRef, namespaceField, STORE_FIELD, withStore, type StateRef } from './state-step.js';

export interface RememberStep extends StepData, StateRef {
  readonly kind: 'remember';
  readonly key: Expression;
  /** Undefined: the payload. */
  readonly value?: Expression;
  readonly ttlMs?: number;
}

interface RememberValue {
  namespace: string;
  key: string;
  value?: string;
  ttl?: number | string;
  store?: string;
}

const FIELDS = {
  namespace: namespaceField(false),
  key: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the key (text or a number).', examples: ['room'] }, type: 'JSONata expression', default: 'required', doc: 'The key (text or a number).' },
  value: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the value to keep (JSON data). Default: the payload.', examples: ['humidity'] }, type: 'JSONata expression', default: 'the payload', doc: 'The value to keep: JSON data of at most the store\'s `maxValueBytes`. Nothing (undefined) removes the key.' },
  ttl: { schema: durationSchema('How long the value is kept after its message was done. Default: until replaced (or evicted).', ['1h']), type: 'duration', default: 'until replaced', doc: 'How long the value is kept, from when its message was done.' },
  store: STORE_FIELD,
} as const;

export const remember: StepKind<RememberValue, RememberStep> = {
  kind: 'remember',
  stateful: true,
  description: 'Keep a value under a key in a store, for lookup steps of any service; it takes effect when the message is done.',
  schema: objectSchema('Keep a value under a key, for lookup steps.', FIELDS, ['namespace', 'key']),
  summary: { does: 'keeps a value under a key for `lookup` steps', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `services:
  keep-humidity:
    steps:
      - remember:
          namespace: room-humidity
          key: room
          value: humidity
          ttl: 1h
`,
  compile(value, header, path, compiler) {
    const key = compiler.expression(value.key, [...path, 'key']);
    const v = value.value === undefined ? undefined : compiler.expression(value.value, [...path, 'value']);
    if (key === undefined || (value.value !== undefined && v === undefined)) return undefined;
    return {
      kind: 'remember',
      ...header,
      ...compileStateRef(value, header, path, compiler),
      key,
      ...(v === undefined ? {} : { value: v }),
      ...(value.ttl === undefined ? {} : { ttlMs: durationMs(value.ttl) }),
    };
  },
  run(step, exec) {
    return after(evaluate(step.key, exec.payload, exec, step), (id) =>
      after(step.value === undefined ? exec.payload : evaluate(step.value, exec.payload, exec, step), (value) =>
        withStore(step, exec, (state, store) => {
          state.write(store, store.key(step.namespace, id), value, step.ttlMs);
          return CONTINUE;
        }),
      ),
    );
  },
};
