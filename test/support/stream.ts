/**
 * A numbered QoS 1 stream for fault and scale tests: publish messages 1…total at a steady rate,
 * and count which came out, how often. Every such test asserts exact counts from it.
 */
import type { MqttClient, PacketCallback } from 'mqtt';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Which sequence numbers 1…total came out, and how many times (up to 255). */
export class SeqCounter {
  readonly counts: Uint8Array;
  /** Every output, duplicates included. */
  outputs = 0;

  constructor(readonly total: number) {
    this.counts = new Uint8Array(total + 1);
  }

  add(seq: number): void {
    if (this.counts[seq]! < 255) this.counts[seq]!++;
    this.outputs++;
  }

  /** Sequence numbers that never came out. */
  get missing(): number {
    return this.counts.subarray(1).filter((c) => c === 0).length;
  }

  /** Sequence numbers that came out at least once. */
  get distinct(): number {
    return this.total - this.missing;
  }

  get duplicates(): number {
    return this.outputs - this.distinct;
  }

  /** Waits (polling every 50 ms, up to `timeoutMs`) until every number came out; the caller asserts `missing`. */
  async complete(timeoutMs = 30_000): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; this.missing > 0 && Date.now() < deadline; ) await sleep(50);
  }

  /** Waits until at least `outputs` outputs arrived. */
  async reach(outputs: number): Promise<void> {
    while (this.outputs < outputs) await sleep(20);
  }
}

/**
 * Publishes 1…total to `topic` at `rate` messages per second, QoS 1, in 10 ms slices; resolves
 * once every publish is handed to the client (mqtt.js resends unacknowledged ones after a reconnect).
 */
export async function publishPaced(client: MqttClient, topic: string, total: number, rate: number, body: (seq: number) => string, done?: PacketCallback): Promise<void> {
  const started = Date.now();
  let next = 1;
  while (next <= total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) * rate) / 1000));
    for (; next <= due; next++) client.publish(topic, body(next), { qos: 1 }, done);
    await sleep(10);
  }
}
