/** Evaluates a step's expressions and templates, turning evaluation errors into message failures that name the step. */
import type { Expression } from '../expr/expression.js';
import type { Template } from '../expr/template.js';
import type { StepHeader } from '../steps/step.js';
import { MessageFailure, type Execution } from './execution.js';

export async function evaluate(expression: Expression, input: unknown, exec: Execution, step: StepHeader): Promise<unknown> {
  try {
    return await expression.evaluate(input, exec.bindings());
  } catch (error) {
    throw expressionFailure(error, step);
  }
}

export async function render(template: Template, exec: Execution, step: StepHeader): Promise<string> {
  if (template.literal !== undefined) return template.literal;
  try {
    return await template.render(exec.payload, exec.bindings());
  } catch (error) {
    throw expressionFailure(error, step);
  }
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
