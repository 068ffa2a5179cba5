/**
 * What the stateful steps (dedupe, changed, throttle, remember, lookup) share: the `store` and
 * `namespace` fields, and turning state failures into the step's message failures
 * (docs/architecture.md, "State").
 */
import type { ComponentCompiler } from '../component/compiler.js';
import type { FieldSpec } from '../component/spec.js';
import { MessageFailure, type Execution } from '../pipeline/execution.js';
import type { StepHeader } from '../pipeline/step.js';
import type { MessageState } from '../state/message-state.js';
import type { OpenStore } from '../state/open-store.js';
import { StateError } from '../state/state-error.js';
import { DEFAULT_STORE } from '../stores/store-options.js';
import type { JsonSchema } from '../util/json-schema.js';
import type { Maybe } from '../util/maybe.js';
import type { ValuePath } from '../util/path.js';

/** Where a step keeps its state. */
export interface StateRef {
  readonly store: string;
  readonly namespace: string;
}

export const NAMESPACE_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.\\-\\[\\]/]{0,199}$';

export const STORE_FIELD: FieldSpec = {
  schema: { type: 'string', minLength: 1, description: `The store (under stores:) that keeps this step's state. Default: ${DEFAULT_STORE}, the in-process memory store.`, examples: ['seen'] },
  type: 'string',
  default: `\`${DEFAULT_STORE}\``,
  doc: `The store that keeps the state (\`stores:\`); \`${DEFAULT_STORE}\` is an in-process store every flow has.`,
};

export function namespaceField(own: boolean): FieldSpec {
  const schema: JsonSchema = {
    type: 'string',
    pattern: NAMESPACE_PATTERN,
    description: own
      ? 'The keys\' namespace in the store: steps that name the same namespace share keys. Default: the step\'s path (e.g. services.ingest.steps[1]).'
      : 'The keys\' namespace in the store; remember and lookup steps with the same namespace share keys.',
    examples: ['room-humidity'],
  };
  return own
    ? { schema, type: 'string', default: 'the step\'s path', doc: 'The namespace of its keys in the store, so steps never share keys by accident. By default the step\'s path (`services.ingest.steps[1]`), which changes when the step moves (`mqflow plan` says its state resets); name it to keep state across such edits.' }
    : { schema, type: 'string', default: 'required', doc: 'The namespace of its keys in the store: a `remember` and a `lookup` with the same store and namespace share keys.' };
}

/** The step's store and namespace; the store reference is checked once the folder is known. */
export function compileStateRef(value: { store?: string; namespace?: string }, header: StepHeader, path: ValuePath, compiler: ComponentCompiler): StateRef {
  const store = value.store ?? DEFAULT_STORE;
  if (value.store !== undefined && value.store !== DEFAULT_STORE) compiler.refer('store', value.store, [...path, 'store']);
  return { store, namespace: value.namespace ?? header.path };
}

/** The message's state; a host without stores (never in mqflow) is a bug worth a clear failure. */
export function messageState(exec: Execution, step: StepHeader): MessageState {
  const state = exec.state;
  if (state === undefined) throw new MessageFailure(`${step.path}: no state stores are open here`, 'MQFLOW_STATE_UNAVAILABLE', { path: step.path, at: step.at });
  return state;
}

/** Runs `body` with the step's open store and the store key of `key`; state failures become the step's. */
export function withStore<T>(step: StepHeader & StateRef, exec: Execution, body: (state: MessageState, store: OpenStore) => Maybe<T>): Maybe<T> {
  try {
    const state = messageState(exec, step);
    const result = body(state, state.store(step.store));
    return result instanceof Promise
      ? result.catch((error: unknown) => {
          throw stepFailure(error, step);
        })
      : result;
  } catch (error) {
    throw stepFailure(error, step);
  }
}

function stepFailure(error: unknown, step: StepHeader): unknown {
  if (!(error instanceof StateError)) return error;
  return new MessageFailure(`${step.path}: ${error.message}`, error.code, { path: step.path, at: step.at }, { cause: error, permanent: error.permanent });
}

