/** processing and maxConcurrency: serial (in order, pipelined) or concurrent. */
import type { DefinitionOption } from '../component/option.js';
import { formatPath } from '../util/path.js';

export type Processing = { readonly mode: 'serial' } | { readonly mode: 'concurrent'; readonly maxConcurrency: number };

const DEFAULT_MAX_CONCURRENCY = 10;

export const processing: DefinitionOption<{ processing: Processing }> = {
  name: 'processing',
  fields: {
    processing: {
      schema: { enum: ['serial', 'concurrent'], description: 'serial: in arrival order, outputs in that order. concurrent: up to maxConcurrency at once, in any order. Default: serial.' },
      type: '`serial`, `concurrent`',
      default: '`serial`',
      doc: '`serial`: in arrival order, and the outputs leave in that order. `concurrent`: up to `maxConcurrency` at once, outputs in any order.',
    },
    maxConcurrency: {
      schema: { type: 'integer', minimum: 1, maximum: 10000, description: 'Messages whose steps run at once in concurrent mode. Default: 10.' },
      type: 'integer, 1–10000',
      default: '`10`',
      doc: 'Messages whose steps run at once; only with `processing: concurrent`.',
    },
  },
  example: `triggers:
  temperature-parallel:
    connection: plant
    topic: plant/+/sensors/+/temperature
    service: to-celsius
    processing: concurrent
    maxConcurrency: 20
`,
  compile(value, path, c) {
    const mode = (value.processing as 'serial' | 'concurrent' | undefined) ?? 'serial';
    if (value.maxConcurrency !== undefined && mode !== 'concurrent' && !c.brokenBelow([...path, 'processing'])) {
      c.problem([...path, 'maxConcurrency'], 'MQFLOW_MAX_CONCURRENCY', `${formatPath([...path, 'maxConcurrency'])} applies only to concurrent processing`, 'add processing: concurrent, or remove maxConcurrency');
      return undefined;
    }
    return { processing: mode === 'concurrent' ? { mode, maxConcurrency: (value.maxConcurrency as number | undefined) ?? DEFAULT_MAX_CONCURRENCY } : { mode } };
  },
};

/**
 * How many messages may run their steps at once. Serial is 1: the next message starts once this
 * one's steps ended and its publishes were handed over (docs/architecture.md, invariant 22).
 */
export function stepConcurrency(p: Processing): number {
  return p.mode === 'concurrent' ? p.maxConcurrency : 1;
}
