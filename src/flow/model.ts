/**
 * The compiled flow model: what the runtime runs. Produced by compile, deeply frozen, never
 * changed afterwards; a reload builds a new model and the engine diffs the two. Connections and
 * triggers are made of the parts their options compile (src/connections, src/triggers).
 */
import type { Identity } from '../connections/identity.js';
import type { PublishLimits } from '../connections/publish-limits.js';
import type { CloseMessage, MessageTemplate } from '../connections/lifecycle.js';
import type { SessionSettings } from '../connections/session.js';
import type { Timing } from '../connections/timing.js';
import type { TlsOptions } from '../connections/tls.js';
import type { PayloadSchema } from '../pipeline/payload-schema.js';
import type { Step } from '../pipeline/step.js';
import type { AckMode } from '../triggers/delivery.js';
import type { ErrorRoute } from '../triggers/on-error.js';
import type { PayloadDecoding, PayloadPart } from '../triggers/payload.js';
import type { Processing } from '../triggers/processing.js';
import type { RetryPolicy } from '../triggers/retry.js';
import type { Subscription } from '../triggers/subscription.js';
import type { StoreSettings } from '../stores/store-options.js';
import type { WindowSettings } from '../windows/window-options.js';
import type { ListenerSettings } from '../listeners/listener-options.js';
import type { Route } from '../listeners/endpoint-options.js';
import type { ScheduleSettings } from '../schedules/schedule-options.js';
import type { SourcePosition } from '../util/position.js';

export type { QoS } from '../mqtt/message.js';
export type { MessageTemplate, TlsOptions, Processing, RetryPolicy, ErrorRoute, PayloadDecoding, Step };

/** Where a definition was written, for runtime messages that point back at the flow file. */
export interface Definition {
  readonly name: string;
  readonly description?: string;
  readonly enabled: boolean;
  readonly at: SourcePosition;
  /** Hash of the normalized definition: equal fingerprints mean nothing changed. */
  readonly fingerprint: string;
}

export interface Connection extends Definition, Identity, SessionSettings, Timing, PublishLimits {
  /** Broker URLs, tried in turn. */
  readonly urls: readonly string[];
  readonly tls?: TlsOptions;
  readonly offlineQueueSize: number;
  readonly will?: MessageTemplate;
  readonly birth?: MessageTemplate;
  /** Published before a clean disconnect (docs/architecture.md, invariant 60). */
  readonly close?: CloseMessage;
}

/** A state store (docs/architecture.md, "State"); `memory` exists in every model. */
export interface Store extends Definition, StoreSettings {}

/** An HTTP listener (docs/architecture.md, "HTTP in and out"): endpoints are bound to it. */
export interface Listener extends Definition, ListenerSettings {}

/** An HTTP trigger: a method and path of a listener, run as messages of a trigger runner (invariant 47). */
export interface Endpoint extends Definition, Route, PayloadPart {
  readonly processing: Processing;
  readonly retry: RetryPolicy;
  readonly onError?: ErrorRoute;
}

/** A schedule (docs/architecture.md, "Schedules"): fires run as messages of a serial trigger runner. */
export interface Schedule extends Definition, ScheduleSettings {
  readonly processing: Processing;
  readonly queueSize: number;
  readonly retry: RetryPolicy;
  readonly onError?: ErrorRoute;
  /** JobTrigger's decoding: a fire has no bytes to decode (its payload is made at the fire). */
  readonly payload: PayloadDecoding;
  readonly maxPayloadBytes: number;
}

/** A window (docs/architecture.md, "Windows"): fed by `collect` steps, its steps run as each window closes. */
export interface Window extends Definition, WindowSettings {}

export interface Trigger extends Definition, Subscription, PayloadPart {
  readonly processing: Processing;
  readonly ack: AckMode;
  readonly queueSize: number;
  readonly retry: RetryPolicy;
  readonly onError?: ErrorRoute;
}

export interface Service extends Definition {
  readonly input?: PayloadSchema;
  readonly steps: readonly Step[];
}

export interface FlowModel {
  readonly connections: ReadonlyMap<string, Connection>;
  /** Declared stores, and the default `memory` store unless one is declared by that name. */
  readonly stores: ReadonlyMap<string, Store>;
  readonly windows: ReadonlyMap<string, Window>;
  readonly listeners: ReadonlyMap<string, Listener>;
  readonly triggers: ReadonlyMap<string, Trigger>;
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly schedules: ReadonlyMap<string, Schedule>;
  readonly services: ReadonlyMap<string, Service>;
  /** The flow files the model was built from, as displayed. */
  readonly files: readonly string[];
  /** Every value resolved from `${env:…}` or `${file:…}`, for redaction in output. */
  readonly secrets: readonly string[];
}
