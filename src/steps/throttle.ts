/**
 * throttle: at most `limit` messages per `per` for each key (a burst of `limit`, then one every
 * per/limit: the generic cell rate algorithm, which keeps one time per key). A message over the
 * rate is dropped (ended successfully), waits for its turn, or — `latest` — waits while newer
 * messages of its key replace it, so the last one of each interval passes at its end.
 */
import { fieldRows, objectSchema } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import type { Execution, Outcome } from '../pipeline/execution.js';
import type { MessageState } from '../state/message-state.js';
import type { OpenStore } from '../state/open-store.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { after, type Maybe } from '../util/maybe.js';
import { CONTINUE, STOP, type StepData, type StepKind } from './kind.js';
import { compileStateRef, namespaceField, STORE_FIELD, withStore, type StateRef } from './state-step.js';

export const THROTTLE_MODES = ['drop', 'wait', 'latest'] as const;
export type ThrottleMode = (typeof THROTTLE_MODES)[number];

export interface ThrottleStep extends StepData, StateRef {
  readonly kind: 'throttle';
  readonly limit: number;
  readonly perMs: number;
  /** Undefined: one rate for every message of the step. */
  readonly key?: Expression;
  readonly mode: ThrottleMode;
}

interface ThrottleValue {
  limit: number;
  per?: number | string;
  key?: string;
  mode?: ThrottleMode;
  store?: string;
  namespace?: string;
}

const FIELDS = {
  limit: { schema: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'How many messages may pass per interval (also the largest burst).', examples: [10] }, type: 'integer', default: 'required', doc: 'How many messages of a key may pass per `per`; up to `limit` may pass at once, then one every `per`/`limit`.' },
  per: { schema: durationSchema('The interval. Default: 1s.', ['1s', '1m']), type: 'duration', default: '`1s`', doc: 'The interval.' },
  key: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression: each key has its own rate. Default: one rate for all messages of the step.', examples: ['$topic', 'device'] }, type: 'JSONata expression', default: 'one rate for the step', doc: 'Each key (text or a number) has its own rate.' },
  mode: {
    schema: { enum: [...THROTTLE_MODES], description: 'drop: end a message over the rate; wait: delay it until its turn; latest: keep only the newest waiting message of a key and pass it when the rate allows. Default: drop.' },
    type: '`drop`, `wait`, `latest`',
    default: '`drop`',
    doc: '`drop`: a message over the rate ends (successfully; nothing published). `wait`: it waits for its turn, holding its trigger\'s place (a serial trigger waits with it). `latest`: it waits for its turn without holding up its trigger; a newer message of its key replaces it (the older one ends), so the newest of each interval passes when the rate allows.',
  },
  store: STORE_FIELD,
  namespace: namespaceField(true),
} as const;

export const throttle: StepKind<ThrottleValue, ThrottleStep> = {
  kind: 'throttle',
  stateful: true,
  description: 'Rate-limit messages per key: drop those over the rate, make them wait, or keep only the latest and pass it when the rate allows.',
  schema: objectSchema('At most limit messages per interval for each key.', FIELDS, ['limit']),
  summary: { does: 'limits the rate of messages per key: drops, delays, or keeps the latest', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `services:
  at-most-one-per-second:
    steps:
      - throttle:
          limit: 1
          per: 1s
          key: device
          mode: latest
      - publish:
          topic: dashboard/{{ device }}
`,
  compile(value, header, path, compiler) {
    const key = value.key === undefined ? undefined : compiler.expression(value.key, [...path, 'key']);
    if (value.key !== undefined && key === undefined) return undefined;
    return {
      kind: 'throttle',
      ...header,
      ...compileStateRef(value, header, path, compiler),
      limit: value.limit,
      perMs: Math.max(1, value.per === undefined ? 1000 : durationMs(value.per)),
      ...(key === undefined ? {} : { key }),
      mode: value.mode ?? 'drop',
    };
  },
  run(step, exec) {
    return after(step.key === undefined ? '*' : evaluate(step.key, exec.payload, exec, step), (id) => withStore(step, exec, (state, store) => admit(step, exec, state, store, store.key(step.namespace, id))));
  },
};

/** The time per key (ms): the earliest a message may pass is this minus the burst tolerance. */
function admit(step: ThrottleStep, exec: Execution, state: MessageState, store: OpenStore, key: string): Maybe<Outcome> {
  const emission = step.perMs / step.limit;
  const tolerance = step.perMs - emission;
  return after(state.hold(store, key), () =>
    after(state.read(store, key), (stored) => {
      const now = state.clock.now();
      const tat = Math.max(typeof stored === 'number' ? stored : now, now);
      const allowedAt = tat - tolerance;
      const pass = (): Outcome => {
        // Kept until the rate no longer depends on it.
        state.write(store, key, tat + emission, Math.ceil(tat + emission - now) + 1);
        return CONTINUE;
      };
      if (now >= allowedAt) return pass();
      if (step.mode === 'drop') return STOP;
      if (step.mode === 'wait') return state.clock.sleep(allowedAt - now).then(pass);
      return waitForLatest(step, exec, state, store, key, allowedAt - now);
    }),
  );
}

/** `latest`: lets the key go, waits for its turn (unless a newer message replaces this one), then tries again. */
function waitForLatest(step: ThrottleStep, exec: Execution, state: MessageState, store: OpenStore, key: string, delayMs: number): Promise<Outcome> {
  state.release(store, key);
  store.waiting.get(key)?.();
  exec.outputs.stepsDetached?.();
  return new Promise<Outcome>((resolve) => {
    let replaced = false;
    const replace = (): void => {
      replaced = true;
      resolve(STOP);
    };
    store.waiting.set(key, replace);
    void state.clock.sleep(delayMs).then(() => {
      if (replaced) return;
      store.waiting.delete(key);
      resolve(admit(step, exec, state, store, key));
    });
  });
}
