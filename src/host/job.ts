/**
 * One message of a trigger, from decoding to done (docs/architecture.md, "The message path"):
 * decode → context → service (synchronous while no step waits) → retries → error route, and
 * completion once its steps ended and every output it handed settled. The trigger runner is told
 * when the steps ended (a serial trigger starts the next message then, invariant 22) and when the
 * message is done (its acknowledgement may go).
 */
import type { Delivery, OutputTracker } from '../mqtt/message.js';
import type { MessageContext } from '../pipeline/context.js';
import { Execution, MessageFailure } from '../pipeline/execution.js';
import type { MessageState } from '../state/message-state.js';
import { payloadForReport } from '../triggers/payload.js';
import { IGNORED } from './decode.js';
import { retries, retryDelay } from '../triggers/retry.js';
import { failureKind } from '../triggers/failure-kind.js';
import { sendAlongRoute, type FailureReport, type RouteSender } from '../triggers/on-error.js';
import type { Log } from '../util/log.js';
import type { MessageHost } from './host.js';
import { isHttpDelivery, isScheduledDelivery, type JobTrigger } from './delivery-kinds.js';
import type { Maybe } from '../util/maybe.js';
import { tap } from './tap.js';

/** Per-trigger counts, read by the engine's snapshot (status, metrics) and in tests. */
export interface TriggerCounters {
  received: number;
  processed: number;
  failed: number;
  retried: number;
  routed: number;
}

/** What a message is processed with: captured when it is delivered (invariant 10). */
export interface Version {
  readonly trigger: JobTrigger;
  readonly matchers: readonly ((topic: string) => string[] | undefined)[];
  readonly host: MessageHost;
}

/** What a job needs from its trigger runner. */
export interface JobOwner {
  readonly counters: TriggerCounters;
  readonly log: Log;
  lastError: string | undefined;
  /** True while the broker keeps what this trigger did not acknowledge (cleanSession: false, ack after processing). */
  readonly sessionKept: boolean;
  /** True once the trigger's client stopped for good (a held failure then gives up). */
  readonly stopped: boolean;
  /** The message's steps ended (succeeded, or its failure was routed). */
  stepsEnded(job: Job): void;
  /** The message is done: `acknowledge` false when it must stay with the broker (suspended). */
  done(job: Job, outcome: 'processed' | 'failed', acknowledge: boolean): void;
  /** onError: suspend, or an error route that failed while the broker keeps the message. */
  suspend(resumeAfterMs: number, why: string): void;
  /** A message started (+1) or stopped (-1) waiting for windows to emit: a wait that is no stall. */
  waitingForWindows?(delta: 1 | -1): void;
}

export class Job implements OutputTracker {
  attempts = 0;
  readonly startedAt = performance.now();
  #context: MessageContext | undefined;
  #payload: unknown;
  /** Outputs handed and not settled yet, over every attempt. */
  #pending = 0;
  #stepsOver = false;
  /** The first output that failed after being handed. */
  #outputFailure: Error | undefined;
  /** Set when the steps failed after every attempt (the error route ran or is running). */
  #failed = false;
  #finished = false;
  /** The owner was told the steps ended (or let go, detached), once. */
  #stepsReported = false;
  /** A step detached the rest of the steps: a failure then is not retried (it would reorder). */
  #detached = false;
  /** The state changes of the message, committed when it is done (invariant 35). */
  #state: MessageState | undefined;

  constructor(
    readonly owner: JobOwner,
    readonly delivery: Delivery,
    readonly version: Version,
  ) {}

  /** Decodes the message and runs its first attempt (synchronously, as far as the steps allow). */
  start(): void {
    let payload: Maybe<unknown>;
    try {
      payload = this.#decode();
    } catch (error) {
      this.#failStart(error);
      return;
    }
    if (payload instanceof Promise) payload.then((p) => this.#begin(p), (error: unknown) => this.#failStart(error));
    else this.#begin(payload);
  }

  /** The first payload: decoded from the bytes, made at a schedule's fire, or null for a request without a body. */
  #decode(): Maybe<unknown> {
    const { delivery } = this;
    const { trigger } = this.version;
    if (isScheduledDelivery(delivery)) return delivery.payloadValue();
    if (delivery.payload.length === 0 && isHttpDelivery(delivery)) return null;
    return this.version.host.decode(trigger, delivery);
  }

  #begin(payload: unknown): void {
    const { trigger, host, matchers } = this.version;
    // A message its codec says to pass over (a stale Sparkplug NDEATH) is done: acknowledged, no service run.
    if (payload === IGNORED) {
      this.#stepsSucceeded();
      return;
    }
    try {
      this.#payload = payload;
      this.#context = host.context(trigger, matchers, this.delivery, payload);
    } catch (error) {
      this.#failStart(error);
      return;
    }
    this.#attempt();
  }

  /** A payload that could not be decoded (or made) is not retried. */
  #failStart(error: unknown): void {
    this.attempts = 1;
    this.#failAfterAttempts(asFailure(error));
  }

  #attempt(): void {
    this.attempts++;
    const { trigger, host } = this.version;
    const service = host.service(trigger.service);
    try {
      if (service === undefined) throw new MessageFailure(`no service named "${trigger.service}"`, 'MQFLOW_UNKNOWN_SERVICE');
      const exec = new Execution(this.#payload, this.#context!, this);
      if (trigger.payload === 'json' && this.delivery.payload.length > 0) exec.receivedBytes = this.delivery.payload;
      const delivery = this.delivery;
      if (isHttpDelivery(delivery)) {
        // Each attempt answers for itself: a failed attempt's reply is not sent.
        delivery.reply(undefined);
        exec.respond = (reply) => delivery.reply(reply);
      }
      if (host.stateful) {
        // A retry starts from the committed state; the keys it holds stay held.
        if (this.#state === undefined) this.#state = host.messageState();
        else this.#state.discard();
        exec.state = this.#state;
      }
      const outcome = host.pipeline.run(service, exec);
      if (outcome instanceof Promise) outcome.then(() => this.#stepsSucceeded(), (error: unknown) => this.#attemptFailed(error));
      else this.#stepsSucceeded();
    } catch (error) {
      this.#attemptFailed(error);
    }
  }

  #stepsSucceeded(): void {
    this.#stepsOver = true;
    this.#reportStepsEnded();
    this.#settle();
  }

  #reportStepsEnded(): void {
    if (this.#stepsReported) return;
    this.#stepsReported = true;
    this.owner.stepsEnded(this);
  }

  /** Outputs of this message that windows hold. */
  #inWindows = 0;

  heldByWindow(delta: 1 | -1): void {
    this.#inWindows += delta;
    if (delta === 1 ? this.#inWindows === 1 : this.#inWindows === 0) this.owner.waitingForWindows?.(delta);
  }

  stepsDetached(): void {
    this.#detached = true;
    this.#reportStepsEnded();
  }

  #attemptFailed(error: unknown): void {
    const failure = asFailure(error);
    const { trigger } = this.version;
    // A deterministic failure would fail the same way again: retried only with retry.failures: all.
    const kind = failureKind(failure);
    if (this.attempts >= trigger.retry.maxAttempts || !retries(trigger.retry, kind) || this.#detached) {
      this.#failAfterAttempts(failure);
      return;
    }
    this.owner.counters.retried++;
    this.owner.log.warn({ event: 'retry', topic: this.delivery.topic, attempt: this.attempts, code: failure.code, kind, reason: failure.message }, `attempt ${this.attempts} failed; retrying`);
    setTimeout(() => this.#attempt(), retryDelay(trigger.retry, this.attempts));
  }

  outputHanded(): void {
    this.#pending++;
  }

  outputSettled(error: Error | undefined): void {
    this.#pending--;
    if (error !== undefined && this.#outputFailure === undefined) this.#outputFailure = error;
    this.#settle();
  }

  /** Done once the steps ended and every output settled; an output that failed fails the message (invariant 23). */
  #settle(): void {
    if (!this.#stepsOver || this.#pending > 0 || this.#finished) return;
    if (this.#outputFailure !== undefined && !this.#failed) {
      // No retry: it would publish this message's outputs again after later messages' outputs.
      const failure = asFailure(this.#outputFailure);
      this.#outputFailure = undefined;
      this.#stepsOver = false;
      void this.#routeFailure(failure, /* stepsAlreadyEnded */ true);
      return;
    }
    const state = this.#state;
    if (state !== undefined && !this.#failed) {
      // Its state takes effect now, before the ack (invariant 35); a failed commit fails it, without retry.
      this.#state = undefined;
      let committing;
      try {
        committing = state.commit();
      } catch (error) {
        this.#commitFailed(error);
        return;
      }
      if (committing instanceof Promise) {
        committing.then(() => this.#finishProcessed(), (error: unknown) => this.#commitFailed(error));
        return;
      }
    }
    this.#finishProcessed();
  }

  #finishProcessed(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.owner.done(this, this.#failed ? 'failed' : 'processed', true);
  }

  #commitFailed(error: unknown): void {
    this.#stepsOver = false;
    void this.#routeFailure(asFailure(error), true);
  }

  #failAfterAttempts(failure: MessageFailure): void {
    void this.#routeFailure(failure, false);
  }

  /** After the last attempt (or an output's failure): route the failure; the message is then done, or left with the broker. */
  async #routeFailure(failure: MessageFailure, stepsAlreadyEnded: boolean): Promise<void> {
    const { owner, delivery, version } = this;
    this.#failed = true;
    if (isHttpDelivery(delivery)) delivery.failed(failure);
    // Nothing it staged takes effect; the keys it held go to the messages waiting for them.
    this.#state?.abort();
    this.#state = undefined;
    owner.counters.failed++;
    owner.lastError = failure.message;
    if (tap.active) tap.failed(this, failure, this.attempts);
    owner.log.error(
      { event: 'message-failed', topic: delivery.topic, attempt: this.attempts, code: failure.code, reason: failure.message, ...(failure.step === undefined ? {} : { step: failure.step.path }) },
      `message on ${delivery.topic} failed: ${failure.message}`,
    );
    const route = version.trigger.onError;
    const endSteps = (): void => {
      if (!stepsAlreadyEnded) this.#reportStepsEnded();
    };
    if (route?.kind === 'suspend') {
      owner.suspend(route.resumeAfterMs, 'onError: suspend');
      endSteps();
      this.#finish(false);
      return;
    }
    if (route !== undefined) {
      const report = serializable(this.#report(failure), delivery);
      for (;;) {
        const problem = await sendAlongRoute(route, report, this.#sender());
        if (problem === undefined) {
          owner.counters.routed++;
          break;
        }
        owner.lastError = `error route failed: ${problem}`;
        if (owner.sessionKept) {
          // The message must go somewhere: leave it with the broker and try again later.
          owner.log.error({ event: 'error-route-failed', topic: delivery.topic, reason: problem }, `error route of ${version.trigger.name} failed: ${problem}; suspending the trigger`);
          owner.suspend(30_000, 'error route failed');
          endSteps();
          this.#finish(false);
          return;
        }
        // Without a kept session the broker would not redeliver: hold the message and retry the route.
        owner.log.error({ event: 'error-route-failed', topic: delivery.topic, reason: problem }, `error route of ${version.trigger.name} failed: ${problem}; retrying in 5 s`);
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        if (owner.stopped) {
          endSteps();
          this.#finish(false);
          return;
        }
      }
    }
    this.#stepsOver = true;
    endSteps();
    this.#settle();
  }

  #finish(acknowledge: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.owner.done(this, 'failed', acknowledge);
  }

  #sender(): RouteSender {
    const { host, trigger } = this.version;
    return {
      publish: (r, payload) => host.publishAndWait({ connection: r.connection, topic: r.topic, payload, qos: r.qos, retain: r.retain }, trigger.connection ?? ''),
      runService: (name, report) => host.runService(name, report, this.#context ?? report.message),
    };
  }

  #report(failure: MessageFailure): FailureReport {
    const { delivery, version } = this;
    const message = this.#context ?? { ...version.host.context(version.trigger, version.matchers, delivery, undefined), ...payloadForReport(delivery.payload) };
    return {
      error: {
        message: failure.message,
        code: failure.code,
        kind: failureKind(failure),
        ...(failure.step === undefined ? {} : { step: failure.step.path, at: `${failure.step.at.file}:${failure.step.at.line}:${failure.step.at.column}` }),
      },
      // The message as services saw it ($message); a payload that could not be decoded is carried raw.
      message,
      trigger: version.trigger.name,
      attempts: this.attempts,
      failedAt: new Date().toISOString(),
    };
  }
}

export function asFailure(error: unknown): MessageFailure {
  if (error instanceof MessageFailure) return error;
  const e = error as { message?: unknown; code?: unknown };
  return new MessageFailure(typeof e.message === 'string' ? e.message : String(error), typeof e.code === 'string' ? e.code : 'MQFLOW_FAILED', undefined, { cause: error });
}

/**
 * A report that JSON can carry. A payload nested too deeply to serialize (JSON.parse accepts
 * 100,000 levels; JSON.stringify overflows the stack) is carried as its received text instead,
 * as an undecodable one is; otherwise its error route would fail for ever and block the trigger.
 */
function serializable(report: FailureReport, delivery: Delivery): FailureReport {
  try {
    JSON.stringify(report);
    return report;
  } catch {
    return { ...report, message: { ...report.message, ...payloadForReport(delivery.payload) } };
  }
}
