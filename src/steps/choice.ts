/** choice: runs the steps of the first branch whose condition is true, or the `otherwise` steps. */
import type { Expression } from '../expr/expression.js';
import { evaluate } from '../pipeline/evaluate.js';
import { jsonataBoolean, type Execution, type Outcome } from '../pipeline/execution.js';
import { after, type Maybe } from '../util/maybe.js';
import type { Step, StepRuntime } from '../pipeline/step.js';
import { formatPath } from '../util/path.js';
import { CONTINUE, type StepData, type StepKind, type StepUse } from './kind.js';

export interface ChoiceStep extends StepData {
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
  summary: { does: 'runs the steps of the first branch whose condition holds', changesPayload: 'through its steps' },
  table: {
    header: ['Value', 'Description'],
    rows: [['list', 'Branches tried in order: `{ when: <JSONata condition>, steps: [...] }`, and optionally a last `{ otherwise: [...] }`.']],
  },
  example: `services:
  thresholds:
    steps:
      - choice:
          - when: celsius >= 90
            steps:
              - publish:
                  topic: plant/alerts/critical
                  retain: true
          - when: celsius >= 70
            steps:
              - publish:
                  topic: plant/alerts/warning
          - otherwise:
              - log:
                  level: debug
                  message: "{{ device }} is at {{ celsius }} °C"
      - publish:
          topic: plant/checked
`,
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
  run(step, exec, runtime) {
    return after(firstMatch(step, exec, 0), (branch) => {
      const steps = branch === undefined ? step.otherwise : branch.steps;
      if (steps === undefined) return CONTINUE;
      return runBranch(steps, exec, runtime);
    });
  },
  uses(step) {
    const uses: StepUse[] = step.branches.map((b) => ({ kind: 'nested', label: 'when', expression: b.when.source, steps: b.steps }));
    if (step.otherwise !== undefined) uses.push({ kind: 'nested', label: 'otherwise', steps: step.otherwise });
    return uses;
  },
};

function firstMatch(step: ChoiceStep, exec: Execution, first: number): Maybe<ChoiceStep['branches'][number] | undefined> {
  for (let i = first; i < step.branches.length; i++) {
    const branch = step.branches[i]!;
    const value = evaluate(branch.when, exec.payload, exec, step);
    if (value instanceof Promise) return value.then((v) => (jsonataBoolean(v) ? branch : firstMatch(step, exec, i + 1)));
    if (jsonataBoolean(value)) return branch;
  }
  return undefined;
}

/** Variables set in a branch stay in it; the payload it leaves carries on after the choice. */
function runBranch(steps: readonly Step[], exec: Execution, runtime: StepRuntime): Maybe<Outcome> {
  const inner = exec.child(exec.payload, undefined);
  return after(runtime.runSteps(steps, inner), (outcome) => {
    exec.payload = inner.payload;
    return outcome;
  });
}
