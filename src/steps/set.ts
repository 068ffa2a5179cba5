/** set: binds named variables, available to every later expression as `$name`. */
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import type { Execution, Outcome } from '../pipeline/execution.js';
import type { Maybe } from '../util/maybe.js';
import { formatPath } from '../util/path.js';
import { CONTEXT_BINDINGS, CONTINUE, JSONATA_FUNCTIONS, type StepData, type StepKind } from './kind.js';

export interface SetStep extends StepData {
  readonly kind: 'set';
  readonly variables: readonly { readonly name: string; readonly expression: Expression }[];
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const set: StepKind<Record<string, string>, SetStep> = {
  kind: 'set',
  description: 'Bind variables from JSONata expressions; later steps read them as $name. The payload is unchanged.',
  schema: {
    type: 'object',
    minProperties: 1,
    description: 'Variable name → JSONata expression evaluated against the current payload.',
    additionalProperties: { type: 'string', minLength: 1, description: 'A JSONata expression.' },
    examples: [{ site: '$wildcards[0]', threshold: '80' }],
  },
  summary: { does: 'binds variables (`$name`) for later steps', changesPayload: 'no' },
  table: { header: ['Value', 'Description'], rows: [['map', 'Variable name → JSONata expression, evaluated against the current payload. At least one entry.']] },
  example: `services:
  with-variables:
    steps:
      - set:
          site: $wildcards[0]
          threshold: "80"
          gateway: gateway
      - filter: celsius > $threshold
      - publish:
          topic: plant/{{ $site }}/alerts
          payload: '{ "gateway": $gateway, "celsius": celsius, "threshold": $threshold }'
`,
  compile(value, header, path, compiler) {
    const variables: { name: string; expression: Expression }[] = [];
    let ok = true;
    for (const [name, source] of Object.entries(value)) {
      const at = [...path, name];
      if (!VARIABLE_NAME.test(name)) {
        compiler.problem(at, 'MQFLOW_VARIABLE_NAME', `${formatPath(at)}: variable name "${name}" must start with a letter or _ and hold only letters, digits and _`);
        ok = false;
        continue;
      }
      if (CONTEXT_BINDINGS.includes(name) || JSONATA_FUNCTIONS.includes(name)) {
        const what = CONTEXT_BINDINGS.includes(name) ? 'a message context variable' : 'a JSONata function';
        compiler.problem(at, 'MQFLOW_VARIABLE_NAME', `${formatPath(at)}: variable name "${name}" would hide $${name}, ${what}`, 'choose another name');
        ok = false;
        continue;
      }
      const expression = compiler.expression(source, at);
      if (expression === undefined) ok = false;
      else variables.push({ name, expression });
    }
    return ok ? { kind: 'set', ...header, variables } : undefined;
  },
  run(step, exec) {
    return setFrom(step, exec, 0);
  },
};

/** In order: a variable may use the ones set before it. */
function setFrom(step: SetStep, exec: Execution, first: number): Maybe<Outcome> {
  for (let i = first; i < step.variables.length; i++) {
    const v = step.variables[i]!;
    const value = evaluate(v.expression, exec.payload, exec, step);
    if (value instanceof Promise) {
      return value.then((resolved) => {
        exec.set(v.name, resolved);
        return setFrom(step, exec, i + 1);
      });
    }
    exec.set(v.name, value);
  }
  return CONTINUE;
}
