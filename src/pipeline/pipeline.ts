/**
 * pipeline: runs a service's steps for one message. It stays synchronous until a step returns a
 * Promise (docs/architecture.md, invariant 27), then continues once that settles.
 */
import type { SourcePosition } from '../util/position.js';
import { MessageFailure, type Effects, type Execution, type Outcome, type ServiceResult } from './execution.js';
import type { Maybe } from '../util/maybe.js';
import type { PayloadSchema } from './payload-schema.js';
import type { Step, StepRuntime } from './step.js';

/** What the pipeline needs of a service: its steps and the schema its input must meet. */
export interface ServiceDefinition {
  readonly name: string;
  readonly at: SourcePosition;
  readonly input?: PayloadSchema;
  readonly steps: readonly Step[];
}

/**
 * Where steps report while someone watches (`mqflow tap`, docs/architecture.md invariant 57):
 * `active` is the one check the loop makes; a step of a traced message is timed and reported.
 */
export interface StepTap {
  readonly active: boolean;
  /** Is the message whose outputs go to `key` traced. */
  traced(key: object): boolean;
  step(key: object, step: Step, outcome: 'continue' | 'stop' | 'failed', ms: number): void;
}

const NO_TAP: StepTap = { active: false, traced: () => false, step: () => {} };

export class Pipeline implements StepRuntime {
  constructor(
    readonly services: ReadonlyMap<string, ServiceDefinition>,
    readonly effects: Effects,
    readonly tap: StepTap = NO_TAP,
  ) {}

  /** Runs `service` on `exec` (its payload is the service's input); the payload it ends with stays in `exec`. */
  run(service: ServiceDefinition, exec: Execution): Maybe<Outcome> {
    if (service.input !== undefined) {
      const problems = service.input.check(exec.payload);
      if (problems.length > 0) {
        throw new MessageFailure(`services.${service.name}.input: the payload does not match the schema: ${problems.join('; ')}`, 'MQFLOW_INPUT', {
          path: `services.${service.name}.input`,
          at: service.at,
        });
      }
    }
    return this.runSteps(service.steps, exec);
  }

  runSteps(steps: readonly Step[], exec: Execution): Maybe<Outcome> {
    return this.#from(steps, exec, 0);
  }

  #from(steps: readonly Step[], exec: Execution, first: number): Maybe<Outcome> {
    const tap = this.tap;
    for (let i = first; i < steps.length; i++) {
      const outcome = tap.active && tap.traced(exec.outputs) ? this.#tapped(steps[i]!, exec) : steps[i]!.run(exec, this);
      if (outcome === 'stop') return 'stop';
      if (outcome !== 'continue') return outcome.then((o) => (o === 'stop' ? 'stop' : this.#from(steps, exec, i + 1)));
    }
    return 'continue';
  }

  /** Runs a step of a traced message, reporting its outcome and time (also when it fails or waits). */
  #tapped(step: Step, exec: Execution): Maybe<Outcome> {
    const { tap } = this;
    const key = exec.outputs;
    const started = performance.now();
    let outcome: Maybe<Outcome>;
    try {
      outcome = step.run(exec, this);
    } catch (error) {
      tap.step(key, step, 'failed', performance.now() - started);
      throw error;
    }
    if (!(outcome instanceof Promise)) {
      tap.step(key, step, outcome, performance.now() - started);
      return outcome;
    }
    return outcome.then(
      (o) => {
        tap.step(key, step, o, performance.now() - started);
        return o;
      },
      (error: unknown) => {
        tap.step(key, step, 'failed', performance.now() - started);
        throw error;
      },
    );
  }

  /** Runs the service named `name` (an invoke step): same message, own variables. */
  invoke(name: string, payload: unknown, from: Execution): Maybe<ServiceResult> {
    const service = this.services.get(name);
    if (service === undefined) throw new MessageFailure(`no service named "${name}"`, 'MQFLOW_UNKNOWN_SERVICE');
    const run = from.invoked(payload);
    const outcome = this.run(service, run);
    return outcome instanceof Promise ? outcome.then((o) => ({ outcome: o, payload: run.payload })) : { outcome, payload: run.payload };
  }
}
