/**
 * The memory store: entries in the process, bounded by `maxEntries` with least-recently-used
 * eviction, each with an optional expiry (docs/architecture.md, invariant 38). A Map keeps
 * insertion order, so moving an entry to the end on use makes its first entry the LRU one.
 */
import type { StateStore, StateWrite, StoreStats } from './store.js';

interface Entry {
  readonly value: unknown;
  /** State-clock ms; Infinity: never. */
  readonly expiresAt: number;
}

export class MemoryStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly shared = false;
  readonly #entries = new Map<string, Entry>();
  /**
   * Walks the entries from the least recently used. A Map keeps deleted slots until it is rebuilt,
   * and a new iteration skips them all from the start, so one live iterator is kept instead: what
   * is behind it was evicted, and what was used again moved ahead of it.
   */
  #oldest: IterableIterator<string> | undefined;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(readonly maxEntries: number) {}

  get(key: string, now: number): unknown {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      this.#misses++;
      return undefined;
    }
    // Most recently used goes last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return entry.value;
  }

  commit(writes: readonly StateWrite[], now: number): void {
    for (const write of writes) {
      this.#entries.delete(write.key);
      if (write.value === undefined) continue;
      this.#entries.set(write.key, { value: write.value, expiresAt: write.ttlMs === undefined ? Infinity : now + write.ttlMs });
    }
    this.#evict(now);
  }

  /** Every live entry whose key starts with `prefix`. */
  entries(prefix: string, now: number): [string, unknown][] {
    return [...this.#entries].filter(([k, e]) => k.startsWith(prefix) && e.expiresAt > now).map(([k, e]) => [k, e.value]);
  }

  #evict(now: number): void {
    while (this.#entries.size > this.maxEntries) {
      let next = this.#oldest?.next();
      if (next === undefined || next.done === true) {
        this.#oldest = this.#entries.keys();
        next = this.#oldest.next();
      }
      const key = next.value as string;
      // An expired entry was no longer there for its readers: removing it is no eviction.
      if (this.#entries.get(key)!.expiresAt > now) this.#evictions++;
      this.#entries.delete(key);
    }
  }

  stats(): StoreStats {
    return { entries: this.#entries.size, hits: this.#hits, misses: this.#misses, evictions: this.#evictions, errors: 0 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
