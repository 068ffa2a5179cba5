/**
 * The publishing client of a connection: every publish step, error route and birth message goes
 * through it. A publish is handed over synchronously, in order (docs/architecture.md, invariant
 * 22), and its tracker is told when the broker acknowledged it. Publishes made while the connection
 * is down wait in a bounded queue; beyond the bound they are refused at once (never a silent drop).
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Log } from '../util/log.js';
import { Waiters } from '../util/waiters.js';
import { watchConnectionErrors, type ConnectionErrors } from './connection-errors.js';
import type { OutgoingMessage, OutputTracker, QoS } from './message.js';
import { publishPacketSize } from './packet-size.js';
import { closeOnProtocolError, endClient, reconnectDelay, useNoDelay } from './reconnect.js';
import './tolerant-acks.js';
import { batchWrites } from './write-batch.js';
import { RequestInbox, RequestTimeout, type ReplyMessage } from './request-inbox.js';

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
  /** The largest packet the broker takes, when the flow says (an MQTT 5 broker's CONNACK may say less). */
  readonly maxPacketSize?: number;
  /** How long a publish may wait for its acknowledgement while connected (invariant 29). */
  readonly publishTimeoutMs: number;
  /** Published each time the connection is established. */
  readonly birth?: { readonly topic: string; readonly payload: string; readonly qos: QoS; readonly retain: boolean };
  /**
   * Published by stop() before the clean disconnect (invariant 60). `isWill`: it is the will's
   * message, which an MQTT 5 broker publishes itself on DISCONNECT with reason code 0x04.
   */
  readonly close?: { readonly topic: string; readonly payload: string; readonly qos: QoS; readonly retain: boolean; readonly isWill: boolean };
  /** Where connection failures are reported (one line per cause for all the connection's clients); without it each is logged. */
  readonly errors?: ConnectionErrors;
  readonly log: Log;
  /** Connect only when start() is called; publishes wait in the offline queue until then (a reload's replacement waits for the old client to disconnect). */
  readonly deferConnect?: boolean;
}

/** A publish handed to the client and not settled yet: what the acknowledgement timeout watches. */
interface Pending {
  readonly topic: string;
  readonly sentAt: number;
  settled: boolean;
  /** Why mqflow failed it (timeout, lost connections), rather than mqtt.js or the broker. */
  failure: PublishError | undefined;
  /** Network connections lost while it was the oldest publish waiting for its acknowledgement. */
  lost: number;
  /** Its packet id in mqtt.js's store (QoS 1/2), when known. */
  messageId: number | undefined;
  readonly callback: (error?: Error | null) => void;
}

/** How often the acknowledgement timeout is checked: a publish fails within timeout + this. */
const SWEEP_MS = 250;

/**
 * A publish in flight when this many network connections ended fails: a broker that drops the
 * connection on receiving it (a packet over its limit on MQTT 3.1.1) would otherwise get it again
 * after every reconnect, and the timeout's clock, which runs while connected, might never run out.
 */
const LOST_CONNECTIONS = 3;

/** How long stop() waits for the broker to acknowledge the close message (within the drain deadline). */
const CLOSE_WAIT_MS = 2000;

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
  /**
   * Pending publishes in the order they were handed (the oldest first), for the timeout. Settled
   * ones at the head are let go at once (their slot emptied), not at the next sweep: held for
   * 250 ms, each kept its message's job alive into V8's old generation (measured: the default
   * trigger's CPU per message went from 1.15 × to 1.35 × the relay's with that).
   */
  #pending: (Pending | undefined)[] = [];
  #pendingHead = 0;
  #connectedAt = 0;
  /** The current network connection got its CONNACK (mqtt.js says 'connect' only after resending its store). */
  #established = false;
  /** The largest packet: the flow's maxPacketSize or the broker's (MQTT 5 CONNACK), whichever is smaller. */
  #packetLimit: number;
  readonly #sweep: NodeJS.Timeout;
  readonly reconnects = { count: 0 };
  /** Publishes by outcome, for metrics and status. */
  readonly publishes = { ok: 0, failed: 0 };

  constructor(options: PublisherOptions) {
    this.name = options.name;
    this.#options = options;
    this.#log = options.log.child({ connection: options.name, clientId: options.clientOptions.clientId });
    this.#deferred = options.deferConnect === true;
    this.#packetLimit = options.maxPacketSize ?? Infinity;
    this.#client = connect({ ...options.clientOptions, ...(this.#deferred ? { manualConnect: true } : {}) });
    useNoDelay(this.#client);
    closeOnProtocolError(this.#client);
    watchConnectionErrors(this.#client, {
      errors: options.errors,
      log: this.#log,
      label: `connection ${options.name}`,
      established: () => this.#established,
      active: () => this.#state !== 'stopped',
      lastError: (text) => (this.#lastError = text),
    });
    // CONNACK, before mqtt.js resends what it stored: a connection the broker drops while taking
    // those counts as reached, so a publish it will never take is found out (LOST_CONNECTIONS).
    const internals = this.#client as unknown as { _onConnect: (packet: unknown) => void };
    const onConnect = internals._onConnect.bind(this.#client);
    internals._onConnect = (packet) => {
      this.#established = true;
      this.#connectedAt = Date.now();
      onConnect(packet);
    };
    this.#sweep = setInterval(() => this.#timeOut(), SWEEP_MS);
    this.#sweep.unref();
    this.#client.on('connect', (connack) => {
      if (this.#state !== 'connecting') this.reconnects.count++;
      this.#state = 'connected';
      const announced = connack.properties?.maximumPacketSize;
      this.#packetLimit = Math.min(options.maxPacketSize ?? Infinity, announced ?? Infinity);
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
      if (this.#established) this.#connectionLost();
      this.#established = false;
      if (this.#state === 'connected') this.#log.warn({ event: 'disconnected' }, `connection ${options.name} lost; reconnecting`);
      this.#state = 'reconnecting';
      this.#client.options.reconnectPeriod = reconnectDelay(options.reconnectPeriodMs, this.#attempt++);
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
    if (this.#packetLimit !== Infinity) {
      const size = publishPacketSize(message, this.#client.options.protocolVersion === 5);
      if (size > this.#packetLimit) {
        this.publishes.failed++;
        throw new PublishError(`not published to ${message.topic}: the message is ${size} bytes, over the maximum packet size of ${this.#packetLimit} bytes of connection ${this.name}`, 'MQFLOW_PUBLISH_TOO_LARGE');
      }
    }
    if (offline) this.#waiting++;
    this.#unsettled++;
    tracker.outputHanded();
    const pending: Pending = {
      topic: message.topic,
      sentAt: Date.now(),
      settled: false,
      failure: undefined,
      lost: 0,
      messageId: undefined,
      // mqtt.js calls back with no error, null or an Error.
      callback: (error?: Error | null) => {
        if (pending.settled) return;
        pending.settled = true;
        if (offline) this.#waiting--;
        if (error) this.publishes.failed++;
        else this.publishes.ok++;
        if (--this.#unsettled === 0) this.#settled.wake();
        this.#letGo();
        tracker.outputSettled(error ? (pending.failure ?? this.#refusal(message, error)) : undefined);
      },
    };
    this.#pending.push(pending);
    batchWrites(this.#client);
    const client = this.#client as unknown as { _storeProcessing?: boolean; _storeProcessingQueue?: unknown[] };
    // mqtt.js allocates the packet id in publish() unless it is resending its store (then later).
    const idNow = message.qos > 0 && client._storeProcessing !== true && (client._storeProcessingQueue?.length ?? 0) === 0;
    this.#client.publish(message.topic, message.payload, message.properties === undefined ? { qos: message.qos, retain: message.retain } : { qos: message.qos, retain: message.retain, properties: message.properties }, pending.callback);
    if (idNow && !pending.settled) pending.messageId = this.#client.getLastMessageId();
  }

  /** Empties the slots of the settled publishes at the head, and compacts the list now and then. */
  #letGo(): void {
    const pending = this.#pending;
    let head = this.#pendingHead;
    while (head < pending.length && pending[head]?.settled !== false) pending[head++] = undefined;
    this.#pendingHead = head;
    if (head === pending.length) {
      pending.length = 0;
      this.#pendingHead = 0;
    } else if (head > 1024 && head * 2 > pending.length) {
      this.#pending = pending.slice(head);
      this.#pendingHead = 0;
    }
  }

  /** What a publish mqtt.js failed is reported as: refused by the broker (a reason code), or failed. */
  #refusal(message: OutgoingMessage, error: Error): PublishError {
    const reason = (error as { code?: unknown }).code;
    if (typeof reason === 'number' && reason >= 0x80) {
      return new PublishError(`publish to ${message.topic} refused by the broker: ${error.message.replace(/^Publish error: /, '')} (reason code 0x${reason.toString(16)})`, 'MQFLOW_PUBLISH_REFUSED');
    }
    return new PublishError(`publish to ${message.topic} failed: ${error.message}`, 'MQFLOW_PUBLISH_FAILED');
  }

  /**
   * A connection that had reached the broker ended. The broker takes publishes in order, so the
   * oldest one still waiting is the likeliest cause: after LOST_CONNECTIONS in a row it fails.
   */
  #connectionLost(): void {
    let i = this.#pendingHead;
    while (i < this.#pending.length && this.#pending[i]?.settled !== false) i++;
    const oldest = this.#pending[i];
    if (oldest !== undefined && ++oldest.lost >= LOST_CONNECTIONS) {
      this.#fail(oldest, new PublishError(`publish to ${oldest.topic} failed: the connection to the broker was lost ${LOST_CONNECTIONS} times while it waited for its acknowledgement (a message the broker will not take?)`, 'MQFLOW_PUBLISH_FAILED'));
    }
  }

  /** Fails a publish with `failure` and takes it out of mqtt.js's store, so it is not sent again. */
  #fail(pending: Pending, failure: PublishError): void {
    pending.failure = failure;
    const outgoing = (this.#client as unknown as { outgoing: Record<number, { cb?: unknown } | undefined> }).outgoing;
    const messageId = pending.messageId ?? Number(Object.keys(outgoing).find((id) => outgoing[Number(id)]?.cb === pending.callback) ?? NaN);
    // removeOutgoingMessage calls the publish's callback with its own error: ours goes first.
    if (!pending.settled) pending.callback(failure);
    if (!Number.isNaN(messageId) && outgoing[messageId] !== undefined) this.#client.removeOutgoingMessage(messageId);
  }

  /**
   * Fails the publishes that waited longer than publishTimeout for their acknowledgement while
   * connected, and takes them out of mqtt.js's store, so they are not sent again on a reconnect
   * (a message the broker cannot take would otherwise come back after every reconnect).
   */
  #timeOut(): void {
    this.#letGo();
    if (this.#state !== 'connected') return;
    const now = Date.now();
    const timeout = this.#options.publishTimeoutMs;
    // Found first, failed after: failing one lets the settled ones go, which changes the list.
    const expired: Pending[] = [];
    for (let i = this.#pendingHead; i < this.#pending.length; i++) {
      const pending = this.#pending[i];
      if (pending === undefined || pending.settled) continue;
      // The clock starts when the publish was handed, or again at a reconnect (mqtt.js resends it).
      if (now - Math.max(pending.sentAt, this.#connectedAt) <= timeout) break;
      expired.push(pending);
    }
    for (const pending of expired) {
      this.#fail(pending, new PublishError(`publish to ${pending.topic} failed: no acknowledgement from the broker within ${timeout} ms (publishTimeout of connection ${this.name})`, 'MQFLOW_PUBLISH_TIMEOUT'));
    }
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

  /** This client's replies, once it made a request. */
  #inbox: RequestInbox | undefined;

  get inbox(): RequestInbox | undefined {
    return this.#inbox;
  }

  /**
   * MQTT 5 request/response: hands `message` with this client's response topic and a correlation
   * data of its own (as send() does: `tracker` hears of the publish), and resolves with the reply
   * matched to it, or rejects after `timeoutMs` (RequestTimeout) or when it cannot be sent.
   */
  async request(message: OutgoingMessage, timeoutMs: number, tracker: OutputTracker): Promise<ReplyMessage> {
    if (this.#client.options.protocolVersion !== 5) {
      throw new PublishError(`connection ${this.name} speaks MQTT 3.1.1: a request needs MQTT 5 (protocolVersion: 5) for its response topic and correlation data`, 'MQFLOW_REQUEST_PROTOCOL');
    }
    const inbox = (this.#inbox ??= new RequestInbox(this.#client, String(this.#client.options.clientId)));
    // Not connected yet, the subscription waits: the request's timeout covers that wait too.
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([inbox.ready(), new Promise((_, reject) => (timer = setTimeout(() => reject(new RequestTimeout(`connection ${this.name} could not subscribe to its reply topic within ${timeoutMs} ms`)), timeoutMs)))]);
    } finally {
      clearTimeout(timer);
    }
    const { correlationData, reply, cancel } = inbox.expect(Math.max(1, timeoutMs - (Date.now() - started)));
    const properties = { ...message.properties, responseTopic: inbox.topic, correlationData };
    try {
      this.send({ ...message, properties }, tracker);
    } catch (error) {
      cancel(error as Error);
    }
    return reply;
  }

  /**
   * Waits (up to `timeoutMs`) for publishes in flight, then disconnects: cleanly when they all
   * settled, forcibly when some did not (a broker gone or frozen would hold a clean disconnect
   * for ever; invariant 30). Resolves with the number of publishes left unconfirmed. Unless
   * `announce` is false (a reload switching clients), the close message goes first (invariant 60).
   */
  async stop(timeoutMs: number, options: { readonly announce?: boolean } = {}): Promise<number> {
    this.#inbox?.close(new PublishError(`connection ${this.name} is stopping`, 'MQFLOW_PUBLISH_STOPPED'));
    if (this.#state === 'stopped') return 0;
    const deadline = Date.now() + timeoutMs;
    if (this.#unsettled > 0) await this.#settled.wait(timeoutMs);
    const left = this.#unsettled;
    const close = options.announce === false || left > 0 || this.#state !== 'connected' ? undefined : this.#options.close;
    let ending: { force: boolean; reasonCode?: number } = { force: left > 0 };
    if (close !== undefined) ending = await this.#announceClose(close, Math.max(0, deadline - Date.now()));
    this.#state = 'stopped';
    clearInterval(this.#sweep);
    await endClient(this.#client, ending.force, Math.min(timeoutMs, 1000), ending.reasonCode);
    return left;
  }

  /**
   * Publishes the close message and says how to disconnect. The will's message on MQTT 5: DISCONNECT
   * with reason code 0x04 makes the broker publish it. Otherwise mqflow publishes it and waits for its
   * acknowledgement (at most CLOSE_WAIT_MS); unconfirmed, the client ends without DISCONNECT, so the
   * broker publishes the will, if there is one, rather than nothing.
   */
  async #announceClose(close: NonNullable<PublisherOptions['close']>, timeoutMs: number): Promise<{ force: boolean; reasonCode?: number }> {
    if (close.isWill && this.#client.options.protocolVersion === 5) return { force: false, reasonCode: 0x04 };
    let timer: NodeJS.Timeout | undefined;
    const published = await Promise.race([
      this.publish({ topic: close.topic, payload: Buffer.from(close.payload), qos: close.qos, retain: close.retain }).then(
        () => true,
        (error: unknown) => {
          this.#log.warn({ event: 'close-message-failed', err: { message: (error as Error).message } }, `close message of connection ${this.name} failed: ${(error as Error).message}`);
          return false;
        },
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.min(CLOSE_WAIT_MS, timeoutMs)))),
    ]);
    clearTimeout(timer);
    if (published) {
      this.#log.debug({ event: 'close-message', topic: close.topic }, `close message of connection ${this.name} published to ${close.topic}`);
      return { force: false };
    }
    const willFollows = this.#client.options.will !== undefined;
    this.#log.warn({ event: 'close-message-failed', topic: close.topic }, `close message of connection ${this.name} not confirmed by the broker${willFollows ? '; disconnecting without DISCONNECT, so the broker publishes the will' : ''}`);
    return { force: willFollows };
  }
}
