/** Callers waiting for something to happen, each with a timeout: "idle", "drained", "settled". */
export class Waiters {
  #list: (() => void)[] = [];

  /** Resolves true at the next wake(), or false after `timeoutMs`. */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#list.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Resolves every current waiter with true. */
  wake(): void {
    for (const resolve of this.#list.splice(0)) resolve();
  }
}
