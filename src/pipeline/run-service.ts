/**
 * pipeline: runs a service's steps for one message. A Pipeline belongs to one version of the flow
 * model, so a message finishes on the version it started with, invoked services included.
 */
import type { Service } from '../flow/model.js';
import { STEP_KINDS } from '../steps/kinds.js';
import type { Step, StepHeader, StepKind } from '../steps/step.js';
import { MessageFailure, type Effects, type Execution, type Outcome, type ServiceResult } from './execution.js';

type Runner = StepKind<unknown, StepHeader>['run'];
const RUNNERS = new Map<string, Runner>(STEP_KINDS.map((k) => [k.kind, k.run.bind(k)]));

export class Pipeline {
  constructor(
    readonly services: ReadonlyMap<string, Service>,
    private readonly effects: Effects,
  ) {}

  async run(service: Service, exec: Execution): Promise<ServiceResult> {
    if (service.input !== undefined) {
      const problems = service.input.check(exec.payload);
      if (problems.length > 0) {
        throw new MessageFailure(`services.${service.name}.input: the payload does not match the schema: ${problems.join('; ')}`, 'MQFLOW_INPUT', {
          path: `services.${service.name}.input`,
          at: service.at,
        });
      }
    }
    const outcome = await this.runSteps(service.steps, exec);
    return { outcome, payload: exec.payload };
  }

  readonly runSteps = async (steps: readonly Step[], exec: Execution): Promise<Outcome> => {
    for (const step of steps) {
      if ((await RUNNERS.get(step.kind)!(step, exec, this.effects, this.runSteps)) === 'stop') return 'stop';
    }
    return 'continue';
  };

  /** Runs the service named `name` (an invoke step): same message, own variables. */
  async invoke(name: string, payload: unknown, from: Execution): Promise<ServiceResult> {
    const service = this.services.get(name);
    if (service === undefined) throw new MessageFailure(`no service named "${name}"`, 'MQFLOW_UNKNOWN_SERVICE');
    return this.run(service, from.invoked(payload));
  }
}
