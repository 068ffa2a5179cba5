/**
 * The receiving client of one trigger. It takes acknowledgements over from mqtt.js so that a
 * message is acknowledged only when the runtime says it is done, in arrival order, on the network
 * connection it arrived on; and it stops reading when the trigger is full, counting what it holds
 * from earlier connections too. See docs/architecture.md, invariants 1–4, 24 and 33.
 */
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Log } from '../util/log.js';
import { Waiters } from '../util/waiters.js';
import { AckWindow, type WindowEntry } from './ack-window.js';
import { watchConnectionErrors, type ConnectionErrors } from './connection-errors.js';
import type { Delivery, QoS } from './message.js';
import { closeOnProtocolError, endClient, reconnectDelay, useNoDelay } from './reconnect.js';
import { batchWrites } from './write-batch.js';

export type { Delivery } from './message.js';

export interface SubscriberOptions {
  /** mqtt.js options of this client (client id, credentials, TLS, Receive Maximum …). */
  readonly clientOptions: IClientOptions;
  readonly reconnectPeriodMs: number;
  readonly subscriptions: readonly string[];
  readonly qos: QoS;
  /** Messages held at once; when reached, the client stops reading until one is done. */
  readonly capacity: number;
  /** afterProcessing: ack when complete() is called; onReceipt: ack on arrival. */
  readonly ack: 'afterProcessing' | 'onReceipt';
  readonly log: Log;
  /** Where connection failures are reported: shared by the clients of the connection (one line per cause, not per client). */
  readonly errors?: ConnectionErrors;
  readonly onDelivery: (delivery: Delivery) => void;
  /** Called with the reason when the broker refuses a subscription (SUBACK 0x80). */
  readonly onRefused?: (filter: string, reason: string) => void;
  /** Called when the network connection is lost (not when the client is stopped or suspended). */
  readonly onConnectionLost?: () => void;
}

export type SubscriberState = 'connecting' | 'subscribed' | 'refused' | 'reconnecting' | 'suspended' | 'stopped';

/** Passed to mqtt.js's handleMessage callback: it then skips its own PUBACK (we send it later). */
const ACK_LATER = new Error('mqflow acknowledges this message itself');

type SendPacket = (packet: { cmd: string; messageId?: number; reasonCode?: number }, cb?: (error?: Error) => void, cbStorePut?: unknown, noStore?: boolean) => void;

/** Acknowledgements of received messages: they belong to the connection the message came on. */
const RECEIVER_ACKS = new Set(['puback', 'pubrec', 'pubcomp']);

/** A received message: what the trigger gets, and its own entry in the ack window. */
class InboundMessage implements Delivery, WindowEntry {
  done = false;
  completed = false;
  /** Handed to the trigger (not when the subscriber was not accepting). */
  accepted = false;
  abandoned = false;
  /** QoS 2: mqtt.js has stored the message and asked to send its PUBREC (held until the ack is due). */
  pubrecHeld = false;
  /** QoS 2: the ack became due before the PUBREC was held (it is then sent at once). */
  pubrecDue = false;
  readonly receivedAt = Date.now();
  readonly qos: QoS;

  constructor(
    readonly subscriber: Subscriber,
    readonly window: AckWindow<InboundMessage>,
    readonly topic: string,
    readonly payload: Buffer,
    qos: QoS,
    /** The QoS the window acknowledges with: 0 when acknowledged on receipt. */
    readonly ackQos: QoS,
    readonly retain: boolean,
    readonly dup: boolean,
    readonly messageId: number | undefined,
    readonly properties: IPublishPacket['properties'],
  ) {
    this.qos = qos;
  }

  complete(): void {
    if (this.completed || this.abandoned) return;
    this.completed = true;
    this.subscriber.completed(this);
  }

  abandon(): void {
    if (this.completed || this.abandoned) return;
    this.abandoned = true;
    this.subscriber.abandoned(this);
  }

  get connectionLost(): boolean {
    return this.window.closed;
  }
}

export class Subscriber {
  readonly #client: MqttClient;
  readonly #options: SubscriberOptions;
  readonly #log: Log;
  #window: AckWindow<InboundMessage>;
  #state: SubscriberState = 'connecting';
  #attempt = 0;
  #lastError: string | undefined;
  /** mqtt.js callbacks held while the trigger is full (they let it read the next packet). */
  #held: (() => void)[] = [];
  #accepting = true;
  /** Accepted deliveries not yet complete, across connections. */
  #inFlight = 0;
  /** Of those, the ones that came on connections already closed: they still take room (invariant 33). */
  #earlier = 0;
  /** The current network connection got its CONNACK. */
  #established = false;
  readonly #drained = new Waiters();
  #subscribedWaiters: ((subscribed: boolean) => void)[] = [];
  #subscriptions: readonly string[];
  #qos: QoS;
  /** QoS 2 messages of the current connection whose PUBREC is held, by packet id. */
  #qos2 = new Map<number, InboundMessage>();
  readonly #sendPacket: SendPacket;

  constructor(options: SubscriberOptions) {
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.#qos = options.qos;
    this.#log = options.log.child({ clientId: options.clientOptions.clientId });
    this.#window = this.#newWindow();
    this.#client = connect(options.clientOptions);
    useNoDelay(this.#client);
    closeOnProtocolError(this.#client);
    watchConnectionErrors(this.#client, {
      errors: options.errors,
      log: this.#log,
      label: 'trigger client',
      established: () => this.#established,
      active: () => this.#state !== 'stopped' && this.#state !== 'suspended',
      lastError: (text) => (this.#lastError = text),
    });
    const internals = this.#client as unknown as { _sendPacket: SendPacket };
    this.#sendPacket = internals._sendPacket.bind(this.#client);
    const afterProcessing = options.ack === 'afterProcessing';
    // QoS 2 (invariant 24): the message is delivered when it arrives and mqtt.js is let go on at
    // once: it stores the message and asks to send PUBREC, which we keep back until the message
    // is done, so holding it never stops the client from reading the next packet.
    // Set on the client, not in the options: mqtt.js honours the option on MQTT 5 connections only.
    this.#client.options.customHandleAcks = (_topic: string, _message: Buffer, packet: IPublishPacket, done: (error: Error | number, code?: number) => void) => {
      // Packets mqtt.js parsed before the connection closed still come through here afterwards: they
      // are left to the broker, which redelivers them (invariant 33).
      if (packet.qos === 2 && afterProcessing && packet.messageId !== undefined && this.#client.connected) this.#qos2.set(packet.messageId, this.#deliver(packet));
      done(0);
    };
    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      // mqtt.js queues what is sent while disconnected and writes it on the next connection: an
      // acknowledgement due on a connection that is gone must never go out on a later one.
      if (!this.#client.connected && RECEIVER_ACKS.has(packet.cmd)) {
        cb?.();
        return;
      }
      if (packet.cmd === 'pubrec' && packet.reasonCode === undefined && packet.messageId !== undefined) {
        const message = this.#qos2.get(packet.messageId);
        if (message !== undefined && !message.pubrecHeld) {
          message.pubrecHeld = true;
          if (message.pubrecDue) this.#sendPubrec(message);
          // mqtt.js reads on (once the trigger has room); the PUBREC goes when the ack window says so.
          this.#whenRoom(() => cb?.());
          return;
        }
      }
      this.#sendPacket(packet, cb, cbStorePut, noStore);
    };
    this.#client.handleMessage = (packet, callback) => {
      if (packet.qos === 2 && afterProcessing) {
        callback(); // delivered already at PUBLISH time; this is PUBREL → PUBCOMP
        return;
      }
      if (!this.#client.connected) {
        callback(packet.qos === 0 ? undefined : ACK_LATER); // of a closed connection: see above
        return;
      }
      this.#deliver(packet);
      if (!afterProcessing || packet.qos === 0) this.#whenRoom(() => callback());
      else this.#whenRoom(() => callback(ACK_LATER));
    };
    this.#client.on('connect', () => {
      this.#established = true;
      void this.#subscribe();
    });
    this.#client.on('close', () => {
      // Acks due on this connection can never be sent: the broker redelivers those messages. What
      // the trigger still holds of it keeps taking room until it is done or dropped.
      const established = this.#established;
      this.#established = false;
      const closing = this.#window;
      closing.close();
      for (const message of closing.pending()) if (message.accepted && !message.completed && !message.abandoned) this.#earlier++;
      this.#window = this.#newWindow();
      this.#qos2 = new Map();
      this.#releaseHeld();
      if (this.#state === 'stopped' || this.#state === 'suspended') return;
      this.#options.onConnectionLost?.();
      // A connection that got its CONNACK was lost (not a failed attempt to connect, which repeats while the broker is down).
      if (established) this.#log.warn({ event: 'disconnected' }, 'trigger client lost its connection; reconnecting');
      this.#state = 'reconnecting';
      this.#client.options.reconnectPeriod = reconnectDelay(options.reconnectPeriodMs, this.#attempt++);
    });
  }

  get state(): SubscriberState {
    return this.#state;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  async #subscribe(): Promise<void> {
    this.#attempt = 0;
    this.#client.options.reconnectPeriod = this.#options.reconnectPeriodMs;
    const refused = await this.#send([...this.#subscriptions]);
    if (refused === undefined) return;
    this.#state = refused.length === 0 ? 'subscribed' : 'refused';
    if (refused.length === 0) this.#log.info({ event: 'subscribed', filters: this.#subscriptions, qos: this.#qos }, 'subscribed');
    for (const resolve of this.#subscribedWaiters.splice(0)) resolve(refused.length === 0);
  }

  /** Sends SUBSCRIBE for `filters`; returns the refused ones, or undefined when the request failed. */
  async #send(filters: string[]): Promise<string[] | undefined> {
    let codes: readonly number[];
    try {
      const granted = await this.#client.subscribeAsync(filters, { qos: this.#qos });
      codes = filters.map((f) => granted.find((g) => g.topic === f)?.qos ?? 0);
    } catch (error) {
      // mqtt.js rejects when any SUBACK code is a failure (≥ 0x80); the codes are on the packet.
      const granted = (error as { packet?: { granted?: unknown } }).packet?.granted;
      if (!Array.isArray(granted)) {
        this.#lastError = (error as Error).message;
        this.#log.error({ event: 'subscribe-failed', err: { message: (error as Error).message } }, `subscribe failed: ${(error as Error).message}`);
        return undefined;
      }
      codes = granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos));
    }
    const refused = filters.filter((_, i) => (codes[i] ?? 0) >= 0x80);
    for (const filter of refused) {
      const code = codes[filters.indexOf(filter)]!;
      const reason = `the broker refused the subscription to ${filter} (SUBACK 0x${code.toString(16)}${code === 0x87 ? ': not authorized' : ''})`;
      this.#lastError = reason;
      this.#log.error({ event: 'subscription-refused', filter, code }, reason);
      this.#options.onRefused?.(filter, reason);
    }
    return refused;
  }

  /** Resolves true once subscribed (false when refused, or after `timeoutMs`). */
  whenSubscribed(timeoutMs: number): Promise<boolean> {
    if (this.#state === 'subscribed') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#subscribedWaiters.push((subscribed) => {
        clearTimeout(timer);
        resolve(subscribed);
      });
    });
  }

  /**
   * A reload changed the filters or QoS: subscribes `subscribe` first, then unsubscribes
   * `unsubscribe`, on this client (invariant 12). Later reconnects subscribe `subscriptions`.
   */
  async resubscribe(subscriptions: readonly string[], qos: QoS, subscribe: readonly string[], unsubscribe: readonly string[]): Promise<void> {
    this.#subscriptions = subscriptions;
    this.#qos = qos;
    if (this.#state !== 'subscribed' && this.#state !== 'refused') return; // the next connect subscribes the new list
    if (subscribe.length > 0) await this.#send([...subscribe]);
    if (unsubscribe.length > 0) {
      await this.#client.unsubscribeAsync([...unsubscribe]).catch((error: unknown) => {
        this.#log.warn({ event: 'unsubscribe-failed', err: { message: (error as Error).message } }, `unsubscribe failed: ${(error as Error).message}`);
      });
    }
    this.#log.info({ event: 'resubscribed', filters: subscriptions, subscribed: subscribe, unsubscribed: unsubscribe, qos }, 'subscriptions changed');
  }

  #newWindow(): AckWindow<InboundMessage> {
    return new AckWindow<InboundMessage>((message) => {
      if (message.messageId === undefined || !this.#client.connected) return;
      if (message.ackQos === 2) {
        if (message.pubrecHeld) this.#sendPubrec(message);
        else message.pubrecDue = true;
        return;
      }
      batchWrites(this.#client);
      this.#sendPacket({ cmd: 'puback', messageId: message.messageId });
    });
  }

  #sendPubrec(message: InboundMessage): void {
    if (message.window.closed || !this.#client.connected) return;
    this.#qos2.delete(message.messageId!);
    batchWrites(this.#client);
    this.#sendPacket({ cmd: 'pubrec', messageId: message.messageId });
  }

  /**
   * Hands a message to the trigger, unless it is not accepting: it then stays in the window, never
   * done, so neither it nor anything after it on this connection is acknowledged (the broker keeps them).
   */
  #deliver(packet: IPublishPacket): InboundMessage {
    const window = this.#window;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const ackQos: QoS = this.#options.ack === 'onReceipt' ? 0 : packet.qos;
    const message = new InboundMessage(this, window, packet.topic, payload, packet.qos, ackQos, packet.retain, packet.dup, packet.messageId, packet.properties);
    window.push(message);
    if (!this.#accepting) return message; // draining or suspended: the message stays with the broker
    message.accepted = true;
    this.#inFlight++;
    this.#options.onDelivery(message);
    return message;
  }

  /** A delivery is done: its ack goes out when every earlier message of its connection is done too. */
  completed(message: InboundMessage): void {
    message.window.complete(message);
    this.#settled(message);
  }

  /** The trigger dropped a delivery unfinished: it stays unacknowledged (and holds back the acks after it). */
  abandoned(message: InboundMessage): void {
    this.#settled(message);
  }

  #settled(message: InboundMessage): void {
    if (message.window.closed) this.#earlier--;
    this.#wake();
    if (--this.#inFlight === 0) this.#drained.wake();
  }

  /** Messages taking room: the current connection's unacknowledged ones, and earlier connections' not yet done. */
  get #occupied(): number {
    return this.#window.size + this.#earlier;
  }

  /** Runs `next` (letting mqtt.js read on) now, or once the trigger has room again. */
  #whenRoom(next: () => void): void {
    if (this.#occupied < this.#options.capacity) next();
    else this.#held.push(next);
  }

  #wake(): void {
    while (this.#held.length > 0 && this.#occupied < this.#options.capacity) this.#held.shift()!();
  }

  #releaseHeld(): void {
    const held = this.#held;
    this.#held = [];
    for (const next of held) next();
  }

  /** Stops taking messages; those arriving from now on are neither processed nor acknowledged. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Resolves true when every message this client delivered is done (its ack sent), false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean> {
    return this.#inFlight === 0 ? Promise.resolve(true) : this.#drained.wait(timeoutMs);
  }

  /** Disconnects, keeping the session: what was not acknowledged is redelivered on resume. */
  async suspend(): Promise<void> {
    this.#state = 'suspended';
    this.#accepting = false;
    await new Promise<void>((resolve) => this.#client.end(true, {}, () => resolve()));
  }

  resume(): void {
    if (this.#state !== 'suspended') return;
    this.#state = 'connecting';
    this.#accepting = true;
    this.#client.reconnect();
  }

  /**
   * Unsubscribes every filter while still taking messages: once the UNSUBACK is in, every message
   * the broker routed to this client has arrived (TCP keeps the order), so stopping afterwards
   * drops nothing (a reload's overlap, invariant 13). False when it failed or took over `timeoutMs`.
   */
  async unsubscribeAll(timeoutMs: number): Promise<boolean> {
    if (!this.#client.connected || (this.#state !== 'subscribed' && this.#state !== 'refused')) return true;
    return Promise.race([
      this.#client.unsubscribeAsync([...this.#subscriptions]).then(
        () => true,
        (error: unknown) => {
          this.#log.warn({ event: 'unsubscribe-failed', err: { message: (error as Error).message } }, `unsubscribe failed: ${(error as Error).message}`);
          return false;
        },
      ),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref()),
    ]);
  }

  /** Disconnects cleanly, or forcibly after `graceMs` (a broker gone or frozen, invariant 30). */
  async stop(graceMs = 1000): Promise<void> {
    this.#state = 'stopped';
    this.#accepting = false;
    for (const resolve of this.#subscribedWaiters.splice(0)) resolve(false);
    await endClient(this.#client, false, graceMs);
  }
}
