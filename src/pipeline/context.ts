/** The message as services see it (`$message`); documented in docs/flow-language.md. */
import type { QoS } from '../mqtt/message.js';

export interface MessageContext {
  readonly topic: string;
  readonly levels: readonly string[];
  /** Values matched by each `+` of the matching filter, in order, then what `#` matched (as one string). */
  readonly wildcards: readonly string[];
  /** The decoded payload as received. */
  readonly payload: unknown;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  readonly messageId?: number;
  readonly receivedAt: string;
  readonly trigger: string;
  readonly connection: string;
  /** MQTT 5 properties; correlationData as base64 text. */
  readonly properties?: Readonly<Record<string, unknown>>;
  /** A request to an endpoint (an HTTP trigger). */
  readonly http?: HttpContext;
  /** A fire of a schedule. */
  readonly schedule?: ScheduleContext;
}

/** A fire of a schedule as services see it (`$message.schedule`). */
export interface ScheduleContext {
  readonly name: string;
  /** The tick it fires for (ISO 8601), before jitter. */
  readonly scheduledAt: string;
  /** When it fired (ISO 8601). */
  readonly firedAt: string;
  /** True for a fire missed while mqflow was down, made up for (missed: once or all). */
  readonly missed: boolean;
}

/** A request to an endpoint as services see it (`$message.http`); credentials are not shown. */
export interface HttpContext {
  readonly endpoint: string;
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | string[]>>;
  readonly headers: Readonly<Record<string, string | string[]>>;
}
