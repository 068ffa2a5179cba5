/**
 * lookup: reads the value a `remember` step kept under a key into a variable (`$name`), for
 * enrichment and joins of topics without a database. It reads committed values (and its own
 * message's writes) without waiting (docs/architecture.md, invariant 36).
 */
import { fieldRows, objectSchema } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { MessageFailure } from '../pipeline/execution.js';
import { after } from '../util/maybe.js';
import { formatPath } from '../util/path.js';
import { CONTINUE, variableNameProblem, type StepData, type StepKind } from './kind.js';
import { compileStateRef, namespaceField, STORE_FIELD, withStore, type StateRef } from './state-step.js';

export interface LookupStep extends StepData, StateRef {
  readonly kind: 'lookup';
  readonly key: Expression;
  readonly as: string;
  readonly required: boolean;
}

interface LookupValue {
  namespace: string;
  key: string;
  as: string;
  required?: boolean;
  store?: string;
}


const FIELDS = {
  namespace: namespaceField(false),
  key: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the key (text or a number).', examples: ['room'] }, type: 'JSONata expression', default: 'required', doc: 'The key (text or a number).' },
  as: { schema: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'The variable later steps read the value as ($name).', examples: ['humidity'] }, type: 'string', default: 'required', doc: 'The variable later steps read the value as (`$name`); it is undefined when nothing is kept under the key.' },
  required: { schema: { type: 'boolean', description: 'Fail the message (MQFLOW_LOOKUP_MISSING, retried) when nothing is kept under the key. Default: false.' }, type: 'boolean', default: '`false`', doc: 'Fail the message (`MQFLOW_LOOKUP_MISSING`, retried per the trigger\'s `retry`, so a value that is about to arrive can) when nothing is kept under the key.' },
  store: STORE_FIELD,
} as const;

export const lookup: StepKind<LookupValue, LookupStep> = {
  kind: 'lookup',
  stateful: true,
  description: 'Read a value a remember step kept under a key into a variable ($name).',
  schema: objectSchema('Read a remembered value into a variable.', FIELDS, ['namespace', 'key', 'as']),
  summary: { does: 'reads a value a `remember` step kept into a variable (`$name`)', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `services:
  enrich-temperature:
    steps:
      - lookup:
          namespace: room-humidity
          key: room
          as: humidity
      - transform: '{ "room": room, "celsius": celsius, "humidity": $humidity }'
      - publish:
          topic: plant/climate/{{ room }}
`,
  compile(value, header, path, compiler) {
    const at = [...path, 'as'];
    const asProblem = variableNameProblem(value.as);
    if (asProblem !== undefined) {
      compiler.problem(at, 'MQFLOW_VARIABLE_NAME', `${formatPath(at)}: ${asProblem}`, 'choose another name');
      return undefined;
    }
    const key = compiler.expression(value.key, [...path, 'key']);
    if (key === undefined) return undefined;
    return { kind: 'lookup', ...header, ...compileStateRef(value, header, path, compiler), key, as: value.as, required: value.required ?? false };
  },
  run(step, exec) {
    return after(evaluate(step.key, exec.payload, exec, step), (id) =>
      withStore(step, exec, (state, store) =>
        after(state.read(store, store.key(step.namespace, id)), (value) => {
          if (value === undefined && step.required) {
            throw new MessageFailure(`${step.path}: nothing is kept under key ${JSON.stringify(String(id)).slice(0, 200)} of namespace "${step.namespace}"`, 'MQFLOW_LOOKUP_MISSING', { path: step.path, at: step.at });
          }
          exec.set(step.as, value);
          return CONTINUE;
        }),
      ),
    );
  },
};
