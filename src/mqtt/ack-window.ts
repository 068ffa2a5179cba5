/**
 * The acknowledgement window of one subscriber connection: messages in arrival order, each marked
 * done when its processing ends. Acks leave from the head while the head is done (MQTT 3.1.1 §4.6:
 * acknowledgements in the order the messages arrived), so a message finished early waits for the
 * ones before it. A window belongs to one network connection; see docs/architecture.md.
 */

export interface WindowEntry {
  readonly messageId: number | undefined;
  /** The QoS the message is acknowledged with: 0 (nothing to send) when it was acknowledged on receipt. */
  readonly ackQos: 0 | 1 | 2;
  done: boolean;
}

export class AckWindow<E extends WindowEntry = WindowEntry> {
  readonly #entries: E[] = [];
  #head = 0;
  #closed = false;

  constructor(
    /** Sends the acknowledgement of one QoS ≥ 1 message on the connection this window belongs to. */
    private readonly sendAck: (entry: E) => void,
  ) {}

  /** Messages received and not yet acknowledged (done or not). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Appends an entry the caller made (a received message is its own entry). */
  push(entry: E): void {
    this.#entries.push(entry);
  }

  /** Marks `entry` done and sends every ack that is now due. No-op after close (the connection is gone). */
  complete(entry: E): void {
    entry.done = true;
    if (this.#closed) return;
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.done) {
      const head = this.#entries[this.#head++]!;
      if (head.ackQos > 0) this.sendAck(head);
    }
    // Compact now and then so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** The entries not yet acknowledged, oldest first. */
  *pending(): IterableIterator<E> {
    for (let i = this.#head; i < this.#entries.length; i++) yield this.#entries[i]!;
  }

  /** The connection ended: acks still due are never sent (the broker redelivers those messages). */
  close(): void {
    this.#closed = true;
  }

  get closed(): boolean {
    return this.#closed;
  }
}
