/**
 * dedupe: passes the first message with a key within a window and ends the others (successfully).
 * The key is recorded when the message is done, so a message that failed or crashed the process
 * is not a duplicate of itself when it comes again (docs/architecture.md, invariants 35-38).
 */
import { fieldRows, objectSchema } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { durationMs, durationSchema } from '../util/duration.js';
import type { Outcome } from '../pipeline/execution.js';
import type { MessageState } from '../state/message-state.js';
import type { OpenStore } from '../state/open-store.js';
import { after, type Maybe } from '../util/maybe.js';
import { CONTINUE, STOP, type StepData, type StepKind } from './kind.js';
import { compileStateRef, namespaceField, STORE_FIELD, withStore, type StateRef } from './state-step.js';

export interface DedupeStep extends StepData, StateRef {
  readonly kind: 'dedupe';
  readonly key: Expression;
  readonly windowMs: number;
}

interface DedupeValue {
  key: string;
  window?: number | string;
  store?: string;
  namespace?: string;
}

const FIELDS = {
  key: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the message\'s id (text or a number).', examples: ['messageId', '$message.properties.correlationData'] }, type: 'JSONata expression', default: 'required', doc: 'The message\'s id: text or a number. A message whose key is missing fails (`MQFLOW_STATE_VALUE`).' },
  window: { schema: durationSchema('How long an id is remembered after its message was done. Default: 10m.', ['10m', '24h']), type: 'duration', default: '`10m`', doc: 'How long an id is remembered, from when its first message was done.' },
  store: STORE_FIELD,
  namespace: namespaceField(true),
} as const;

export const dedupe: StepKind<DedupeValue, DedupeStep> = {
  kind: 'dedupe',
  stateful: true,
  description: 'Pass only the first message with a key within a window; later ones end (successfully, acknowledged, nothing published).',
  schema: objectSchema('Pass the first message with a key within a window; end the duplicates.', FIELDS, ['key']),
  summary: { does: 'ends a message whose key was seen within a window', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `services:
  once-per-reading:
    steps:
      - dedupe:
          key: readingId
          window: 1h
      - publish:
          topic: plant/readings
`,
  compile(value, header, path, compiler) {
    const key = compiler.expression(value.key, [...path, 'key']);
    if (key === undefined) return undefined;
    return { kind: 'dedupe', ...header, ...compileStateRef(value, header, path, compiler), key, windowMs: value.window === undefined ? 600_000 : durationMs(value.window) };
  },
  run(step, exec) {
    return after(evaluate(step.key, exec.payload, exec, step), (id) => withStore(step, exec, (state, store) => decide(step, state, store, store.key(step.namespace, id))));
  },
};

/** Written without closures on the path where nothing waits (the memory and disk stores, a free key). */
function decide(step: DedupeStep, state: MessageState, store: OpenStore, key: string): Maybe<Outcome> {
  const held = state.hold(store, key);
  if (held !== undefined) return held.then(() => decide(step, state, store, key));
  // A shared store claims the key across replicas; a local one is decided by the key lock.
  if (store.store.shared) {
    return state.claim(store, key).then((claim) => (claim === 'present' ? STOP : record(step, state, store, key)));
  }
  const seen = state.read(store, key);
  if (seen instanceof Promise) return seen.then((s) => (s !== undefined ? STOP : record(step, state, store, key)));
  return seen !== undefined ? STOP : record(step, state, store, key);
}

function record(step: DedupeStep, state: MessageState, store: OpenStore, key: string): Outcome {
  state.write(store, key, 1, step.windowMs);
  return CONTINUE;
}
