/**
 * The clock stateful steps read (time to live, windows, heartbeats, rates): the wall clock when
 * mqflow runs, a clock the case advances in `mqflow test` (docs/testing.md).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves once `ms` have passed on this clock. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // Unref'd: a window's close an hour away must not keep a stopped process alive.
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref()),
};

/** A clock that moves only when told to; sleepers wake in time order as it passes their time. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: { readonly at: number; readonly wake: () => void }[] = [];

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#sleepers.push({ at: this.#now + ms, wake: resolve });
      this.#sleepers.sort((a, b) => a.at - b.at);
    });
  }

  /** Moves to `to` (never back), waking each sleeper due by then and letting what it started run before the next. */
  async advanceTo(to: number): Promise<void> {
    for (;;) {
      const next = this.#sleepers[0];
      if (next === undefined || next.at > to) break;
      this.#sleepers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.wake();
      // Let the woken work run (and perhaps sleep again) before time moves on.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#now = Math.max(this.#now, to);
  }

  get sleeping(): number {
    return this.#sleepers.length;
  }

  /** When the next sleeper wakes, if any. */
  get nextWake(): number | undefined {
    return this.#sleepers[0]?.at;
  }
}
