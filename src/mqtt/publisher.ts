/**
 * The publishing client of a connection: every publish step, error route and birth message goes
 * through it. Publishes made while the connection is down wait in a bounded queue; beyond the
 * bound they fail at once (never a silent drop). See docs/architecture.md.
 */
import { connect, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { Connection } from '../flow/model.js';
import type { Log } from '../engine/log.js';
import { clientOptions, reconnectDelay, useNoDelay } from './client-options.js';

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

export interface OutgoingMessage {
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly properties?: IClientPublishOptions['properties'];
}

export class Publisher {
  readonly #client: MqttClient;
  readonly #log: Log;
  #state: ConnectionState = 'connecting';
  #attempt = 0;
  #deferred: boolean;
  #waiting = 0;
  #lastError: string | undefined;
  readonly #pending = new Set<Promise<void>>();
  readonly reconnects = { count: 0 };
  /** Publishes by outcome, for metrics and status. */
  readonly publishes = { ok: 0, failed: 0 };

  /**
   * With `deferConnect`, the client connects only when start() is called; publishes wait in the
   * offline queue until then (a reload's replacement waits for the old client to disconnect).
   */
  constructor(
    readonly connection: Connection,
    clientId: string,
    log: Log,
    options: { deferConnect?: boolean } = {},
  ) {
    this.#log = log.child({ connection: connection.name, clientId });
    this.#deferred = options.deferConnect === true;
    this.#client = connect({
      ...clientOptions(connection, { clientId, ...(connection.will === undefined ? {} : { will: connection.will }) }),
      ...(options.deferConnect === true ? { manualConnect: true } : {}),
    });
    useNoDelay(this.#client);
    this.#client.on('connect', () => {
      if (this.#state !== 'connecting') this.reconnects.count++;
      this.#state = 'connected';
      this.#attempt = 0;
      this.#client.options.reconnectPeriod = connection.reconnectPeriodMs;
      this.#log.info({ event: 'connected' }, `connection ${connection.name} connected`);
      if (connection.birth !== undefined) {
        const b = connection.birth;
        this.publish({ topic: b.topic, payload: b.payload, qos: b.qos, retain: b.retain }).catch((error: unknown) => {
          this.#log.warn({ event: 'birth-failed', err: error }, `birth message of ${connection.name} failed`);
        });
      }
    });
    this.#client.on('close', () => {
      if (this.#state === 'stopped') return;
      if (this.#state === 'connected') this.#log.warn({ event: 'disconnected' }, `connection ${connection.name} lost; reconnecting`);
      this.#state = 'reconnecting';
      this.#client.options.reconnectPeriod = reconnectDelay(connection.reconnectPeriodMs, this.#attempt++);
    });
    this.#client.on('error', (error) => {
      this.#lastError = error.message;
      this.#log.error({ event: 'connection-error', err: { message: error.message, code: (error as { code?: unknown }).code } }, `connection ${connection.name}: ${error.message}`);
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

  /** Resolves when the broker acknowledged the message (QoS 1/2) or it was written (QoS 0). */
  publish(message: OutgoingMessage): Promise<void> {
    if (this.#state === 'stopped') {
      this.publishes.failed++;
      return Promise.reject(new PublishError(`connection ${this.connection.name} is stopped`, 'MQFLOW_PUBLISH_STOPPED'));
    }
    const offline = this.#state !== 'connected';
    if (offline && this.#waiting >= this.connection.offlineQueueSize) {
      this.publishes.failed++;
      return Promise.reject(
        new PublishError(`connection ${this.connection.name} is down and ${this.#waiting} publishes already wait (offlineQueueSize)`, 'MQFLOW_PUBLISH_QUEUE_FULL'),
      );
    }
    if (offline) this.#waiting++;
    const done = new Promise<void>((resolve, reject) => {
      this.#client.publish(message.topic, message.payload, { qos: message.qos, retain: message.retain, ...(message.properties === undefined ? {} : { properties: message.properties }) }, (error) => {
        if (offline) this.#waiting--;
        if (error) {
          this.publishes.failed++;
          reject(new PublishError(`publish to ${message.topic} failed: ${error.message}`, 'MQFLOW_PUBLISH_FAILED'));
        } else {
          this.publishes.ok++;
          resolve();
        }
      });
    });
    this.#pending.add(done);
    const forget = (): void => {
      this.#pending.delete(done);
    };
    done.then(forget, forget);
    return done;
  }

  /** Waits (up to `timeoutMs`) for publishes in flight, then disconnects cleanly. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#state === 'stopped') return;
    await Promise.race([Promise.allSettled([...this.#pending]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.#state = 'stopped';
    await new Promise<void>((resolve) => this.#client.end(false, {}, () => resolve()));
  }
}
