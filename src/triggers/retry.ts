/**
 * retry: how often, after what delay, and for which kinds of failure (failure-kind.ts) a failed
 * message is tried again before its error route. Triggers, endpoints and schedules share it.
 */
import type { DefinitionOption } from '../component/option.js';
import { objectSchema, type FieldSpec } from '../component/spec.js';
import { durationMs, durationSchema } from '../util/duration.js';
import type { FailureKind } from './failure-kind.js';

/** Which failures are retried: transient ones only, or every kind. */
export type RetriedFailures = 'transient' | 'all';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly delayMs: number;
  readonly backoff: 'fixed' | 'exponential';
  readonly maxDelayMs: number;
  readonly failures: RetriedFailures;
}

/** The fields of `retry`, for its own reference table. */
export const RETRY_FIELDS: Readonly<Record<string, FieldSpec>> = {
  maxAttempts: { schema: { type: 'integer', minimum: 1, maximum: 1000, description: 'Attempts in all, the first included. Default: 1 (no retry).' }, type: 'integer, 1–1000', default: '`1` (no retry)', doc: 'Attempts in all, the first included.' },
  delay: { schema: durationSchema('Delay before the first retry. Default: 1s.', ['500ms']), type: 'duration', default: '`1s`', doc: 'Delay before the first retry.' },
  backoff: { schema: { enum: ['fixed', 'exponential'], description: 'fixed: the same delay each time; exponential: doubled each time. Default: exponential.' }, type: '`fixed`, `exponential`', default: '`exponential`', doc: '`fixed`: the same delay each time; `exponential`: doubled each time.' },
  maxDelay: { schema: durationSchema('Upper bound of the delay between attempts. Default: 30s.', ['30s']), type: 'duration', default: '`30s`', doc: 'Upper bound of the delay between attempts.' },
  failures: {
    schema: { enum: ['transient', 'all'], description: 'Which failures are retried: transient (a broker, the network, a store, a timeout, an HTTP 5xx) or all (deterministic ones too: the payload, a schema, an expression). Default: transient.' },
    type: '`transient`, `all`',
    default: '`transient`',
    doc: 'Which failures are retried ([failure kinds](#failure-kinds)): `transient` ones (a broker, the network, a store, a timeout, an HTTP 5xx), or `all`, deterministic ones too (the payload, a schema, an expression); a deterministic failure goes to `onError` after one attempt unless `all`.',
  },
};

interface RetryValue {
  maxAttempts?: number;
  delay?: number | string;
  backoff?: 'fixed' | 'exponential';
  maxDelay?: number | string;
  failures?: RetriedFailures;
}

export const retry: DefinitionOption<{ retry: RetryPolicy }> = {
  name: 'retry',
  fields: {
    retry: { schema: objectSchema('Retries of a failed message before it goes to onError.', RETRY_FIELDS), type: 'map', default: 'one attempt', doc: 'Retries of a failed message before it goes to `onError` (below).' },
  },
  example: `triggers:
  temperature-retried:
    connection: plant
    topic: plant/+/sensors/+/temperature
    service: to-celsius
    retry:
      maxAttempts: 5
      delay: 500ms
      backoff: exponential
      maxDelay: 5s
      failures: transient
`,
  compile(value, path, c) {
    // A value the schema refused (a malformed duration) is reported already.
    if (c.brokenBelow([...path, 'retry'])) return undefined;
    const r = (value.retry ?? {}) as RetryValue;
    return {
      retry: {
        maxAttempts: r.maxAttempts ?? 1,
        delayMs: durationMs(r.delay ?? 1_000),
        backoff: r.backoff ?? 'exponential',
        maxDelayMs: durationMs(r.maxDelay ?? 30_000),
        failures: r.failures ?? 'transient',
      },
    };
  },
};

/** The delay before attempt `attempt + 1`. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const { delayMs, backoff, maxDelayMs } = policy;
  return Math.min(maxDelayMs, backoff === 'exponential' ? delayMs * 2 ** (attempt - 1) : delayMs);
}

/** Whether a failure of this kind is tried again (attempts left permitting). */
export function retries(policy: RetryPolicy, kind: FailureKind): boolean {
  return kind === 'transient' || policy.failures === 'all';
}
