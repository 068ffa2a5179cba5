/** retry: how often, and after what delay, a failed message is tried again before its error route. */
import type { DefinitionOption } from '../component/option.js';
import { objectSchema, type FieldSpec } from '../component/spec.js';
import { durationMs, durationSchema } from '../util/duration.js';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly delayMs: number;
  readonly backoff: 'fixed' | 'exponential';
  readonly maxDelayMs: number;
}

/** The fields of `retry`, for its own reference table. */
export const RETRY_FIELDS: Readonly<Record<string, FieldSpec>> = {
  maxAttempts: { schema: { type: 'integer', minimum: 1, maximum: 1000, description: 'Attempts in all, the first included. Default: 1 (no retry).' }, type: 'integer, 1–1000', default: '`1` (no retry)', doc: 'Attempts in all, the first included.' },
  delay: { schema: durationSchema('Delay before the first retry. Default: 1s.', ['500ms']), type: 'duration', default: '`1s`', doc: 'Delay before the first retry.' },
  backoff: { schema: { enum: ['fixed', 'exponential'], description: 'fixed: the same delay each time; exponential: doubled each time. Default: exponential.' }, type: '`fixed`, `exponential`', default: '`exponential`', doc: '`fixed`: the same delay each time; `exponential`: doubled each time.' },
  maxDelay: { schema: durationSchema('Upper bound of the delay between attempts. Default: 30s.', ['30s']), type: 'duration', default: '`30s`', doc: 'Upper bound of the delay between attempts.' },
};

interface RetryValue {
  maxAttempts?: number;
  delay?: number | string;
  backoff?: 'fixed' | 'exponential';
  maxDelay?: number | string;
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
      },
    };
  },
};

/** The delay before attempt `attempt + 1`. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const { delayMs, backoff, maxDelayMs } = policy;
  return Math.min(maxDelayMs, backoff === 'exponential' ? delayMs * 2 ** (attempt - 1) : delayMs);
}
