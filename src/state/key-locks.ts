/**
 * Per-key locks of one open store (docs/architecture.md, invariant 36): a message holds a key from
 * its stateful step's read until it is done; others needing the key wait in arrival order, for at
 * most the store's lock timeout.
 */
import { StateError } from './state-error.js';

/** Who holds keys: one message's state. */
export type LockHolder = object;

interface Waiter {
  readonly holder: LockHolder;
  readonly resolve: () => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

interface Lock {
  holder: LockHolder;
  readonly waiters: Waiter[];
}

export class KeyLocks {
  readonly #locks = new Map<string, Lock>();

  /** Takes `key` for `holder`: undefined when taken now (or already held), a promise when it must wait. */
  acquire(key: string, holder: LockHolder, timeoutMs: number, storeName: string): Promise<void> | undefined {
    const lock = this.#locks.get(key);
    if (lock === undefined) {
      this.#locks.set(key, { holder, waiters: [] });
      return undefined;
    }
    if (lock.holder === holder) return undefined;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        holder,
        resolve,
        timer: setTimeout(() => {
          const at = lock.waiters.indexOf(waiter);
          if (at >= 0) lock.waiters.splice(at, 1);
          reject(new StateError(`another message has held key ${JSON.stringify(key.slice(0, 200))} of store "${storeName}" for over ${timeoutMs} ms`, 'MQFLOW_STATE_BUSY'));
        }, timeoutMs),
      };
      lock.waiters.push(waiter);
    });
  }

  /** Lets go of `key`; the longest waiting message gets it. */
  release(key: string, holder: LockHolder): void {
    const lock = this.#locks.get(key);
    if (lock === undefined || lock.holder !== holder) return;
    const next = lock.waiters.shift();
    if (next === undefined) {
      this.#locks.delete(key);
      return;
    }
    clearTimeout(next.timer);
    lock.holder = next.holder;
    next.resolve();
  }

  /** Keys held now (status and tests). */
  get held(): number {
    return this.#locks.size;
  }
}
