/** choice: runs the steps of the first branch whose condition is true, or the `otherwise` steps. */
import { evaluate } from '../pipeline/evaluate.js';
import { jsonataBoolean, type Execution } from '../pipeline/execution.js';
import { formatPath } from '../flow/path.js';
import type { Expression } from '../expr/expression.js';
import type { Step, StepHeader, StepKind } from './step.js';

export interface ChoiceStep extends StepHeader {
  readonly kind: 'choice';
  readonly branches: readonly { readonly when: Expression; readonly steps: readonly Step[] }[];
  /** Steps when no branch matched; undefined means carry on with the next step. */
  readonly otherwise?: readonly Step[];
}

type Branch = { when?: string; steps?: unknown[]; otherwise?: unknown[] };

export const choice: StepKind<Branch[], ChoiceStep> = {
  kind: 'choice',
  description: 'Run the steps of the first branch whose condition holds; a final otherwise branch runs when none does.',
  schema: {
    type: 'array',
    minItems: 1,
    description: 'Branches tried in order: { when: <JSONata condition>, steps: [...] }, and optionally a last { otherwise: [...] }.',
    items: {
      type: 'object',
      additionalProperties: false,
      properties: {
        when: { type: 'string', minLength: 1, description: 'A JSONata condition.' },
        steps: { $ref: '#/definitions/steps', description: 'Steps to run when the condition holds.' },
        otherwise: { $ref: '#/definitions/steps', description: 'Steps to run when no condition held (last branch only).' },
      },
    },
    examples: [[{ when: 'celsius > 80', steps: [{ publish: { topic: 'alerts/hot' } }] }, { otherwise: [{ log: 'normal' }] }]],
  },
  compile(value, header, path, compiler) {
    const branches: { when: Expression; steps: readonly Step[] }[] = [];
    let otherwise: readonly Step[] | undefined;
    let ok = true;
    value.forEach((branch, i) => {
      const at = [...path, i];
      if (compiler.broken(at)) {
        ok = false;
        return;
      }
      if (branch.otherwise !== undefined) {
        if (branch.when !== undefined || branch.steps !== undefined) {
          compiler.problem(at, 'MQFLOW_CHOICE_BRANCH', `${formatPath(at)}: an otherwise branch holds only "otherwise"`, 'move the condition into a branch of its own: { when: ..., steps: [...] }');
          ok = false;
        } else if (i !== value.length - 1) {
          compiler.problem(at, 'MQFLOW_CHOICE_BRANCH', `${formatPath(at)}: otherwise must be the last branch`, 'branches after it could never run; move it to the end');
          ok = false;
        } else {
          otherwise = compiler.steps(branch.otherwise, [...at, 'otherwise']);
        }
        return;
      }
      if (branch.when === undefined || branch.steps === undefined) {
        const missing = branch.when === undefined ? 'when' : 'steps';
        compiler.problem(at, 'MQFLOW_CHOICE_BRANCH', `${formatPath(at)} needs "${missing}": a branch is { when: <condition>, steps: [...] } or { otherwise: [...] }`);
        ok = false;
        return;
      }
      const when = compiler.expression(branch.when, [...at, 'when']);
      const steps = compiler.steps(branch.steps, [...at, 'steps']);
      if (when === undefined) ok = false;
      else branches.push({ when, steps });
    });
    return ok ? { kind: 'choice', ...header, branches, otherwise } : undefined;
  },
  async run(step, exec, _effects, runSteps) {
    const branch = await firstMatch(step, exec);
    const steps = branch === undefined ? step.otherwise : branch.steps;
    if (steps === undefined) return 'continue';
    // Variables set in a branch stay in it; the payload it leaves carries on after the choice.
    const inner = exec.child(exec.payload, {});
    const outcome = await runSteps(steps, inner);
    exec.payload = inner.payload;
    return outcome;
  },
};

async function firstMatch(step: ChoiceStep, exec: Execution): Promise<ChoiceStep['branches'][number] | undefined> {
  for (const branch of step.branches) {
    if (jsonataBoolean(await evaluate(branch.when, exec.payload, exec, step))) return branch;
  }
  return undefined;
}
