/** A store as one process uses it: the store itself, its limits, its key locks and its counters. */
import { KeyLocks } from './key-locks.js';
import { StateError } from './state-error.js';
import type { StateStore, StoreStats } from './store.js';

export interface StoreLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  /** How long a message waits for a key another message holds (invariant 36). */
  readonly lockTimeoutMs: number;
  /** How long a dedupe claim in a shared store lasts if its message never finishes (invariant 38). */
  readonly claimLeaseMs: number;
}

export class OpenStore {
  readonly locks = new KeyLocks();
  /**
   * A `throttle` in `latest` mode: the message waiting per key, and how to end it when a newer one
   * replaces it. Here rather than in the compiled step, so it survives a reload that keeps the store.
   */
  readonly waiting = new Map<string, () => void>();
  /** Messages that committed to this store, and commits that failed. */
  commits = 0;
  commitFailures = 0;

  constructor(
    readonly name: string,
    readonly store: StateStore,
    readonly limits: StoreLimits,
  ) {}

  /** `<namespace>:<key>`, or a failure when the key is not text or a number, is empty or too long. */
  key(namespace: string, key: unknown): string {
    let text: string;
    if (typeof key === 'string') text = key;
    else if (typeof key === 'number' && Number.isFinite(key)) text = String(key);
    else throw new StateError(`the key is ${describe(key)}; it must be text or a number`, 'MQFLOW_STATE_VALUE');
    if (text.length === 0) throw new StateError('the key is empty', 'MQFLOW_STATE_VALUE');
    // UTF-8 takes at most 3 bytes per UTF-16 unit: measure only when it could be over.
    if (text.length * 3 > this.limits.maxKeyBytes && Buffer.byteLength(text) > this.limits.maxKeyBytes) {
      throw new StateError(`the key is ${Buffer.byteLength(text)} bytes, over the ${this.limits.maxKeyBytes} bytes of store "${this.name}" (maxKeyBytes)`, 'MQFLOW_STATE_LIMIT');
    }
    return `${namespace}:${text}`;
  }

  /** Checks a value to store: JSON data within maxValueBytes. */
  checkValue(value: unknown): void {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new StateError(`the value cannot be stored: ${(error as Error).message}`, 'MQFLOW_STATE_VALUE');
    }
    if (json === undefined) throw new StateError(`the value is ${describe(value)}, which cannot be stored`, 'MQFLOW_STATE_VALUE');
    if (json.length * 3 > this.limits.maxValueBytes && Buffer.byteLength(json) > this.limits.maxValueBytes) {
      throw new StateError(`the value is ${Buffer.byteLength(json)} bytes of JSON, over the ${this.limits.maxValueBytes} bytes of store "${this.name}" (maxValueBytes)`, 'MQFLOW_STATE_LIMIT');
    }
  }

  stats(): StoreStats & { readonly keysHeld: number; readonly commits: number; readonly commitFailures: number } {
    return { ...this.store.stats(), keysHeld: this.locks.held, commits: this.commits, commitFailures: this.commitFailures };
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
