/**
 * pipeline: runs a service's steps for one message. A Pipeline belongs to one version of the flow
 * model, so a message finishes on the version it started with, invoked services included.
 */
import type { Service } from '../flow/model.js';
import { STEP_KINDS } from '../steps/kinds.js';
import type { Step, StepHeader, StepKind } from '../steps/step.js';
import { MessageFailure, type Effects, type Execution, type Outcome, type PublishRequest, type ServiceResult } from './execution.js';

type Runner = StepKind<unknown, StepHeader>['run'];
const RUNNERS = new Map<string, Runner>(STEP_KINDS.map((k) => [k.kind, k.run.bind(k)]));

export class Pipeline {
  /** Messages delivered under this version and not yet done (queued or running). */
  #held = 0;
  #idle: (() => void)[] = [];

  constructor(
    readonly services: ReadonlyMap<string, Service>,
    private readonly effects: Effects,
    /** Publishes through this version's connections (error routes use it directly). */
    readonly publish: (request: PublishRequest, triggerConnection: string) => Promise<void>,
  ) {}

  /** A message was delivered under this version. */
  hold(): void {
    this.#held++;
  }

  /** A message held under this version is done. */
  release(): void {
    this.#held--;
    if (this.#held === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  get held(): number {
    return this.#held;
  }

  /** Resolves true when no message of this version is left, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#held === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

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
