/**
 * What a job may be delivered besides an MQTT message: the trigger it reads (an MQTT trigger or an
 * endpoint), and a request to an endpoint with where its reply and failure go.
 */
import type { Trigger } from '../flow/model.js';
import type { Reply } from '../http/listener.js';
import type { Delivery } from '../mqtt/message.js';
import type { HttpContext, ScheduleContext } from '../pipeline/context.js';
import type { Maybe } from '../util/maybe.js';
import type { MessageFailure } from '../pipeline/execution.js';

/** What a job reads of its trigger: an MQTT trigger, or an endpoint (an HTTP trigger). */
export type JobTrigger = Pick<Trigger, 'name' | 'service' | 'payload' | 'codec' | 'sparkplug' | 'maxPayloadBytes' | 'retry' | 'onError' | 'processing'> & {
  /** The connection publishes without one go through (an endpoint may have none). */
  readonly connection?: string;
  readonly topics?: readonly string[];
};

/**
 * A request to an endpoint, delivered as a message (docs/architecture.md, invariant 47): what the
 * service sees as `$message.http`, and where its reply and its failure go; the answer is sent when
 * the trigger runner completes (2xx) or abandons (503) it.
 */
export interface HttpDelivery extends Delivery {
  readonly http: HttpContext;
  /** The reply of a `respond` step; undefined drops an earlier attempt's. */
  reply(reply: Reply | undefined): void;
  failed(failure: MessageFailure): void;
}

/** A fire of a schedule, delivered as a message: its payload is made when the job starts. */
export interface ScheduledDelivery extends Delivery {
  readonly schedule: ScheduleContext;
  /** The fire's payload (an expression is evaluated here); what it throws fails the fire. */
  payloadValue(): Maybe<unknown>;
}

export function isScheduledDelivery(delivery: Delivery): delivery is ScheduledDelivery {
  return (delivery as Partial<ScheduledDelivery>).schedule !== undefined;
}

export function isHttpDelivery(delivery: Delivery): delivery is HttpDelivery {
  return (delivery as Partial<HttpDelivery>).http !== undefined;
}
