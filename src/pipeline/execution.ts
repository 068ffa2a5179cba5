/** What a service works on for one message: the current payload, the variables set so far, and the message context. */
import type { Bindings } from '../expr/expression.js';
import type { HttpRequest, HttpResponse } from '../http/client.js';
import type { Reply } from '../http/listener.js';
import type { OutputTracker, QoS } from '../mqtt/message.js';
import type { ReplyMessage } from '../mqtt/request-inbox.js';
import type { MessageState } from '../state/message-state.js';
import type { SourcePosition } from '../util/position.js';
import type { MessageContext } from './context.js';
import type { Maybe } from '../util/maybe.js';

export type { MessageContext } from './context.js';

/** One run of steps: the current payload, the variables in scope, and extra bindings ($item, $index in split). */
export class Execution {
  payload: unknown;
  /** The bytes `message.payload` was decoded from, when it is JSON (see encodePayload). */
  receivedBytes: Buffer | undefined;
  /** The variables in scope; shared with the run it came from until this run sets one (copy on write). */
  #vars: Record<string, unknown> | undefined;
  #ownsVars = false;
  readonly #extra: Bindings | undefined;
  #bindings: Bindings | undefined;
  /** The message's state changes (docs/architecture.md, invariant 35); undefined where no store is open. */
  state: MessageState | undefined;
  /** Where a `respond` step's reply goes: set for a request to an endpoint, undefined otherwise. */
  respond: ((reply: Reply) => void) | undefined;

  constructor(
    payload: unknown,
    readonly message: MessageContext,
    /** Where the message's outputs report: it is done once they all settled (docs/architecture.md, invariant 22). */
    readonly outputs: OutputTracker,
    vars?: Record<string, unknown>,
    extra?: Bindings,
  ) {
    this.payload = payload;
    this.#vars = vars;
    this.#extra = extra;
  }

  set(name: string, value: unknown): void {
    if (!this.#ownsVars) {
      this.#vars = { ...this.#vars };
      this.#ownsVars = true;
    }
    this.#vars![name] = value;
    this.#bindings = undefined;
  }

  /** A nested run (a split element, a choice branch) that sees the variables set so far; what it sets stays inside it. */
  child(payload: unknown, extra: Bindings | undefined): Execution {
    // The child shares the variables; whichever of the two sets one next copies them first.
    this.#ownsVars = false;
    const child = new Execution(payload, this.message, this.outputs, this.#vars, extra === undefined ? this.#extra : { ...this.#extra, ...extra });
    child.receivedBytes = this.receivedBytes;
    child.state = this.state;
    child.respond = this.respond;
    return child;
  }

  /** A fresh run for an invoked service: same message, own variables. */
  invoked(payload: unknown): Execution {
    const run = new Execution(payload, this.message, this.outputs);
    run.receivedBytes = this.receivedBytes;
    run.state = this.state;
    run.respond = this.respond;
    return run;
  }

  /** `$message`, `$topic`, `$levels`, `$wildcards`, the set variables and `$item`/`$index`. */
  bindings(): Bindings {
    if (this.#bindings !== undefined) return this.#bindings;
    const message = this.message;
    const vars = this.#vars;
    this.#bindings =
      vars === undefined && this.#extra === undefined
        ? { message, topic: message.topic, levels: message.levels, wildcards: message.wildcards }
        : { message, topic: message.topic, levels: message.levels, wildcards: message.wildcards, ...vars, ...this.#extra };
    return this.#bindings;
  }
}

/** A message failure: what went wrong, and at which step. */
export class MessageFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly step?: { readonly path: string; readonly at: SourcePosition },
    options?: { cause?: unknown; permanent?: boolean },
  ) {
    super(message, options);
    this.name = 'MessageFailure';
    this.permanent = options?.permanent === true;
  }

  /** It would fail again: the message goes to its error route without retries. */
  readonly permanent: boolean;
}

/** JSONata's boolean rules ($boolean): conditions of filter and choice read values this way. */
export function jsonataBoolean(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.some(jsonataBoolean);
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'function') return false;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return false;
}

/** What steps may do beyond computing: publish, run another service, log. Provided by the message host. */
export interface Effects {
  /**
   * Hands a message to its connection (without a connection in the request, the connection of the
   * trigger that delivered `from`'s message) and returns at once; `from.outputs` is told when it
   * settles. Throws a failure when it cannot be handed (no such connection, stopped, offline queue full).
   */
  publish(request: PublishRequest, from: Execution): void;
  invoke(service: string, payload: unknown, from: Execution): Maybe<ServiceResult>;
  log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', text: string, from: Execution, step: string): void;
  /** MQTT 5 request/response (a `request` step): publishes `request` and resolves with the reply matched to it. */
  request(request: PublishRequest, timeoutMs: number, from: Execution): Promise<ReplyMessage>;
  /** Sends an HTTP request (an `http` step): the pooled client at run time, stubs in `mqflow test`. */
  http(request: HttpRequest, from: Execution): Promise<HttpResponse>;
  /** Adds `value` to the window named `window`; `from`'s message is held until the windows it went into emitted. */
  collect(window: string, value: unknown, from: Execution, step: { readonly path: string; readonly at: SourcePosition }): Maybe<void>;
  /** The next number (0, 1, 2, …) of the sequence `key`, from 0 again when `restart` (a Sparkplug edge node's seq); kept across reloads. */
  nextSequence(key: string, restart: boolean): number;
}

export interface PublishRequest {
  /** Undefined: the connection of the trigger that delivered the message. */
  readonly connection?: string;
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly userProperties?: Readonly<Record<string, string>>;
  readonly contentType?: string;
  /** MQTT 5: the correlation data of the request this publish replies to (a `reply` step). */
  readonly correlationData?: Buffer;
  /** How to read back what a codec encoded into `payload` (not sent: `mqflow test` compares and shows payloads decoded). */
  readonly decoder?: (payload: Buffer) => unknown;
}

export type Outcome = 'continue' | 'stop';

export interface ServiceResult {
  readonly outcome: Outcome;
  readonly payload: unknown;
}
