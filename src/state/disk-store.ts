/**
 * The disk store (docs/architecture.md, invariants 37-38): entries in LMDB files in one directory,
 * read synchronously, written by lmdb-js's write thread. A commit's writes are one `batch`, always
 * within one LMDB write transaction, and its promise resolves once that transaction is synced to
 * disk. Commits made while a transaction is being written share the next one, so under load many
 * messages pay for one fsync (10,000 concurrent commits: about 35 transactions).
 *
 * Durability, from lmdb-js 3.5 (node_modules/lmdb): the options below keep LMDB's synced commit
 * (`noSync`, `noMetaSync`, `mapAsync` off: `mdb_txn_commit` fdatasyncs the data file, and writes
 * the meta page through the O_DSYNC descriptor). `overlappingSync` (on by default off Windows) only
 * moves that sync after the write lock is released, still inside `mdb_txn_commit`; the write
 * thread marks a batch committed, which is what resolves its promise, once `mdb_txn_commit`
 * returned (src/writer.cpp `WriteWorker::Write`; dependencies/lmdb/.../mdb.c, the
 * MDB_OVERLAPPINGSYNC part of `mdb_txn_commit`). So a resolved commit survives SIGKILL and power loss.
 *
 * Size: lmdb-js grows the memory map by itself when it is full (its addition to `mdb_page_alloc`),
 * so `mapSize` is no limit and MDB_MAP_FULL never comes. `maxSizeBytes` is kept here instead:
 * a commit that adds data is refused while the pages LMDB holds in use, plus the bytes of
 * commits under way, would pass it. Pages LMDB freed and will reuse are not counted, so the file
 * can be that much larger; removals are never refused, so a full store can always be emptied.
 *
 * Record: [format 1][expiry, float64 LE ms since epoch, Infinity: never][the value as JSON text].
 * Keys are their UTF-8 bytes; one longer than LMDB takes (1978 bytes) is stored under 0xFF and its
 * SHA-256, which no UTF-8 key can equal (UTF-8 never has a 0xFF byte).
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';
import { StateError } from './state-error.js';
import type { StateStore, StateWrite, StoreStats } from './store.js';

export interface DiskStoreOptions {
  /** The directory of the files; created if missing. One directory belongs to one process. */
  readonly path: string;
  /** The most the data may take (see above); a commit that would go beyond it is refused. */
  readonly maxSizeBytes: number;
  /** How often expired entries are deleted; 0: never (they are still never read once expired). */
  readonly sweepIntervalMs: number;
}

const FORMAT = 1;
const HEADER_BYTES = 9;
/** LMDB's longest key at the default page size (lmdb-js open.js DEFAULT_MAX_KEY_SIZE). */
const MAX_KEY_BYTES = 1978;
const HASHED_KEY = 0xff;
/** Per entry beyond its key and value: LMDB's node header and page index, rounded up. */
const ENTRY_OVERHEAD_BYTES = 16;
/** A sweep deletes at most this many entries per transaction, and reads at most SWEEP_SCAN per turn. */
const SWEEP_BATCH = 1_000;
const SWEEP_SCAN = 10_000;
/** How long a failed commit waits for lmdb-js to say why, before it fails without the reason. */
const REASON_WAIT_MS = 1_000;

type Db = RootDatabase<Buffer, Buffer>;

/** Opens (creating it if missing) the store in `options.path`. Synchronous: LMDB opens at once. Throws a StateError when it cannot. */
export function openDiskStore(options: DiskStoreOptions): DiskStore {
  if (!(options.maxSizeBytes > 0) || !(options.sweepIntervalMs >= 0)) throw new RangeError('maxSizeBytes must be positive and sweepIntervalMs not negative');
  let db: Db;
  try {
    mkdirSync(options.path, { recursive: true });
    db = open<Buffer, Buffer>({
      path: options.path,
      // We encode keys and records ourselves: exact UTF-8 keys, JSON values, a readable expiry.
      keyEncoding: 'binary',
      encoding: 'binary',
      // The map only reserves address space, and lmdb-js grows it when needed.
      mapSize: options.maxSizeBytes,
      // Durability (see the top of this file): the defaults, stated so that nobody turns them on; mapAsync stays unset.
      noSync: false,
      noMetaSync: false,
      useWritemap: false,
      // With event-turn batching, a failed transaction also rejects a promise lmdb-js keeps to itself
      // (the turn's batch start, write.js), an unhandled rejection that ends the process. Our
      // batch() keeps each commit in one transaction without it, and commits still share transactions.
      eventTurnBatching: false,
    });
  } catch (error) {
    throw new StateError(`the disk store at ${options.path} cannot be opened: ${reason(error)}`, 'MQFLOW_STATE_UNAVAILABLE', { cause: error });
  }
  return new DiskStore(db, options);
}

export class DiskStore implements StateStore {
  readonly kind = 'disk' as const;
  readonly shared = false;
  readonly #db: Db;
  readonly #path: string;
  readonly #maxSizeBytes: number;
  readonly #sweepIntervalMs: number;
  #hits = 0;
  #misses = 0;
  #errors = 0;
  /** The latest `now` a caller gave: sweeps use the callers' clock (a test clock too), never the wall clock. */
  #clock = -Infinity;
  /** Bytes LMDB holds in use as last measured; undefined once a commit changed them. */
  #usedBytes: number | undefined;
  /** Bytes of commits handed to LMDB and not settled yet. */
  #pendingBytes = 0;
  /** Commits and sweeps under way: close() lets them settle first. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Whether the latest write transaction failed: close() must then write an empty one first. */
  #lastWriteFailed = false;

  /** Use openDiskStore(). */
  constructor(db: Db, options: DiskStoreOptions) {
    this.#db = db;
    this.#path = options.path;
    this.#maxSizeBytes = options.maxSizeBytes;
    this.#sweepIntervalMs = options.sweepIntervalMs;
    this.#scheduleSweep();
  }

  /** Synchronous; throws a StateError (MQFLOW_STATE_UNAVAILABLE) when LMDB cannot answer. */
  get(key: string, now: number): unknown {
    if (now > this.#clock) this.#clock = now;
    let record: { expiresAt: number; value: unknown } | undefined;
    try {
      if (this.#closed) throw new Error('it is closed');
      // The fast buffer is only valid until the next read: decoded at once.
      const raw = this.#db.getBinaryFast(storeKey(key));
      record = raw === undefined ? undefined : decode(raw);
    } catch (error) {
      this.#errors++;
      throw this.#unavailable(`cannot read ${shown(key)}`, error);
    }
    if (record === undefined || record.expiresAt <= now) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return record.value;
  }

  /** Every live entry whose key starts with `prefix` (keys stored under their hash are not found). */
  entries(prefix: string, now: number): [string, unknown][] {
    const start = Buffer.from(prefix, 'utf8');
    const out: [string, unknown][] = [];
    try {
      for (const { key, value } of this.#db.getRange({ start })) {
        if (!key.subarray(0, start.length).equals(start)) break;
        const record = decode(value);
        if (record.expiresAt > now) out.push([key.toString('utf8'), record.value]);
      }
    } catch (error) {
      this.#errors++;
      throw this.#unavailable(`cannot list the keys under ${shown(prefix)}`, error);
    }
    return out;
  }

  /** Resolves once the writes are committed and synced to disk; rejects (never throws) with a StateError. */
  commit(writes: readonly StateWrite[], now: number): Promise<void> {
    if (now > this.#clock) this.#clock = now;
    if (this.#closed) return this.#fail(this.#unavailable('cannot commit', new Error('it is closed')));
    const encoded: { readonly key: Buffer; readonly record: Buffer | undefined }[] = [];
    let bytes = 0;
    let adds = false;
    for (const write of writes) {
      const key = storeKey(write.key);
      let record: Buffer | undefined;
      if (write.value !== undefined) {
        try {
          record = encode(write.value, write.ttlMs === undefined ? Infinity : now + write.ttlMs);
        } catch (error) {
          return this.#fail(new StateError(`the value under ${shown(write.key)} cannot be stored: ${reason(error)}`, 'MQFLOW_STATE_VALUE', { cause: error }));
        }
        adds = true;
      }
      encoded.push({ key, record });
      bytes += key.length + (record?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
    }
    let used = 0;
    try {
      if (adds) used = this.#used();
    } catch (error) {
      return this.#fail(this.#unavailable('cannot commit', error));
    }
    if (adds && used + this.#pendingBytes + bytes > this.#maxSizeBytes) {
      const detail = `it is full: ${used} bytes in use and ${this.#pendingBytes} being written; this commit needs about ${bytes} more, over its limit of ${this.#maxSizeBytes} bytes (maxSizeMB)`;
      return this.#fail(this.#unavailable('cannot commit', new Error(detail)));
    }
    let committed: Promise<boolean>;
    try {
      // A batch is never split across transactions: all of these writes or none (lmdb-js README, eventTurnBatching).
      committed = this.#db.batch(() => {
        for (const { key, record } of encoded) void (record === undefined ? this.#db.remove(key) : this.#db.put(key, record));
      });
    } catch (error) {
      return this.#fail(this.#unavailable('cannot commit', error));
    }
    this.#pendingBytes += bytes;
    const settled = committed.then(
      () => {
        this.#pendingBytes -= bytes;
        this.#usedBytes = undefined;
        this.#lastWriteFailed = false;
      },
      async (error: unknown) => {
        this.#pendingBytes -= bytes;
        this.#usedBytes = undefined;
        this.#lastWriteFailed = true;
        this.#errors++;
        throw this.#unavailable('cannot commit', await commitReason(error));
      },
    );
    return this.#track(settled);
  }

  stats(): StoreStats {
    return { entries: this.#entries(), hits: this.#hits, misses: this.#misses, evictions: 0, errors: this.#errors };
  }

  /** Stops the sweeps, lets commits under way settle, closes the files. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await Promise.allSettled(this.#inFlight);
    // lmdb-js's close() waits for the flush of the last transaction, which never comes when that
    // transaction failed; an empty transaction after it ends that wait. If that fails too, the
    // files stay open rather than close() hanging.
    if (this.#lastWriteFailed) {
      const written = await this.#db.batch(() => {}).then(
        () => true,
        async (error: unknown) => void (await commitReason(error)),
      );
      if (written !== true) return;
    }
    await this.#db.close();
  }

  /** LMDB's own count (B-tree statistics, no scan); expired entries not swept yet are counted. */
  #entries(): number | undefined {
    if (this.#closed) return undefined;
    try {
      const count = field(this.#db.getStats(), 'entryCount');
      return typeof count === 'number' ? count : undefined;
    } catch {
      return undefined;
    }
  }

  /** Pages of the data and free-list trees and the meta pages, in bytes; measured again after a commit. */
  #used(): number {
    if (this.#usedBytes === undefined) {
      const stats = this.#db.getStats();
      const pageSize = field(stats, 'pageSize');
      const pages = treePages(stats) + treePages(field(stats, 'free')) + 3;
      this.#usedBytes = typeof pageSize === 'number' ? pages * pageSize : 0;
    }
    return this.#usedBytes;
  }

  #fail(error: StateError): Promise<never> {
    this.#errors++;
    return Promise.reject(error);
  }

  #unavailable(what: string, error: unknown): StateError {
    return new StateError(`the disk store at ${this.#path} ${what}: ${reason(error)}`, 'MQFLOW_STATE_UNAVAILABLE', { cause: error });
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const forget = (): void => void this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  #scheduleSweep(): void {
    if (this.#sweepIntervalMs <= 0 || this.#closed) return;
    // A timeout per sweep, not an interval: sweeps never overlap, however long one takes.
    this.#timer = setTimeout(() => {
      void this.#track(
        this.#sweep().then(
          () => this.#scheduleSweep(),
          () => {
            this.#errors++;
            this.#scheduleSweep();
          },
        ),
      );
    }, this.#sweepIntervalMs);
    this.#timer.unref();
  }

  /** Deletes entries expired by the callers' clock, a bounded batch per event-loop turn. */
  async #sweep(): Promise<void> {
    const clock = this.#clock;
    let after: Buffer | undefined;
    for (;;) {
      if (this.#closed) return;
      const expired: Buffer[] = [];
      let scanned = 0;
      let last: Buffer | undefined;
      for (const { key, value } of this.#db.getRange(after === undefined ? {} : { start: after, exclusiveStart: true })) {
        last = key;
        if (expiresAt(value) <= clock) expired.push(key);
        if (++scanned >= SWEEP_SCAN || expired.length >= SWEEP_BATCH) break;
      }
      if (expired.length > 0) {
        // Checked again inside the write transaction: a commit since the scan may have renewed an entry.
        try {
          await this.#db.transaction(() => {
            for (const key of expired) {
              const raw = this.#db.getBinaryFast(key);
              if (raw !== undefined && expiresAt(raw) <= clock) void this.#db.remove(key);
            }
          });
          this.#lastWriteFailed = false;
        } catch (error) {
          this.#lastWriteFailed = true;
          throw await commitReason(error);
        }
        this.#usedBytes = undefined;
      }
      if (last === undefined || (scanned < SWEEP_SCAN && expired.length < SWEEP_BATCH)) return;
      after = last;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

function storeKey(key: string): Buffer {
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > 0 && bytes.length <= MAX_KEY_BYTES) return bytes;
  // Too long for LMDB (or empty, which LMDB refuses): the hash stands for it.
  return Buffer.concat([Buffer.of(HASHED_KEY), createHash('sha256').update(bytes).digest()]);
}

function encode(value: unknown, expiresAt: number): Buffer {
  const json: unknown = JSON.stringify(value);
  if (typeof json !== 'string') throw new Error('it is not JSON data');
  const record = Buffer.allocUnsafe(HEADER_BYTES + Buffer.byteLength(json));
  record[0] = FORMAT;
  record.writeDoubleLE(expiresAt, 1);
  record.write(json, HEADER_BYTES, 'utf8');
  return record;
}

function decode(record: Buffer): { expiresAt: number; value: unknown } {
  if (record.length < HEADER_BYTES || record[0] !== FORMAT) throw new Error(`an entry has an unknown format (${record[0]}): written by another program or version?`);
  return { expiresAt: record.readDoubleLE(1), value: JSON.parse(record.toString('utf8', HEADER_BYTES)) };
}

/** For sweeps: a record this version cannot read is left alone (get() reports it). */
function expiresAt(record: Uint8Array): number {
  return record.length >= HEADER_BYTES && record[0] === FORMAT ? Buffer.from(record.buffer, record.byteOffset, record.length).readDoubleLE(1) : Infinity;
}

function field(object: unknown, name: string): unknown {
  return typeof object === 'object' && object !== null ? (object as Record<string, unknown>)[name] : undefined;
}

function treePages(stat: unknown): number {
  let pages = 0;
  for (const name of ['treeBranchPageCount', 'treeLeafPageCount', 'overflowPages']) {
    const count = field(stat, name);
    if (typeof count === 'number') pages += count;
  }
  return pages;
}

/** lmdb-js rejects a failed batch with "Commit failed" and the LMDB error in a promise, `commitError`. */
async function commitReason(error: unknown): Promise<unknown> {
  const detail = field(error, 'commitError');
  if (!(detail instanceof Promise)) return error;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([detail, new Promise((resolve) => (timer = setTimeout(resolve, REASON_WAIT_MS)))]);
    return error;
  } catch (cause) {
    return cause;
  } finally {
    clearTimeout(timer);
  }
}

/** A key for a message: keys may be long. */
function shown(key: string): string {
  return JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
