/**
 * A trigger's last five minutes (the status page's rate and latency): 30 buckets of 10 s, each
 * with its messages done, failed, and their processing times in a small log-scale histogram, so
 * p50 and p99 over the window are read by merging 30 histograms. Observing costs a few array
 * writes; a bucket is reused once it is 5 minutes old.
 */

export const BUCKET_MS = 10_000;
export const BUCKETS = 30;
/** Latency classes: class k holds times up to 0.1 ms × 2^(k/2) (41 % apart), the last one everything above. */
const CLASSES = 56;

export interface RecentSnapshot {
  readonly bucketSeconds: number;
  /** Messages done per bucket, oldest first; the last bucket is the current (partial) one. */
  readonly counts: readonly number[];
  /** Failed messages per bucket, same order. */
  readonly failed: readonly number[];
  /** Over the whole window: messages done per second, and processing time p50 and p99 in ms (absent when none were done). */
  readonly perSecond: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
}

export class RecentWindow {
  readonly #slot = new Float64Array(BUCKETS).fill(-1);
  readonly #count = new Uint32Array(BUCKETS);
  readonly #failed = new Uint32Array(BUCKETS);
  readonly #latency = new Uint32Array(BUCKETS * CLASSES);
  readonly #createdAt: number;

  constructor(now: number = performance.now()) {
    this.#createdAt = now;
  }

  /** A message was done at `now` (performance.now()) after `ms`. */
  observe(now: number, ms: number, failed: boolean): void {
    const slot = Math.floor(now / BUCKET_MS);
    const i = slot % BUCKETS;
    if (this.#slot[i] !== slot) this.#reset(i, slot);
    this.#count[i]!++;
    if (failed) this.#failed[i]!++;
    this.#latency[i * CLASSES + latencyClass(ms)]!++;
  }

  snapshot(now: number = performance.now()): RecentSnapshot {
    const current = Math.floor(now / BUCKET_MS);
    const counts: number[] = [];
    const failed: number[] = [];
    const merged = new Array<number>(CLASSES).fill(0);
    let total = 0;
    for (let slot = current - BUCKETS + 1; slot <= current; slot++) {
      const i = slot % BUCKETS;
      if (this.#slot[i] !== slot) {
        counts.push(0);
        failed.push(0);
        continue;
      }
      counts.push(this.#count[i]!);
      failed.push(this.#failed[i]!);
      total += this.#count[i]!;
      for (let k = 0; k < CLASSES; k++) merged[k]! += this.#latency[i * CLASSES + k]!;
    }
    const windowStart = (current - BUCKETS + 1) * BUCKET_MS;
    const seconds = Math.max(0.001, (now - Math.max(windowStart, this.#createdAt)) / 1000);
    const p50 = quantile(merged, total, 0.5);
    const p99 = quantile(merged, total, 0.99);
    return {
      bucketSeconds: BUCKET_MS / 1000,
      counts,
      failed,
      perSecond: Math.round((total / seconds) * 100) / 100,
      ...(p50 === undefined ? {} : { p50Ms: p50 }),
      ...(p99 === undefined ? {} : { p99Ms: p99 }),
    };
  }

  #reset(i: number, slot: number): void {
    this.#slot[i] = slot;
    this.#count[i] = 0;
    this.#failed[i] = 0;
    this.#latency.fill(0, i * CLASSES, (i + 1) * CLASSES);
  }
}

function latencyClass(ms: number): number {
  if (!(ms > 0.1)) return 0;
  return Math.min(CLASSES - 1, Math.ceil(2 * Math.log2(ms / 0.1)));
}

/** The upper bound of the class holding the q-quantile, in ms (3 significant digits). */
function quantile(classes: readonly number[], total: number, q: number): number | undefined {
  if (total === 0) return undefined;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let k = 0; k < classes.length; k++) {
    seen += classes[k]!;
    if (seen >= rank) return Number((0.1 * 2 ** (k / 2)).toPrecision(3));
  }
  return undefined;
}
