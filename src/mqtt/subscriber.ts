/**
 * The receiving client of one trigger. It takes acknowledgements over from mqtt.js so that a
 * message is acknowledged only when the runtime says it is done, in arrival order, on the network
 * connection it arrived on; and it stops reading when the trigger is full. See docs/architecture.md.
 */
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import { AckWindow, type WindowEntry } from '../engine/ack-window.js';
import type { Log } from '../engine/log.js';
import type { Connection, QoS } from '../flow/model.js';
import { clientOptions, reconnectDelay, useNoDelay } from './client-options.js';

export interface Delivery {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  readonly messageId: number | undefined;
  readonly properties: IPublishPacket['properties'];
  /** Date.now() when the message arrived. */
  readonly receivedAt: number;
  /** Marks the message done: its acknowledgement goes out when every earlier message is done too. */
  complete(): void;
}

export interface SubscriberOptions {
  readonly connection: Connection;
  readonly clientId: string;
  readonly subscriptions: readonly string[];
  readonly qos: QoS;
  /** Messages held at once; when reached, the client stops reading until one is done. */
  readonly capacity: number;
  /** afterProcessing: ack when complete() is called; onReceipt: ack on arrival. */
  readonly ack: 'afterProcessing' | 'onReceipt';
  readonly log: Log;
  readonly onDelivery: (delivery: Delivery) => void;
  /** Called with the reason when the broker refuses a subscription (SUBACK 0x80). */
  readonly onRefused?: (filter: string, reason: string) => void;
}

export type SubscriberState = 'connecting' | 'subscribed' | 'refused' | 'reconnecting' | 'suspended' | 'stopped';

/** Passed to mqtt.js's handleMessage callback: it then skips its own PUBACK (we send it later). */
const ACK_LATER = new Error('mqflow acknowledges this message itself');

type SendPacket = (packet: { cmd: 'puback'; messageId: number }) => void;

export class Subscriber {
  readonly #client: MqttClient;
  readonly #options: SubscriberOptions;
  readonly #log: Log;
  #window: AckWindow;
  #state: SubscriberState = 'connecting';
  #attempt = 0;
  #lastError: string | undefined;
  /** mqtt.js callbacks held while the trigger is full (they let it read the next packet). */
  #held: (() => void)[] = [];
  #accepting = true;
  /** Accepted deliveries not yet complete, across connections. */
  #inFlight = 0;
  #drainWaiters: (() => void)[] = [];
  #subscribedWaiters: ((subscribed: boolean) => void)[] = [];
  #subscriptions: readonly string[];
  #qos: QoS;

  constructor(options: SubscriberOptions) {
    this.#options = options;
    this.#subscriptions = options.subscriptions;
    this.#qos = options.qos;
    this.#log = options.log.child({ clientId: options.clientId });
    this.#window = this.#newWindow();
    const mqttOptions = clientOptions(options.connection, { clientId: options.clientId, receiveMaximum: Math.min(65535, options.capacity) });
    this.#client = connect(mqttOptions);
    useNoDelay(this.#client);
    // QoS 2: PUBREC is the acknowledgement; it waits until the message is done (see #deliver).
    // Set on the client, not in the options: mqtt.js honours the option on MQTT 5 connections only.
    this.#client.options.customHandleAcks = (_topic: string, _message: Buffer, packet: IPublishPacket, done: (error: Error | number, code?: number) => void) => {
      if (packet.qos === 2 && options.ack === 'afterProcessing') this.#deliver(packet, (code) => done(code));
      else done(0);
    };
    this.#client.handleMessage = (packet, callback) => {
      if (packet.qos === 2 && options.ack === 'afterProcessing') {
        callback(); // delivered already at PUBLISH time (customHandleAcks); this is PUBREL → PUBCOMP
        return;
      }
      if (options.ack === 'onReceipt' || packet.qos === 0) {
        this.#deliver(packet, undefined);
        this.#whenRoom(() => callback());
        return;
      }
      this.#deliver(packet, undefined);
      this.#whenRoom(() => callback(ACK_LATER));
    };
    this.#client.on('connect', () => void this.#subscribe());
    this.#client.on('close', () => {
      // Acks due on this connection can never be sent: the broker redelivers those messages.
      this.#window.close();
      this.#window = this.#newWindow();
      this.#releaseHeld();
      if (this.#state === 'stopped' || this.#state === 'suspended') return;
      if (this.#state === 'subscribed') this.#log.warn({ event: 'disconnected' }, 'trigger client lost its connection; reconnecting');
      this.#state = 'reconnecting';
      this.#client.options.reconnectPeriod = reconnectDelay(options.connection.reconnectPeriodMs, this.#attempt++);
    });
    this.#client.on('error', (error) => {
      this.#lastError = error.message;
      this.#log.error({ event: 'connection-error', err: { message: error.message, code: (error as { code?: unknown }).code } }, `trigger client: ${error.message}`);
    });
  }

  get state(): SubscriberState {
    return this.#state;
  }

  /** The connection definition this client was made from. */
  get connection(): Connection {
    return this.#options.connection;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  async #subscribe(): Promise<void> {
    this.#attempt = 0;
    this.#client.options.reconnectPeriod = this.#options.connection.reconnectPeriodMs;
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

  #newWindow(): AckWindow {
    const client = (): MqttClient => this.#client;
    return new AckWindow((entry) => {
      const release = (entry as WindowEntry & { release?: (code: number) => void }).release;
      if (release !== undefined) release(0);
      else if (entry.messageId !== undefined) (client() as unknown as { _sendPacket: SendPacket })._sendPacket({ cmd: 'puback', messageId: entry.messageId });
      this.#wake();
    });
  }

  /** Hands a message to the trigger; `release` sends a QoS 2 message's PUBREC when it is due. */
  #deliver(packet: IPublishPacket, release: ((code: number) => void) | undefined): void {
    const window = this.#window;
    const entry: WindowEntry & { release?: (code: number) => void } = window.add(packet.messageId, this.#options.ack === 'onReceipt' ? 0 : packet.qos);
    if (release !== undefined) entry.release = release;
    if (!this.#accepting) return; // draining or suspended: the message stays with the broker
    this.#inFlight++;
    let completed = false;
    this.#options.onDelivery({
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
      messageId: packet.messageId,
      properties: packet.properties,
      receivedAt: Date.now(),
      complete: () => {
        if (completed) return;
        completed = true;
        window.complete(entry);
        this.#wake();
        if (--this.#inFlight === 0) for (const resolve of this.#drainWaiters.splice(0)) resolve();
      },
    });
  }

  /** Runs `next` (letting mqtt.js read on) now, or once the trigger has room again. */
  #whenRoom(next: () => void): void {
    if (this.#window.size < this.#options.capacity) next();
    else this.#held.push(next);
  }

  #wake(): void {
    while (this.#held.length > 0 && this.#window.size < this.#options.capacity) this.#held.shift()!();
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
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#drainWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
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

  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#accepting = false;
    for (const resolve of this.#subscribedWaiters.splice(0)) resolve(false);
    await new Promise<void>((resolve) => this.#client.end(false, {}, () => resolve()));
  }
}
