/**
 * Per-key locks of one open store (docs/architecture.md, invariant 36): a message holds a key from
 * its stateful step's read until it is done; others needing the key wait in arrival order, for at
 * most the store's lock timeout. An uncontended key costs one Map entry, no allocation.
 */
import { StateError } from './state-error.js';

/** Who holds keys: one message's state. */
export type LockHolder = object;

interface Waiter {
  readonly holder: LockHolder;
  readonly resolve: () => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class KeyLocks {
  readonly #holders = new Map<string, LockHolder>();
  /** Only for keys someone waits for. */
  readonly #waiters = new Map<string, Waiter[]>();

  /** Takes `key` for `holder`: undefined when taken now (or already held), a promise when it must wait. */
  acquire(key: string, holder: LockHolder, timeoutMs: number, storeName: string): Promise<void> | undefined {
    const current = this.#holders.get(key);
    if (current === undefined) {
      this.#holders.set(key, holder);
      return undefined;
    }
    if (current === holder) return undefined;
    return new Promise<void>((resolve, reject) => {
      let queue = this.#waiters.get(key);
      if (queue === undefined) this.#waiters.set(key, (queue = []));
      const waiter: Waiter = {
        holder,
        resolve,
        timer: setTimeout(() => {
          const waiting = this.#waiters.get(key);
          const at = waiting?.indexOf(waiter) ?? -1;
          if (at >= 0) waiting!.splice(at, 1);
          if (waiting?.length === 0) this.#waiters.delete(key);
          reject(new StateError(`another message has held key ${JSON.stringify(key.slice(0, 200))} of store "${storeName}" for over ${timeoutMs} ms`, 'MQFLOW_STATE_BUSY'));
        }, timeoutMs),
      };
      queue.push(waiter);
    });
  }

  /** Lets go of `key`; the longest waiting message gets it. */
  release(key: string, holder: LockHolder): void {
    if (this.#holders.get(key) !== holder) return;
    const queue = this.#waiters.get(key);
    const next = queue?.shift();
    if (next === undefined) {
      this.#holders.delete(key);
      return;
    }
    if (queue!.length === 0) this.#waiters.delete(key);
    clearTimeout(next.timer);
    this.#holders.set(key, next.holder);
    next.resolve();
  }

  /** Keys held now (status and tests). */
  get held(): number {
    return this.#holders.size;
  }
}
