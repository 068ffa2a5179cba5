/**
 * The compiled flow model: what the runtime runs. Produced by compile, deeply frozen, never
 * changed afterwards; a reload builds a new model and the engine diffs the two.
 */
import type { Step } from '../steps/step.js';
import type { PayloadSchema } from './payload-schema.js';
import type { SourcePosition } from './problem.js';
import type { Secret } from './secret.js';

export type QoS = 0 | 1 | 2;

/** Where a definition was written, for runtime messages that point back at the flow file. */
export interface Definition {
  readonly name: string;
  readonly description?: string;
  readonly enabled: boolean;
  readonly at: SourcePosition;
  /** Hash of the normalized definition: equal fingerprints mean nothing changed. */
  readonly fingerprint: string;
}

export interface MessageTemplate {
  readonly topic: string;
  readonly payload: string;
  readonly qos: QoS;
  readonly retain: boolean;
}

export interface TlsOptions {
  /** PEM contents, read at load from the files the flow names. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: Secret;
  readonly passphrase?: Secret;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
}

export interface Connection extends Definition {
  /** Broker URLs, tried in turn. */
  readonly urls: readonly string[];
  readonly clientId?: string;
  readonly username?: Secret;
  readonly password?: Secret;
  readonly protocolVersion: 4 | 5;
  readonly cleanSession: boolean;
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  readonly reconnectPeriodMs: number;
  readonly tls?: TlsOptions;
  readonly offlineQueueSize: number;
  readonly will?: MessageTemplate;
  readonly birth?: MessageTemplate;
}

export type Processing = { readonly mode: 'serial' } | { readonly mode: 'concurrent'; readonly maxConcurrency: number };

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly delayMs: number;
  readonly backoff: 'fixed' | 'exponential';
  readonly maxDelayMs: number;
}

export type ErrorRoute =
  | { readonly kind: 'publish'; readonly connection?: string; readonly topic: string; readonly qos: QoS; readonly retain: boolean }
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'suspend'; readonly resumeAfterMs: number };

export type PayloadDecoding = 'json' | 'text' | 'binary';

export interface Trigger extends Definition {
  readonly connection: string;
  /** The filters as written (without the `$share/` prefix added by `share`). */
  readonly topics: readonly string[];
  /** What is sent in SUBSCRIBE: the filters, each as `$share/<group>/<filter>` when `share` is set. */
  readonly subscriptions: readonly string[];
  readonly share?: string;
  readonly qos: QoS;
  readonly service: string;
  readonly processing: Processing;
  readonly payload: PayloadDecoding;
  readonly ack: 'afterProcessing' | 'onReceipt';
  readonly queueSize: number;
  readonly maxPayloadBytes: number;
  readonly retry: RetryPolicy;
  readonly onError?: ErrorRoute;
}

export interface Service extends Definition {
  readonly input?: PayloadSchema;
  readonly steps: readonly Step[];
}

export interface FlowModel {
  readonly connections: ReadonlyMap<string, Connection>;
  readonly triggers: ReadonlyMap<string, Trigger>;
  readonly services: ReadonlyMap<string, Service>;
  /** The flow files the model was built from, as displayed. */
  readonly files: readonly string[];
  /** Every value resolved from `${env:…}` or `${file:…}`, for redaction in output. */
  readonly secrets: readonly string[];
}
