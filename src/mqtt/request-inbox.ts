/**
 * MQTT 5 request/response for one client: requests carry this client's response topic and a
 * correlation data of their own, and each reply is matched to its request by that correlation
 * data, so any number of requests may be in flight at once (docs/architecture.md, invariant 51).
 */
import { randomFillSync } from 'node:crypto';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { Histogram } from '../util/histogram.js';

/** A reply, as it arrived. */
export interface ReplyMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly properties: IPublishPacket['properties'];
}

/** No reply within the timeout (the request may or may not have been handled). */
export class RequestTimeout extends Error {
  readonly code = 'MQFLOW_REQUEST_TIMEOUT';
}

interface Waiting {
  readonly resolve: (reply: ReplyMessage) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly sentAt: number;
}

export class RequestInbox {
  /** Where replies to this client's requests go: one topic per client id. */
  readonly topic: string;
  readonly #client: MqttClient;
  readonly #waiting = new Map<string, Waiting>();
  #subscribed: Promise<void> | undefined;
  readonly counts = { replied: 0, timedOut: 0, late: 0 };
  readonly latency = new Histogram();

  constructor(client: MqttClient, clientId: string) {
    this.#client = client;
    this.topic = `mqflow/replies/${clientId.replace(/[+#/\0]/g, '_')}`;
    client.on('message', (topic, payload, packet) => {
      if (topic !== this.topic) return;
      const key = packet.properties?.correlationData?.toString('hex');
      const waiting = key === undefined ? undefined : this.#waiting.get(key);
      if (waiting === undefined) {
        // A reply after its request timed out, or one that answers nothing of ours.
        this.counts.late++;
        return;
      }
      this.#waiting.delete(key!);
      clearTimeout(waiting.timer);
      this.counts.replied++;
      this.latency.observe((performance.now() - waiting.sentAt) / 1000);
      waiting.resolve({ topic, payload, properties: packet.properties });
    });
  }

  /** Subscribes to the reply topic once (mqtt.js subscribes again after a reconnect that lost it). */
  ready(): Promise<void> {
    this.#subscribed ??= this.#client.subscribeAsync(this.topic, { qos: 1 }).then(
      (granted) => {
        if (granted[0] !== undefined && granted[0].qos > 2) throw new Error(`the broker refused the reply subscription ${this.topic} (reason ${granted[0].qos})`);
      },
      (error: unknown) => {
        this.#subscribed = undefined;
        throw error;
      },
    );
    return this.#subscribed;
  }

  /** Random bytes for correlation data, 256 requests' worth at a time: randomBytes(16) per request cost ~2 µs (bench/request-reply.js). */
  #pool = Buffer.alloc(0);
  #poolAt = 0;

  #correlation(): Buffer {
    if (this.#poolAt + 16 > this.#pool.length) {
      this.#pool = randomFillSync(Buffer.allocUnsafe(16 * 256));
      this.#poolAt = 0;
    }
    // A copy: the pool is refilled later, and the bytes go out with the request.
    const bytes = Buffer.from(this.#pool.subarray(this.#poolAt, this.#poolAt + 16));
    this.#poolAt += 16;
    return bytes;
  }

  /** A new correlation data, and the reply to it (rejected with RequestTimeout after `timeoutMs`). */
  expect(timeoutMs: number): { correlationData: Buffer; reply: Promise<ReplyMessage>; cancel: (error: Error) => void } {
    const correlationData = this.#correlation();
    const key = correlationData.toString('hex');
    let cancel: (error: Error) => void = () => undefined;
    const reply = new Promise<ReplyMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        this.counts.timedOut++;
        reject(new RequestTimeout(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, { resolve, reject, timer, sentAt: performance.now() });
      cancel = (error) => {
        if (!this.#waiting.delete(key)) return;
        clearTimeout(timer);
        reject(error);
      };
    });
    return { correlationData, reply, cancel };
  }

  /** Requests waiting for their reply. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Fails every request still waiting (the connection is stopping). */
  close(error: Error): void {
    for (const [key, w] of this.#waiting) {
      clearTimeout(w.timer);
      w.reject(error);
      this.#waiting.delete(key);
    }
  }
}
