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

  /** Seeds and test assertions (mqflow test): every live entry. */
  entries(now: number): [string, unknown][] {
    return [...this.#entries].filter(([, e]) => e.expiresAt > now).map(([k, e]) => [k, e.value]);
  }

  #evict(now: number): void {
    if (this.#entries.size <= this.maxEntries) return;
    // Expired entries go first, within a bounded scan; then the least recently used.
    let scanned = 0;
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.maxEntries || ++scanned > 64) break;
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(key);
      this.#evictions++;
    }
  }

  stats(): StoreStats {
    return { entries: this.#entries.size, hits: this.#hits, misses: this.#misses, evictions: this.#evictions, errors: 0 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
