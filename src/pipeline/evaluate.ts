/** Evaluates a step's expressions and templates, turning evaluation errors into message failures that name the step. */
import type { Expression } from '../expr/expression.js';
import type { Template } from '../expr/template.js';
import { MessageFailure, type Execution } from './execution.js';
import type { Maybe } from '../util/maybe.js';
import type { StepHeader } from './step.js';

/** The expression's value now (a compiled expression), or a Promise of it (jsonata's evaluator). */
export function evaluate(expression: Expression, input: unknown, exec: Execution, step: StepHeader): Maybe<unknown> {
  let value: unknown;
  try {
    value = expression.run(input, expression.readsVariables === false ? undefined : exec.bindings());
  } catch (error) {
    throw expressionFailure(error, step);
  }
  return value instanceof Promise ? value.catch((error: unknown) => Promise.reject(expressionFailure(error, step))) : value;
}

export function render(template: Template, exec: Execution, step: StepHeader): Maybe<string> {
  if (template.literal !== undefined) return template.literal;
  let text: Maybe<string>;
  try {
    text = template.run(exec.payload, template.readsVariables ? exec.bindings() : undefined);
  } catch (error) {
    throw expressionFailure(error, step);
  }
  return text instanceof Promise ? text.catch((error: unknown) => Promise.reject(expressionFailure(error, step))) : text;
}

function expressionFailure(error: unknown, step: StepHeader): MessageFailure {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'MQFLOW_EXPRESSION';
  const text = typeof e.message === 'string' ? e.message : String(error);
  return new MessageFailure(`${step.path}: JSONata error ${code}: ${text}`, code, { path: step.path, at: step.at }, { cause: error });
}

/**
 * The bytes a payload is published as: text as UTF-8, bytes as they are, a JSON object or array
 * passed on unchanged (the very value decoded: expressions never modify their input) as the bytes
 * received, which spares a JSON.stringify and keeps the sender's exact text; anything else as JSON.
 */
export function encodePayload(value: unknown, step: StepHeader, exec: Execution): Buffer | string {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  if (exec.receivedBytes !== undefined && value === exec.message.payload && typeof value === 'object' && value !== null) return exec.receivedBytes;
  if (value === undefined) {
    throw new MessageFailure(`${step.path}: the payload to publish evaluated to nothing`, 'MQFLOW_PUBLISH_EMPTY', { path: step.path, at: step.at });
  }
  return JSON.stringify(value);
}
