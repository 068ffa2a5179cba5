/** What a service works on for one message: the current payload, the variables set so far, and the message context. */
import type { Bindings } from '../expr/expression.js';
import type { SourcePosition } from '../flow/problem.js';

/** The message as services see it (`$message`); documented in docs/flow-language.md. */
export interface MessageContext {
  readonly topic: string;
  readonly levels: readonly string[];
  /** Values matched by each `+` of the matching filter, in order, then what `#` matched (as one string). */
  readonly wildcards: readonly string[];
  /** The decoded payload as received. */
  readonly payload: unknown;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly dup: boolean;
  readonly messageId?: number;
  readonly receivedAt: string;
  readonly trigger: string;
  readonly connection: string;
  /** MQTT 5 properties; correlationData as base64 text. */
  readonly properties?: Readonly<Record<string, unknown>>;
}

/** One run of steps: the current payload, the variables in scope, and extra bindings ($item, $index in split). */
export class Execution {
  payload: unknown;
  /** The bytes `message.payload` was decoded from, when it is JSON (see encodePayload). */
  receivedBytes: Buffer | undefined;
  readonly #vars: Record<string, unknown>;
  readonly #extra: Bindings;
  #bindings: Bindings | undefined;

  constructor(
    payload: unknown,
    readonly message: MessageContext,
    vars: Record<string, unknown> = {},
    extra: Bindings = {},
  ) {
    this.payload = payload;
    this.#vars = vars;
    this.#extra = extra;
  }

  set(name: string, value: unknown): void {
    this.#vars[name] = value;
    this.#bindings = undefined;
  }

  /** A nested run (a split element) that sees the variables set so far; what it sets stays inside it. */
  child(payload: unknown, extra: Bindings): Execution {
    const child = new Execution(payload, this.message, { ...this.#vars }, { ...this.#extra, ...extra });
    child.receivedBytes = this.receivedBytes;
    return child;
  }

  /** A fresh run for an invoked service: same message, own variables. */
  invoked(payload: unknown): Execution {
    const run = new Execution(payload, this.message);
    run.receivedBytes = this.receivedBytes;
    return run;
  }

  /** `$message`, `$topic`, `$levels`, `$wildcards`, the set variables and `$item`/`$index`. */
  bindings(): Bindings {
    this.#bindings ??= {
      message: this.message,
      topic: this.message.topic,
      levels: this.message.levels,
      wildcards: this.message.wildcards,
      ...this.#vars,
      ...this.#extra,
    };
    return this.#bindings;
  }
}

/** A message failure: what went wrong, and at which step. */
export class MessageFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly step?: { readonly path: string; readonly at: SourcePosition },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MessageFailure';
  }
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

/** What steps may do beyond computing: publish, run another service, log. Provided by the engine (or a test harness). */
export interface Effects {
  /** Without a connection in the request, publishes through the connection of the trigger that delivered `from`'s message. */
  publish(request: PublishRequest, from: Execution): Promise<void>;
  invoke(service: string, payload: unknown, from: Execution): Promise<ServiceResult>;
  log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', text: string, from: Execution, step: string): void;
}

export interface PublishRequest {
  /** Undefined: the connection of the trigger that delivered the message. */
  readonly connection?: string;
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly userProperties?: Readonly<Record<string, string>>;
  readonly contentType?: string;
}

export type Outcome = 'continue' | 'stop';

export interface ServiceResult {
  readonly outcome: Outcome;
  readonly payload: unknown;
}
