/**
 * One trigger at run time: takes deliveries from its subscriber client, keeps their order
 * (serial) or runs up to maxConcurrency at once, retries, routes failures, and marks each
 * message done only when it is (see docs/architecture.md, "At-least-once processing"). Each
 * message is processed by the version in force when it was delivered: the trigger definition and
 * the pipeline are captured then (invariant 10); a reload swaps them for later messages.
 */
import type { Trigger } from '../flow/model.js';
import { wildcardMatcher } from '../mqtt/topic-filter.js';
import type { Delivery, Subscriber } from '../mqtt/subscriber.js';
import { Execution, MessageFailure, type MessageContext } from '../pipeline/execution.js';
import type { Pipeline } from '../pipeline/run-service.js';
import { decodePayload, payloadForReport } from './decode-payload.js';
import type { Log } from './log.js';

export interface TriggerDeps {
  /** The pipeline of the flow version in force now; a message keeps the one it was delivered under. */
  readonly pipeline: () => Pipeline;
  readonly log: Log;
  /** Called with each message's processing time (delivery to done) and outcome, for metrics. */
  readonly observe?: (seconds: number, outcome: 'processed' | 'failed') => void;
  /** True when the broker keeps unacknowledged messages for this trigger (cleanSession: false, ack after processing). Initial value; update() changes it. */
  readonly sessionKept: boolean;
}

/** Per-trigger counts, read by status and metrics (the admin API) and in tests. */
export interface TriggerCounters {
  received: number;
  processed: number;
  failed: number;
  retried: number;
  routed: number;
}

/** What a message is processed with: captured when it is delivered. */
interface Version {
  readonly trigger: Trigger;
  readonly matchers: readonly ((topic: string) => string[] | undefined)[];
  readonly pipeline: Pipeline;
}

interface Queued {
  readonly delivery: Delivery;
  readonly version: Version;
}

export class TriggerRunner {
  readonly #queue: Queued[] = [];
  #running = 0;
  #paused = false;
  #idle: (() => void)[] = [];
  #subscriber: Subscriber | undefined;
  readonly #log: Log;
  #trigger: Trigger;
  #sessionKept: boolean;
  #matchers: readonly ((topic: string) => string[] | undefined)[];
  /** The version the next delivery is captured with (see onDelivery). */
  #version: Version | undefined;
  readonly counters: TriggerCounters = { received: 0, processed: 0, failed: 0, retried: 0, routed: 0 };
  lastError: string | undefined;

  constructor(
    trigger: Trigger,
    private readonly deps: TriggerDeps,
  ) {
    this.#log = deps.log.child({ trigger: trigger.name });
    this.#trigger = trigger;
    this.#matchers = trigger.topics.map(wildcardMatcher);
    this.#sessionKept = deps.sessionKept;
  }

  /** The definition in force for messages delivered from now on. */
  get trigger(): Trigger {
    return this.#trigger;
  }

  /** A reload changed the definition (service, processing, retries, error route, filters): messages delivered from now on use it. */
  update(trigger: Trigger, sessionKept: boolean): void {
    this.#trigger = trigger;
    this.#sessionKept = sessionKept;
    this.#matchers = trigger.topics.map(wildcardMatcher);
    this.#version = undefined;
    this.#pump();
  }

  /** The client that delivers from now on; a restarted trigger's old client may still deliver until it stops accepting. */
  attach(subscriber: Subscriber): void {
    this.#subscriber = subscriber;
  }

  get inFlight(): number {
    return this.#running;
  }

  get queueDepth(): number {
    return this.#queue.length;
  }

  readonly onDelivery = (delivery: Delivery): void => {
    this.counters.received++;
    const pipeline = this.deps.pipeline();
    pipeline.hold();
    // One Version object per (definition, pipeline) pair, not one per message.
    let version = this.#version;
    if (version === undefined || version.pipeline !== pipeline) version = this.#version = { trigger: this.#trigger, matchers: this.#matchers, pipeline };
    this.#queue.push({ delivery, version });
    this.#pump();
  };

  #limit(): number {
    const processing = this.#trigger.processing;
    return processing.mode === 'concurrent' ? processing.maxConcurrency : 1;
  }

  /**
   * Stops taking queued messages (the admin API's suspend): those in flight finish; new ones wait
   * unacknowledged, so the broker's in-flight window fills and it keeps the rest (QoS ≥ 1).
   */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  get paused(): boolean {
    return this.#paused;
  }

  #pump(): void {
    while (!this.#paused && this.#running < this.#limit() && this.#queue.length > 0) {
      const { delivery, version } = this.#queue.shift()!;
      this.#running++;
      void this.#process(delivery, version).finally(() => {
        version.pipeline.release();
        this.#running--;
        this.#pump();
        if (this.#running === 0 && this.#queue.length === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  /** Resolves when nothing is queued or running (or after `timeoutMs`); true when idle. A paused trigger's queue is left to the broker. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#paused) for (const { version } of this.#queue.splice(0)) version.pipeline.release();
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async #process(delivery: Delivery, version: Version): Promise<void> {
    const started = performance.now();
    const outcome = await this.#processOnce(delivery, version);
    this.deps.observe?.((performance.now() - started) / 1000, outcome);
  }

  async #processOnce(delivery: Delivery, version: Version): Promise<'processed' | 'failed'> {
    const { trigger, pipeline } = version;
    const service = pipeline.services.get(trigger.service);
    let context: MessageContext | undefined;
    let failure: MessageFailure;
    let attempts = 0;
    try {
      const payload = decodePayload(delivery.payload, trigger.payload, trigger.maxPayloadBytes);
      context = this.#context(delivery, payload, version);
    } catch (error) {
      failure = asFailure(error);
      await this.#fail(delivery, version, context, failure, 1);
      return 'failed';
    }
    for (;;) {
      attempts++;
      try {
        if (service === undefined) throw new MessageFailure(`no service named "${trigger.service}"`, 'MQFLOW_UNKNOWN_SERVICE');
        const exec = new Execution(context.payload, context);
        if (trigger.payload === 'json') exec.receivedBytes = delivery.payload;
        await pipeline.run(service, exec);
        this.counters.processed++;
        delivery.complete();
        return 'processed';
      } catch (error) {
        failure = asFailure(error);
      }
      if (attempts >= trigger.retry.maxAttempts) break;
      this.counters.retried++;
      this.#log.warn({ event: 'retry', topic: delivery.topic, attempt: attempts, reason: failure.message }, `attempt ${attempts} failed; retrying`);
      await sleep(retryDelay(trigger, attempts));
    }
    await this.#fail(delivery, version, context, failure, attempts);
    return 'failed';
  }

  #context(delivery: Delivery, payload: unknown, version: Version): MessageContext {
    let wildcards: readonly string[] = [];
    for (const match of version.matchers) {
      const values = match(delivery.topic);
      if (values !== undefined) {
        wildcards = values;
        break;
      }
    }
    // Built eagerly and without spreads: an object literal with getters costs more than the values.
    const context: { -readonly [K in keyof MessageContext]: MessageContext[K] } = {
      topic: delivery.topic,
      levels: delivery.topic.split('/'),
      wildcards,
      payload,
      qos: delivery.qos,
      retain: delivery.retain,
      dup: delivery.dup,
      receivedAt: new Date(delivery.receivedAt).toISOString(),
      trigger: version.trigger.name,
      connection: version.trigger.connection,
    };
    if (delivery.messageId !== undefined) context.messageId = delivery.messageId;
    if (delivery.properties !== undefined) context.properties = readableProperties(delivery.properties);
    return context;
  }

  /** After the last attempt: route the failure, then the message is done; if routing fails, it stays with the broker. */
  async #fail(delivery: Delivery, version: Version, context: MessageContext | undefined, failure: MessageFailure, attempts: number): Promise<void> {
    this.counters.failed++;
    this.lastError = failure.message;
    const route = version.trigger.onError;
    this.#log.error(
      { event: 'message-failed', topic: delivery.topic, attempt: attempts, code: failure.code, reason: failure.message, ...(failure.step === undefined ? {} : { step: failure.step.path }) },
      `message on ${delivery.topic} failed: ${failure.message}`,
    );
    if (route === undefined) {
      delivery.complete();
      return;
    }
    if (route.kind === 'suspend') {
      this.#suspend(route.resumeAfterMs, 'onError: suspend');
      return;
    }
    const report = serializable(this.#report(delivery, version, context, failure, attempts), delivery);
    for (;;) {
      const problem = await this.#route(route, report, context, version);
      if (problem === undefined) {
        this.counters.routed++;
        delivery.complete();
        return;
      }
      this.lastError = `error route failed: ${problem}`;
      if (this.#sessionKept) {
        // The message must go somewhere: leave it with the broker and try again later.
        this.#log.error({ event: 'error-route-failed', topic: delivery.topic, reason: problem }, `error route of ${version.trigger.name} failed: ${problem}; suspending the trigger`);
        this.#suspend(30_000, 'error route failed');
        return;
      }
      // Without a kept session the broker would not redeliver: hold the message and retry the route.
      this.#log.error({ event: 'error-route-failed', topic: delivery.topic, reason: problem }, `error route of ${version.trigger.name} failed: ${problem}; retrying in 5 s`);
      await sleep(5_000);
      if (this.#subscriber?.state === 'stopped') return;
    }
  }

  /** Sends the report along the route; returns why it failed, or undefined. */
  async #route(route: Exclude<Trigger['onError'], undefined | { kind: 'suspend' }>, report: FailureReport, context: MessageContext | undefined, version: Version): Promise<string | undefined> {
    const { pipeline, trigger } = version;
    try {
      if (route.kind === 'publish') {
        await pipeline.publish(
          { ...(route.connection === undefined ? {} : { connection: route.connection }), topic: route.topic, payload: JSON.stringify(report), qos: route.qos, retain: route.retain },
          trigger.connection,
        );
      } else {
        const service = pipeline.services.get(route.service);
        if (service === undefined) throw new MessageFailure(`no service named "${route.service}"`, 'MQFLOW_UNKNOWN_SERVICE');
        const errorContext: MessageContext = context ?? report.message;
        await pipeline.run(service, new Execution(report, errorContext));
      }
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  #report(delivery: Delivery, version: Version, context: MessageContext | undefined, failure: MessageFailure, attempts: number): FailureReport {
    const raw = payloadForReport(delivery.payload);
    return {
      error: {
        message: failure.message,
        code: failure.code,
        ...(failure.step === undefined ? {} : { step: failure.step.path, at: `${failure.step.at.file}:${failure.step.at.line}:${failure.step.at.column}` }),
      },
      // The message as services saw it ($message); a payload that could not be decoded is carried raw.
      message: context ?? { ...this.#context(delivery, undefined, version), ...raw },
      trigger: version.trigger.name,
      attempts,
      failedAt: new Date().toISOString(),
    };
  }

  #suspend(resumeAfterMs: number, why: string): void {
    const subscriber = this.#subscriber;
    if (subscriber === undefined || subscriber.state === 'suspended' || subscriber.state === 'stopped') return;
    this.#log.warn({ event: 'suspended', resumeAfterMs, reason: why }, `trigger ${this.trigger.name} suspended for ${resumeAfterMs} ms (${why})`);
    // Queued messages were not acknowledged: the broker redelivers them when the trigger resumes.
    for (const { version } of this.#queue.splice(0)) version.pipeline.release();
    void subscriber.suspend().then(() => {
      setTimeout(() => {
        if (subscriber.state !== 'suspended') return;
        this.#log.info({ event: 'resumed' }, `trigger ${this.trigger.name} resumed`);
        subscriber.resume();
      }, resumeAfterMs).unref();
    });
  }
}

function asFailure(error: unknown): MessageFailure {
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

function retryDelay(trigger: Trigger, attempt: number): number {
  const { delayMs, backoff, maxDelayMs } = trigger.retry;
  return Math.min(maxDelayMs, backoff === 'exponential' ? delayMs * 2 ** (attempt - 1) : delayMs);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** MQTT 5 properties as expressions see them: binary correlation data as base64 text. */
function readableProperties(properties: NonNullable<Delivery['properties']>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...properties };
  if (Buffer.isBuffer(properties.correlationData)) out.correlationData = properties.correlationData.toString('base64');
  return out;
}

/** What an error route receives: published as JSON, or the payload of the error service. */
export interface FailureReport {
  readonly error: { readonly message: string; readonly code: string; readonly step?: string; readonly at?: string };
  readonly message: MessageContext;
  readonly trigger: string;
  readonly attempts: number;
  readonly failedAt: string;
}
