/**
 * A time histogram (processing times, HTTP request durations): one array increment per observation, read by
 * the snapshot (and from there by /metrics in Prometheus' cumulative form).
 */

/** Upper bounds in seconds, as Prometheus buckets. */
export const PROCESSING_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface HistogramSnapshot {
  readonly buckets: readonly number[];
  /** Observations per bucket (not cumulative); the last entry counts those above every bound. */
  readonly counts: readonly number[];
  readonly count: number;
  readonly sum: number;
}

export class Histogram {
  readonly #counts: number[] = new Array<number>(PROCESSING_BUCKETS.length + 1).fill(0);
  #count = 0;
  #sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < PROCESSING_BUCKETS.length && seconds > PROCESSING_BUCKETS[i]!) i++;
    this.#counts[i]!++;
    this.#count++;
    this.#sum += seconds;
  }

  snapshot(): HistogramSnapshot {
    return { buckets: PROCESSING_BUCKETS, counts: [...this.#counts], count: this.#count, sum: this.#sum };
  }
}
