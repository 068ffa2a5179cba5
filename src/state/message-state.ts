/**
 * One message's state (docs/architecture.md, invariants 35-36): the keys it holds, the claims it
 * made in shared stores, and the writes it staged. Reads see the staged writes first. Commit
 * applies the writes when the message is done; abort drops them. Either way the keys are released.
 */
import { randomUUID } from 'node:crypto';
import type { Maybe } from '../util/maybe.js';
import type { Clock } from './clock.js';
import type { OpenStore } from './open-store.js';
import { StateError, unavailable } from './state-error.js';
import type { StateWrite } from './store.js';

/** What a message's state needs from its host: the open stores by name, and the clock. */
export interface StateEnvironment {
  store(name: string): OpenStore | undefined;
  readonly clock: Clock;
}

const PROCESS = randomUUID();
let sequence = 0;

/** A write staged by a message, with the store it goes to. */
interface Staged extends StateWrite {
  readonly store: OpenStore;
}

export class MessageState {
  /** Keys held, per store. */
  #held: { readonly store: OpenStore; readonly key: string }[] | undefined;
  #claims: { readonly store: OpenStore; readonly key: string }[] | undefined;
  #staged: Staged[] | undefined;
  #token: string | undefined;

  constructor(readonly env: StateEnvironment) {}

  get clock(): Clock {
    return this.env.clock;
  }

  /** The open store named `name` (a compiled step names only stores its version has). */
  store(name: string): OpenStore {
    const store = this.env.store(name);
    if (store === undefined) throw new StateError(`no store named "${name}" is open`, 'MQFLOW_STATE_UNAVAILABLE');
    return store;
  }

  /** Holds `key` of `store` until this message is done (invariant 36); a promise when another message holds it. */
  hold(store: OpenStore, key: string): Maybe<void> {
    const waiting = store.locks.acquire(key, this, store.limits.lockTimeoutMs, store.name);
    (this.#held ??= []).push({ store, key });
    return waiting;
  }

  /** Lets go of `key` before the message is done (a throttle waiting for its turn). */
  release(store: OpenStore, key: string): void {
    const held = this.#held;
    if (held === undefined) return;
    const at = held.findIndex((h) => h.store === store && h.key === key);
    if (at < 0) return;
    held.splice(at, 1);
    store.locks.release(key, this);
  }

  /**
   * Claims `key` in a shared store for this message: 'present' when it holds a value already.
   * Another message's claim (another replica's) is waited out, up to the store's lock timeout.
   */
  async claim(store: OpenStore, key: string): Promise<'claimed' | 'present'> {
    if (store.store.claim === undefined) throw new StateError(`store "${store.name}" cannot claim keys`, 'MQFLOW_STATE_UNAVAILABLE');
    // A retry (or a second step of the same message) finds its own claim in place.
    if (this.#claims?.some((c) => c.store === store && c.key === key) === true) return 'claimed';
    const token = (this.#token ??= `${PROCESS}:${++sequence}`);
    const deadline = performance.now() + store.limits.lockTimeoutMs;
    for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
      let result;
      try {
        result = await store.store.claim(key, token, store.limits.claimLeaseMs);
      } catch (error) {
        throw unavailable(error, store.name);
      }
      if (result === 'claimed') {
        (this.#claims ??= []).push({ store, key });
        return 'claimed';
      }
      if (result === 'present') return 'present';
      if (performance.now() + pause > deadline) {
        throw new StateError(`another replica has claimed key ${JSON.stringify(key.slice(0, 200))} of store "${store.name}" for over ${store.limits.lockTimeoutMs} ms`, 'MQFLOW_STATE_BUSY');
      }
      // Real time, not the state clock: the other replica's lease runs in Redis.
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /** The value under `key`: this message's staged write, else the store's committed value. */
  read(store: OpenStore, key: string): Maybe<unknown> {
    const staged = this.#find(store, key);
    if (staged >= 0) return this.#staged![staged]!.value;
    try {
      const value = store.store.get(key, this.env.clock.now());
      return value instanceof Promise ? value.catch((error: unknown) => Promise.reject(unavailable(error, store.name))) : value;
    } catch (error) {
      throw unavailable(error, store.name);
    }
  }

  /** Stages a write (value undefined: remove the key); it takes effect when the message is done. */
  write(store: OpenStore, key: string, value: unknown, ttlMs: number | undefined): void {
    if (value !== undefined) store.checkValue(value);
    const write: Staged = ttlMs === undefined ? { store, key, value } : { store, key, value, ttlMs };
    const at = this.#find(store, key);
    if (at >= 0) this.#staged![at] = write;
    else (this.#staged ??= []).push(write);
  }

  /** True when a commit has something to write. */
  get dirty(): boolean {
    return this.#staged !== undefined && this.#staged.length > 0;
  }

  /** A retry starts from the committed state: staged writes go; keys and claims stay held. */
  discard(): void {
    this.#staged = undefined;
  }

  /**
   * The message is done: its writes are applied (each store's in one commit) and its keys released.
   * Rejects (after releasing) when a store fails: the message then fails (invariant 37).
   */
  commit(): Maybe<void> {
    const staged = this.#staged;
    this.#staged = undefined;
    if (staged === undefined || staged.length === 0) {
      this.#release();
      return undefined;
    }
    const now = this.env.clock.now();
    const first = staged[0]!.store;
    // Most messages write to one store: its commit, without grouping.
    if (staged.every((w) => w.store === first)) {
      let done: Maybe<void>;
      try {
        done = first.store.commit(staged, now);
      } catch (error) {
        first.commitFailures++;
        this.#abandon();
        throw unavailable(error, first.name);
      }
      if (!(done instanceof Promise)) {
        first.commits++;
        this.#release();
        return undefined;
      }
      return done.then(
        () => {
          first.commits++;
          this.#release();
        },
        (error: unknown) => {
          first.commitFailures++;
          this.#abandon();
          throw unavailable(error, first.name);
        },
      );
    }
    const pending: Promise<void>[] = [];
    try {
      for (const [store, writes] of byStore(staged)) {
        const done = store.store.commit(writes, now);
        if (done instanceof Promise) {
          pending.push(
            done.then(
              () => void store.commits++,
              (error: unknown) => {
                store.commitFailures++;
                throw unavailable(error, store.name);
              },
            ),
          );
        } else store.commits++;
      }
    } catch (error) {
      this.#abandon();
      throw unavailable(error, first.name);
    }
    if (pending.length === 0) {
      this.#release();
      return undefined;
    }
    return Promise.all(pending).then(
      () => this.#release(),
      (error: unknown) => {
        this.#abandon();
        throw error;
      },
    );
  }

  /** The message failed: nothing it staged takes effect; its claims are removed and its keys released. */
  abort(): void {
    this.#staged = undefined;
    this.#abandon();
  }

  #abandon(): void {
    for (const { store, key } of this.#claims ?? []) {
      // Best effort: a claim that cannot be removed expires with its lease.
      store.store.unclaim?.(key, this.#token!).catch(() => undefined);
    }
    this.#claims = undefined;
    this.#release();
  }

  #release(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    this.#claims = undefined;
    for (const { store, key } of held) store.locks.release(key, this);
  }

  #find(store: OpenStore, key: string): number {
    const all = this.#staged;
    if (all === undefined) return -1;
    for (let i = 0; i < all.length; i++) if (all[i]!.store === store && all[i]!.key === key) return i;
    return -1;
  }
}

/** The writes per store. */
function byStore(staged: readonly Staged[]): [OpenStore, readonly Staged[]][] {
  const out = new Map<OpenStore, Staged[]>();
  for (const w of staged) {
    const list = out.get(w.store);
    if (list === undefined) out.set(w.store, [w]);
    else list.push(w);
  }
  return [...out];
}
