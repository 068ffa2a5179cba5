/**
 * The message host of one flow version (docs/architecture.md, invariant 25): its services'
 * pipeline, the effects steps use, the message context, and the way to an output. `mqflow run`
 * (the engine), `mqflow test` and `mqflow invoke` build their messages here and differ only in the
 * output they give it.
 */
import { createHash } from 'node:crypto';
import type { FlowModel } from '../flow/model.js';
import { isHttpDelivery, isScheduledDelivery, type JobTrigger } from './delivery-kinds.js';
import { decodeDelivery, type DecodeHost } from './decode.js';
import { HttpError, type HttpClient } from '../http/client.js';
import type { Delivery, OutgoingMessage, OutputTracker } from '../mqtt/message.js';
import type { MessageContext } from '../pipeline/context.js';
import { Execution, MessageFailure, type Effects, type Outcome, type PublishRequest } from '../pipeline/execution.js';
import { Pipeline, type ServiceDefinition } from '../pipeline/pipeline.js';
import { MessageState, type StateEnvironment } from '../state/message-state.js';
import { usesState } from '../steps/kinds.js';
import { evaluate } from '../pipeline/evaluate.js';
import type { Step, StepHeader } from '../pipeline/step.js';
import { after, type Maybe } from '../util/maybe.js';
import type { WindowEnvironment, WindowRuntime } from './windows.js';
import type { Log } from '../util/log.js';
import { Waiters } from '../util/waiters.js';
import type { Output } from './output.js';
import { tap } from './tap.js';

export class MessageHost {
  readonly pipeline: Pipeline;
  /** Messages delivered under this version and not yet done (queued, running or settling). */
  #held = 0;
  readonly #idle = new Waiters();
  readonly #logPublishes: boolean;
  readonly #state: StateEnvironment | undefined;
  readonly #windows: WindowEnvironment | undefined;
  /** Some service reads or writes a store: its messages get a MessageState (invariant 35). */
  readonly stateful: boolean;

  constructor(
    readonly model: FlowModel,
    readonly output: Output,
    readonly log: Log,
    options: {
      /** Log each publish at level debug (the `publish` event), as `mqflow run` does. */
      readonly logPublishes?: boolean;
      /** The open stores and the clock stateful steps use. */
      readonly state?: StateEnvironment;
      /** The windows `collect` steps add to. */
      readonly windows?: WindowEnvironment;
      /** What `http` steps send their requests through. */
      readonly http?: HttpClient;
      /** Numbered sequences (Effects.nextSequence), kept by the engine across versions. */
      readonly sequences?: Map<string, number>;
    } = {},
  ) {
    this.#logPublishes = options.logPublishes === true && log.isLevelEnabled('debug');
    this.#state = options.state;
    this.#decodeHost = { state: options.state, log, publish: (r, via, t) => this.publish(r, via, t) };
    this.#windows = options.windows;
    const http = options.http;
    const sequences = options.sequences ?? new Map<string, number>();
    this.stateful =
      options.state !== undefined && ([...model.services.values(), ...model.windows.values()].some((s) => usesState(s.steps)) || [...model.windows.values()].some((w) => w.store !== undefined));
    const effects: Effects = {
      publish: (request, from) => this.publish(request, from.message.connection, from.outputs),
      invoke: (service, payload, from) => this.pipeline.invoke(service, payload, from),
      log: (level, text, from, step) => this.log[level]({ event: 'log-step', trigger: from.message.trigger, topic: from.message.topic, step }, text),
      collect: (window, value, from, step) => this.#collect(window, value, from, step),
      nextSequence: (key, restart) => {
        const next = restart ? 0 : (sequences.get(key) ?? -1) + 1;
        sequences.set(key, next);
        return next;
      },
      request: (request, timeoutMs, from) => {
        const name = request.connection ?? from.message.connection;
        return this.output.request(name, outgoing(request, this.model.connections.get(name)?.protocolVersion === 5), timeoutMs, from.outputs);
      },
      http: (request) => (http === undefined ? Promise.reject(new HttpError('no HTTP client here', 'MQFLOW_HTTP_CONNECT', false)) : http.request(request)),
    };
    this.pipeline = new Pipeline(model.services, effects, tap);
    tap.addSecrets(model.secrets);
  }

  /** The first payload of a delivery, as its trigger's codec decodes it; IGNORED: acknowledge without running the service. */
  decode(trigger: JobTrigger, delivery: Delivery): Maybe<unknown> {
    return decodeDelivery(this.#decodeHost, trigger, delivery);
  }

  /** What decoding uses of this host (made once: decode runs for every message). */
  readonly #decodeHost: DecodeHost;

  /** A message was delivered under this version. */
  hold(): void {
    this.#held++;
  }

  /** A message held under this version is done. */
  release(): void {
    if (--this.#held === 0) this.#idle.wake();
  }

  get held(): number {
    return this.#held;
  }

  /** Resolves true when no message of this version is left, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    return this.#held === 0 ? Promise.resolve(true) : this.#idle.wait(timeoutMs);
  }

  /** Adds a value to a window: its key, event time and aggregate inputs are evaluated here, in the message's run. */
  #collect(name: string, value: unknown, from: Execution, step: StepHeader): Maybe<void> {
    const window = this.#windows?.window(name);
    if (window === undefined) throw new MessageFailure(`${step.path}: no window named "${name}" is open`, 'MQFLOW_WINDOW', { path: step.path, at: step.at });
    const { key, aggregates, time } = window.settings;
    const fail = (what: string, got: unknown, must: string, code: string): never => {
      throw new MessageFailure(`${step.path}: the ${what} of window "${name}" is ${got === undefined ? 'missing' : `a ${typeof got}`}; it must be ${must}`, code, { path: step.path, at: step.at }, { permanent: true });
    };
    return after(key === undefined ? '*' : evaluate(key, value, from, step), (k) => {
      if (typeof k !== 'string' && !(typeof k === 'number' && Number.isFinite(k))) fail('key', k, 'text or a number', 'MQFLOW_WINDOW_KEY');
      return after(time === undefined ? undefined : evaluate(time, value, from, step), (t) => {
        const eventTime = t === undefined && time === undefined ? undefined : eventMs(t);
        if (time !== undefined && eventTime === undefined) fail('time', t, 'milliseconds since the epoch or an ISO 8601 time', 'MQFLOW_WINDOW_TIME');
        return after(this.#aggregateInputs(aggregates, value, from, step), (inputs) => {
          const accepted = (ok: boolean): void => {
            if (ok || window.settings.late === 'drop') return;
            throw new MessageFailure(`${step.path}: too late for window "${name}": every window its time ${new Date(eventTime!).toISOString()} falls in has closed`, 'MQFLOW_WINDOW_LATE', { path: step.path, at: step.at }, { permanent: true });
          };
          if (window.store !== undefined) {
            // Kept in a store: committed with the message's state, before its acknowledgement (invariant 44).
            const state = from.state;
            if (state === undefined) throw new MessageFailure(`${step.path}: window "${name}" is kept in a store, but no store is open here`, 'MQFLOW_STATE_UNAVAILABLE', { path: step.path, at: step.at });
            return after(window.settings.id === undefined ? defaultId(from) : evaluate(window.settings.id, value, from, step), (id) => {
              if (typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) fail('id', id, 'text or a number', 'MQFLOW_WINDOW_KEY');
              return after(window.addStored(state, String(k), value, inputs, String(id), eventTime), accepted);
            });
          }
          // A QoS 0 message has no acknowledgement to hold: it is done without waiting for the window.
          const added = window.add(String(k), value, inputs, from.message.qos === 0 ? undefined : from.outputs, eventTime);
          if (added === 'full') {
            throw new MessageFailure(`${step.path}: window "${name}" has ${window.settings.maxOpen} windows open (maxOpen): no window opens for key ${JSON.stringify(String(k).slice(0, 200))}`, 'MQFLOW_WINDOW_LIMIT', { path: step.path, at: step.at }, { permanent: true });
          }
          accepted(added === 'added');
          return undefined;
        });
      });
    });
  }

  /** What each aggregate reads from a collected value, in order. */
  #aggregateInputs(aggregates: WindowRuntime['settings']['aggregates'], value: unknown, from: Execution, step: StepHeader): Maybe<unknown[]> {
    const inputs: unknown[] = [];
    const next = (i: number): Maybe<unknown[]> => {
      for (; i < aggregates.length; i++) {
        const of = aggregates[i]!.of;
        const v = of === undefined ? undefined : evaluate(of, value, from, step);
        if (v instanceof Promise) {
          const following = i + 1;
          return v.then((resolved) => {
            inputs.push(resolved);
            return next(following);
          });
        }
        inputs.push(v);
      }
      return inputs;
    };
    return next(0);
  }

  /** Runs `steps` once with `payload` and resolves when they ended and their outputs settled (a window's emission). */
  runSteps(steps: readonly Step[], payload: unknown, context: MessageContext): Promise<void> {
    return this.#runOnce(payload, context, (exec) => this.pipeline.runSteps(steps, exec));
  }

  /** Runs `run` on a new execution of `payload`; settles once its steps ended and their outputs (and state) settled. */
  #runOnce(payload: unknown, context: MessageContext, run: (exec: Execution) => Maybe<Outcome>): Promise<void> {
    return new Promise((resolve, reject) => {
      const state = this.stateful ? this.messageState() : undefined;
      const outputs = new Settlement(resolve, reject, state);
      try {
        const exec = new Execution(payload, context, outputs);
        exec.state = state;
        const outcome = run(exec);
        if (outcome instanceof Promise) outcome.then(() => outputs.stepsEnded(), (error: unknown) => outputs.fail(error));
        else outputs.stepsEnded();
      } catch (error) {
        outputs.fail(error);
      }
    });
  }


  /** A new message's state (only when `stateful`). */
  messageState(): MessageState {
    return new MessageState(this.#state!);
  }

  service(name: string): ServiceDefinition | undefined {
    return this.model.services.get(name);
  }

  /**
   * Hands a publish to the output through the request's connection (or `via`, the connection of
   * the trigger whose message this is), as the message the broker will receive.
   */
  publish(request: PublishRequest, via: string, tracker: OutputTracker): void {
    const name = request.connection ?? via;
    const message = outgoing(request, this.model.connections.get(name)?.protocolVersion === 5);
    if (this.#logPublishes) this.log.debug({ event: 'publish', connection: name, topic: message.topic, qos: message.qos }, `publish ${message.topic}`);
    if (tap.active) tap.published(tracker, name, message);
    this.output.send(name, message, tracker);
  }

  /** publish() as a promise that settles with the output (error routes, one-shot commands). */
  publishAndWait(request: PublishRequest, via: string): Promise<void> {
    return new Promise((resolve, reject) => this.publish(request, via, settlement(resolve, reject)));
  }

  /**
   * Runs a service once for `context` and resolves when it is done: its steps ended and every
   * output it handed settled. Rejects with its failure (the first output failure included).
   */
  runService(name: string, payload: unknown, context: MessageContext): Promise<void> {
    const service = this.service(name);
    if (service === undefined) return Promise.reject(new MessageFailure(`no service named "${name}"`, 'MQFLOW_UNKNOWN_SERVICE'));
    return this.#runOnce(payload, context, (exec) => this.pipeline.run(service, exec));
  }


  /** The message as services see it, for a delivery of `trigger` matched by one of `matchers`. */
  context(trigger: JobTrigger, matchers: readonly ((topic: string) => string[] | undefined)[], delivery: Delivery, payload: unknown): MessageContext {
    let wildcards: readonly string[] = NO_WILDCARDS;
    for (const match of matchers) {
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
      receivedAt: isoTime(delivery.receivedAt),
      trigger: trigger.name,
      connection: trigger.connection ?? '',
    };
    if (isHttpDelivery(delivery)) {
      // A request: $topic is its path, $levels its segments, $wildcards the values of its path parameters.
      context.levels = delivery.topic.split('/').slice(1);
      context.wildcards = Object.values(delivery.http.params);
      context.http = delivery.http;
    } else if (isScheduledDelivery(delivery)) {
      context.schedule = delivery.schedule;
    }
    if (delivery.messageId !== undefined) context.messageId = delivery.messageId;
    if (delivery.properties !== undefined) context.properties = readableProperties(delivery.properties);
    return context;
  }
}

const NO_WILDCARDS: readonly string[] = Object.freeze([]);

/** An event time as milliseconds: a finite number, or ISO 8601 text; undefined otherwise. */
function eventMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A collected value's id when the window names none: a hash of the topic and the payload as received. */
function defaultId(from: Execution): string {
  const bytes = from.receivedBytes ?? JSON.stringify(from.message.payload) ?? '';
  return createHash('sha1').update(from.message.topic).update('\0').update(bytes).digest('base64url');
}

/** The last time formatted: messages arriving in the same millisecond share it (toISOString costs ~0.4 µs). */
let lastMs = Number.NaN;
let lastIso = '';
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** The message handed to the output: MQTT 5 properties only where the connection speaks MQTT 5. */
export function outgoing(request: PublishRequest, v5: boolean): OutgoingMessage {
  const base: OutgoingMessage = request.decoder === undefined ? { topic: request.topic, payload: request.payload, qos: request.qos, retain: request.retain } : { topic: request.topic, payload: request.payload, qos: request.qos, retain: request.retain, decoder: request.decoder };
  if (!v5 || (request.userProperties === undefined && request.contentType === undefined && request.correlationData === undefined)) return base;
  return {
    ...base,
    properties: {
      ...(request.userProperties === undefined ? {} : { userProperties: { ...request.userProperties } }),
      ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
      ...(request.correlationData === undefined ? {} : { correlationData: request.correlationData }),
    },
  };
}

/** MQTT 5 properties as expressions see them: binary correlation data as base64 text. */
function readableProperties(properties: NonNullable<Delivery['properties']>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...properties };
  if (Buffer.isBuffer(properties.correlationData)) out.correlationData = properties.correlationData.toString('base64');
  return out;
}

function settlement(resolve: () => void, reject: (error: Error) => void): OutputTracker {
  return {
    outputHanded() {},
    outputSettled(error) {
      if (error === undefined) resolve();
      else reject(error);
    },
  };
}

/** Tracks one service run's outputs: settles once the steps ended and every output settled. */
class Settlement implements OutputTracker {
  #pending = 0;
  #stepsEnded = false;
  #failure: unknown;
  #failed = false;
  #settled = false;

  constructor(
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
    /** Committed when the run succeeded, dropped when it failed (invariant 35). */
    private readonly state?: MessageState,
  ) {}

  outputHanded(): void {
    this.#pending++;
  }

  outputSettled(error: Error | undefined): void {
    this.#pending--;
    if (error !== undefined && !this.#failed) {
      this.#failed = true;
      this.#failure = error;
    }
    this.#check();
  }

  stepsEnded(): void {
    this.#stepsEnded = true;
    this.#check();
  }

  fail(error: unknown): void {
    if (!this.#failed) {
      this.#failed = true;
      this.#failure = error;
    }
    this.stepsEnded();
  }

  #check(): void {
    if (this.#settled || !this.#stepsEnded || this.#pending > 0) return;
    this.#settled = true;
    if (this.#failed) {
      this.state?.abort();
      this.reject(this.#failure);
      return;
    }
    let committing;
    try {
      committing = this.state?.commit();
    } catch (error) {
      this.reject(error);
      return;
    }
    if (committing instanceof Promise) committing.then(this.resolve, this.reject);
    else this.resolve();
  }
}
