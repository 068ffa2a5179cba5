/**
 * The publishing client of a connection: every publish step, error route and birth message goes
 * through it. A publish is handed over synchronously, in order (docs/architecture.md, invariant
 * 22), and its tracker is told when the broker acknowledged it. Publishes made while the connection
 * is down wait in a bounded queue; beyond the bound they are refused at once (never a silent drop).
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Log } from '../util/log.js';
import { Waiters } from '../util/waiters.js';
import type { OutgoingMessage, OutputTracker, QoS } from './message.js';
import { reconnectDelay, useNoDelay } from './reconnect.js';
import { batchWrites } from './write-batch.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export class PublishError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

export interface PublisherOptions {
  /** The connection's name, for messages and logs. */
  readonly name: string;
  readonly clientOptions: IClientOptions;
  readonly reconnectPeriodMs: number;
  /** Publishes that may wait while the connection is down. */
  readonly offlineQueueSize: number;
  /** Published each time the connection is established. */
  readonly birth?: { readonly topic: string; readonly payload: string; readonly qos: QoS; readonly retain: boolean };
  readonly log: Log;
  /** Connect only when start() is called; publishes wait in the offline queue until then (a reload's replacement waits for the old client to disconnect). */
  readonly deferConnect?: boolean;
}

export class Publisher {
  readonly name: string;
  readonly #client: MqttClient;
  readonly #options: PublisherOptions;
  readonly #log: Log;
  #state: ConnectionState = 'connecting';
  #attempt = 0;
  #deferred: boolean;
  #waiting = 0;
  #lastError: string | undefined;
  /** Publishes handed and not yet settled; stop() waits for them. */
  #unsettled = 0;
  readonly #settled = new Waiters();
  readonly reconnects = { count: 0 };
  /** Publishes by outcome, for metrics and status. */
  readonly publishes = { ok: 0, failed: 0 };

  constructor(options: PublisherOptions) {
    this.name = options.name;
    this.#options = options;
    this.#log = options.log.child({ connection: options.name, clientId: options.clientOptions.clientId });
    this.#deferred = options.deferConnect === true;
    this.#client = connect({ ...options.clientOptions, ...(this.#deferred ? { manualConnect: true } : {}) });
    useNoDelay(this.#client);
    this.#client.on('connect', () => {
      if (this.#state !== 'connecting') this.reconnects.count++;
      this.#state = 'connected';
      this.#attempt = 0;
      this.#client.options.reconnectPeriod = options.reconnectPeriodMs;
      this.#log.info({ event: 'connected' }, `connection ${options.name} connected`);
      const birth = options.birth;
      if (birth !== undefined) {
        this.publish({ topic: birth.topic, payload: birth.payload, qos: birth.qos, retain: birth.retain }).catch((error: unknown) => {
          this.#log.warn({ event: 'birth-failed', err: error }, `birth message of ${options.name} failed`);
        });
      }
    });
    this.#client.on('close', () => {
      if (this.#state === 'stopped') return;
      if (this.#state === 'connected') this.#log.warn({ event: 'disconnected' }, `connection ${options.name} lost; reconnecting`);
      this.#state = 'reconnecting';
      this.#client.options.reconnectPeriod = reconnectDelay(options.reconnectPeriodMs, this.#attempt++);
    });
    this.#client.on('error', (error) => {
      this.#lastError = error.message;
      this.#log.error({ event: 'connection-error', err: { message: error.message, code: (error as { code?: unknown }).code } }, `connection ${options.name}: ${error.message}`);
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Connects a client made with `deferConnect`. */
  start(): void {
    if (!this.#deferred || this.#state === 'stopped') return;
    this.#deferred = false;
    this.#client.connect();
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Publishes waiting for the connection to come back. */
  get offlineQueueDepth(): number {
    return this.#waiting;
  }

  /**
   * Hands `message` to the client, which writes it (or queues it while offline) in the order it
   * was handed; `tracker` is told once it is acknowledged (QoS 1/2) or written (QoS 0), or failed.
   * Throws a PublishError, and tells the tracker nothing, when the message cannot be taken.
   */
  send(message: OutgoingMessage, tracker: OutputTracker): void {
    if (this.#state === 'stopped') {
      this.publishes.failed++;
      throw new PublishError(`connection ${this.name} is stopped`, 'MQFLOW_PUBLISH_STOPPED');
    }
    const offline = this.#state !== 'connected';
    if (offline && this.#waiting >= this.#options.offlineQueueSize) {
      this.publishes.failed++;
      throw new PublishError(`connection ${this.name} is down and ${this.#waiting} publishes already wait (offlineQueueSize)`, 'MQFLOW_PUBLISH_QUEUE_FULL');
    }
    if (offline) this.#waiting++;
    this.#unsettled++;
    tracker.outputHanded();
    batchWrites(this.#client);
    this.#client.publish(message.topic, message.payload, message.properties === undefined ? { qos: message.qos, retain: message.retain } : { qos: message.qos, retain: message.retain, properties: message.properties }, (error) => {
      if (offline) this.#waiting--;
      if (error) this.publishes.failed++;
      else this.publishes.ok++;
      if (--this.#unsettled === 0) this.#settled.wake();
      tracker.outputSettled(error ? new PublishError(`publish to ${message.topic} failed: ${error.message}`, 'MQFLOW_PUBLISH_FAILED') : undefined);
    });
  }

  /** send() as a promise: resolves once the broker acknowledged the message (QoS 1/2) or it was written (QoS 0). */
  publish(message: OutgoingMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.send(message, {
        outputHanded() {},
        outputSettled(error) {
          if (error === undefined) resolve();
          else reject(error);
        },
      });
    });
  }

  /** Waits (up to `timeoutMs`) for publishes in flight, then disconnects cleanly. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#state === 'stopped') return;
    if (this.#unsettled > 0) await this.#settled.wait(timeoutMs);
    this.#state = 'stopped';
    await new Promise<void>((resolve) => this.#client.end(false, {}, () => resolve()));
  }
}
