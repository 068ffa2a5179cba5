/**
 * A state store as the runtime uses it (docs/architecture.md, "State"): values under keys, with a
 * time to live. Steps never write a store directly: a message's writes are staged in its
 * MessageState and committed together when the message is done (invariant 35).
 */
import type { Maybe } from '../util/maybe.js';

/** One change a message makes: a value (JSON data) under a key, or its removal (`value` undefined). */
export interface StateWrite {
  /** The store key: `<namespace>:<key>`. */
  readonly key: string;
  readonly value: unknown;
  /** Milliseconds from the commit until the value expires; undefined: never. */
  readonly ttlMs?: number;
}

/** What a shared store says when a message claims a key (dedupe across replicas). */
export type ClaimResult = 'claimed' | 'present' | 'busy';

export interface StoreStats {
  /** Entries held, when the store can count them cheaply. */
  readonly entries: number | undefined;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly errors: number;
}

export interface StateStore {
  readonly kind: 'memory' | 'disk' | 'redis';
  /** True when other processes use the same data (Redis): a key is claimed in the store, not only locally. */
  readonly shared: boolean;
  /** The value under `key`, or undefined when there is none or it expired; `now` is the state clock (ms). Rejects/throws when the store cannot answer. */
  get(key: string, now: number): Maybe<unknown>;
  /**
   * Applies one message's writes, all or none where the store can, and settles once they are as
   * durable as the store promises (docs/architecture.md, invariant 38). Empty lists are not passed.
   */
  commit(writes: readonly StateWrite[], now: number): Maybe<void>;
  /**
   * Shared stores only: claims `key` for `token` for `leaseMs` unless it holds a value ('present')
   * or another token's claim ('busy'). A claim reads as absent to get(); commit() replaces it.
   */
  claim?(key: string, token: string, leaseMs: number): Promise<ClaimResult>;
  /** Shared stores only: removes `token`'s claim on `key`, if it is still there. */
  unclaim?(key: string, token: string): Promise<void>;
  /** Every live entry whose key starts with `prefix` (windows find their open windows after a restart). */
  entries?(prefix: string, now: number): Maybe<[string, unknown][]>;
  stats(): StoreStats;
  /** Stops its timers and connections; pending commits settle first. */
  close(): Promise<void>;
}
