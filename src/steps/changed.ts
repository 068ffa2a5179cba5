/**
 * changed (report by exception, deadband): passes a message when its value differs from the last
 * value passed for its key by more than a band, or when the last pass is older than the heartbeat;
 * ends it otherwise. The last passed value moves only when a passing message is done, so a failed
 * message does not move it (docs/architecture.md, invariant 35).
 */
import { isDeepStrictEqual } from 'node:util';
import { fieldRows, objectSchema } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import type { Execution, Outcome } from '../pipeline/execution.js';
import type { MessageState } from '../state/message-state.js';
import type { OpenStore } from '../state/open-store.js';
import { StateError } from '../state/state-error.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { after, type Maybe } from '../util/maybe.js';
import { CONTINUE, STOP, type StepData, type StepKind } from './kind.js';
import { compileStateRef, namespaceField, STORE_FIELD, withStore, type StateRef } from './state-step.js';

/** A band: an absolute difference, or a percentage of the last passed value. */
export type Deadband = { readonly absolute: number } | { readonly percent: number };

export interface ChangedStep extends StepData, StateRef {
  readonly kind: 'changed';
  /** Undefined: the payload. */
  readonly value?: Expression;
  /** Undefined: `$topic`. */
  readonly key?: Expression;
  readonly deadband: Deadband;
  readonly heartbeatMs?: number;
}

interface ChangedValue {
  value?: string;
  key?: string;
  deadband?: number | string;
  heartbeat?: number | string;
  store?: string;
  namespace?: string;
}

/** What is kept per key: the last value passed and when (state clock, ms). */
interface Last {
  readonly v: unknown;
  readonly t: number;
}

export const PERCENT_PATTERN = '^\\s*(\\d+(?:\\.\\d+)?)\\s*%\\s*$';
const PERCENT = new RegExp(PERCENT_PATTERN);

const FIELDS = {
  value: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the value to compare. Default: the payload.', examples: ['temperature'] }, type: 'JSONata expression', default: 'the payload', doc: 'The value compared with the last one passed. Numbers are compared with the deadband; anything else passes when it is not equal (deeply) to the last.' },
  key: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the key: each key has its own last value. Default: $topic.', examples: ['device'] }, type: 'JSONata expression', default: '`$topic`', doc: 'Each key has its own last value (text or a number).' },
  deadband: {
    schema: { anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: PERCENT_PATTERN }], description: 'A number passes when it differs from the last passed by more than this; "5%": by more than 5 % of the last passed. Default: 0 (any change).', examples: [0.5, '2%'] },
    type: 'number or `"N%"`',
    default: '`0`',
    doc: 'A number passes when it differs from the last passed value by **more** than this (absolute), or by more than this percentage of the last passed value (`"2%"`; when the last was 0, any change passes). `0`: any change.',
  },
  heartbeat: { schema: durationSchema('Pass anyway when the last pass for the key is at least this old. Default: none.', ['5m']), type: 'duration', default: 'none', doc: 'Pass a message anyway when the last pass for its key is at least this old, so a steady value is still reported now and then.' },
  store: STORE_FIELD,
  namespace: namespaceField(true),
} as const;

export const changed: StepKind<ChangedValue, ChangedStep> = {
  kind: 'changed',
  stateful: true,
  description: 'Report by exception: pass a message when its value changed beyond a deadband since the last one passed for its key (or a heartbeat is due); end it otherwise.',
  schema: objectSchema('Pass a message only when its value changed (beyond a deadband), or a heartbeat is due.', FIELDS),
  summary: { does: 'ends a message whose value did not change beyond a deadband (report by exception)', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `services:
  report-by-exception:
    steps:
      - changed:
          value: temperature
          key: device
          deadband: 0.5
          heartbeat: 5m
      - publish:
          topic: plant/temperature/{{ device }}
`,
  compile(value, header, path, compiler) {
    const v = value.value === undefined ? undefined : compiler.expression(value.value, [...path, 'value']);
    const key = value.key === undefined ? undefined : compiler.expression(value.key, [...path, 'key']);
    if ((value.value !== undefined && v === undefined) || (value.key !== undefined && key === undefined)) return undefined;
    let deadband: Deadband = { absolute: 0 };
    if (typeof value.deadband === 'number') deadband = { absolute: value.deadband };
    else if (typeof value.deadband === 'string') {
      // The schema's pattern is PERCENT: a string that passed it matches.
      const percent = PERCENT.exec(value.deadband);
      if (percent === null) return undefined;
      deadband = { percent: parseFloat(percent[1]!) };
    }
    return {
      kind: 'changed',
      ...header,
      ...compileStateRef(value, header, path, compiler),
      ...(v === undefined ? {} : { value: v }),
      ...(key === undefined ? {} : { key }),
      deadband,
      ...(value.heartbeat === undefined ? {} : { heartbeatMs: durationMs(value.heartbeat) }),
    };
  },
  run(step, exec) {
    const value = step.value === undefined ? exec.payload : evaluate(step.value, exec.payload, exec, step);
    return after(value, (v) => after(step.key === undefined ? exec.message.topic : evaluate(step.key, exec.payload, exec, step), (k) => withStore(step, exec, (state, store) => decide(step, exec, state, store, k, v))));
  },
};

function decide(step: ChangedStep, exec: Execution, state: MessageState, store: OpenStore, id: unknown, value: unknown): Maybe<Outcome> {
  if (value === undefined) throw new StateError('the value to compare is missing', 'MQFLOW_STATE_VALUE');
  const key = store.key(step.namespace, id);
  return after(state.hold(store, key), () =>
    after(state.read(store, key), (stored) => {
      const now = state.clock.now();
      const last = stored as Last | undefined;
      if (last !== undefined && !passes(step, last, value, now)) return STOP;
      state.write(store, key, { v: value, t: now } satisfies Last, undefined);
      return CONTINUE;
    }),
  );
}

/** Whether `value` is reported, given the last value reported. */
export function passes(step: Pick<ChangedStep, 'deadband' | 'heartbeatMs'>, last: Last, value: unknown, now: number): boolean {
  if (step.heartbeatMs !== undefined && now - last.t >= step.heartbeatMs) return true;
  if (typeof value === 'number' && typeof last.v === 'number') {
    const delta = Math.abs(value - last.v);
    const band = 'absolute' in step.deadband ? step.deadband.absolute : (Math.abs(last.v) * step.deadband.percent) / 100;
    return delta > band;
  }
  return !isDeepStrictEqual(value, last.v);
}
