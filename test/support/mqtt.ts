/** A test client: publishes inputs and collects outputs, to assert what a flow did. */
import { connectAsync, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';

export interface Received {
  readonly topic: string;
  readonly text: string;
  readonly packet: IPublishPacket;
}

export class TestClient {
  readonly received: Received[] = [];
  #waiters: { count: number; test: (m: Received) => boolean; resolve: () => void }[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m: Received = { topic, text: payload.toString(), packet };
      this.received.push(m);
      this.#check();
    });
  }

  static async connect(url: string, options: IClientOptions = {}): Promise<TestClient> {
    return new TestClient(await connectAsync(url, { clientId: `test-${Math.random().toString(16).slice(2, 10)}`, reconnectPeriod: 200, ...options }));
  }

  async subscribe(filter: string | string[], qos: 0 | 1 | 2 = 1): Promise<void> {
    await this.client.subscribeAsync(filter, { qos });
  }

  async publish(topic: string, payload: string | Buffer | object, qos: 0 | 1 | 2 = 1, retain = false): Promise<void> {
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    await this.client.publishAsync(topic, body, { qos, retain });
  }

  on(topic: string): Received[] {
    return this.received.filter((m) => m.topic === topic);
  }

  json(topic: string): unknown[] {
    return this.on(topic).map((m) => JSON.parse(m.text) as unknown);
  }

  /** Waits until `count` received messages pass `test`. */
  waitFor(count: number, test: (m: Received) => boolean = () => true, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`expected ${count} messages, got ${this.received.filter(test).length}: ${this.received.slice(-5).map((m) => `${m.topic} ${m.text}`).join(' | ')}`));
      }, timeoutMs);
      this.#waiters.push({
        count,
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.#check();
    });
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (this.received.filter(w.test).length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
