/**
 * schedules: triggers started by time — `every` a duration, or at `cron` times (croner: seconds,
 * time zones) — that run a service with a payload. Their last fire can be kept in a store, so
 * fires missed while mqflow was down follow a policy, and replicas sharing a Redis store fire each
 * tick once (docs/architecture.md, "Schedules").
 */
import { Cron } from 'croner';
import { commonFields } from '../component/definition.js';
import type { DefinitionOption } from '../component/option.js';
import { fieldTable, objectSchema, type DocTable, type FieldSpec } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { onError } from '../triggers/on-error.js';
import { retry } from '../triggers/retry.js';
import { DEFAULT_STORE } from '../stores/store-options.js';
import { durationMs, durationSchema } from '../util/duration.js';
import type { JsonSchema } from '../util/json-schema.js';
import { formatPath } from '../util/path.js';

export const MISSED_POLICIES = ['skip', 'once', 'all'] as const;
export type MissedPolicy = (typeof MISSED_POLICIES)[number];

/** When a schedule fires. */
export type Timing = { readonly kind: 'every'; readonly everyMs: number } | { readonly kind: 'cron'; readonly cron: string; readonly timezone: string };

export interface ScheduleSettings {
  readonly timing: Timing;
  readonly jitterMs: number;
  readonly missed: MissedPolicy;
  /** Where the last fire is kept (and, on a shared store, each tick claimed). */
  readonly store: string;
  readonly service: string;
  /** The payload of each fire: a literal value, or an expression evaluated at the fire. */
  readonly firePayload: { readonly kind: 'value'; readonly value: unknown } | { readonly kind: 'expression'; readonly expression: Expression };
  /** The connection publishes without one go through; undefined: the folder's only connection. */
  readonly connection?: string;
}

/** More fires than this, missed while mqflow was down, are not made up for with `missed: all`. */
export const MAX_MISSED_FIRES = 1_000;

interface ScheduleValue {
  every?: number | string;
  cron?: string;
  timezone?: string;
  jitter?: number | string;
  missed?: MissedPolicy;
  store?: string;
  service: string;
  payload?: unknown;
  expression?: string;
  connection?: string;
}

export const timing: DefinitionOption<Omit<ScheduleSettings, 'service' | 'firePayload' | 'connection'>> = {
  name: 'timing',
  fields: {
    every: { schema: durationSchema('Fire at this interval (aligned to the epoch: every: 1h fires on the hour).', ['30s', '1h']), type: 'duration', default: 'one of `every`, `cron`', doc: 'Fire at this interval, aligned to the epoch (`every: 1h` fires on the hour, UTC), at least `1s`.' },
    cron: {
      schema: { type: 'string', minLength: 1, description: 'A cron expression: 5 fields (minute…weekday), or 6 with seconds first.', examples: ['0 */5 * * * *', '0 6 * * MON-FRI'] },
      type: 'string',
      default: 'one of `every`, `cron`',
      doc: 'A cron expression: five fields (minute, hour, day of month, month, day of week) or six with seconds first; `L`, `W`, `#` and names (`MON-FRI`) as in [croner](https://croner.56k.guru/usage/pattern/).',
    },
    timezone: { schema: { type: 'string', minLength: 1, description: 'The IANA time zone cron times are in. Default: UTC.', examples: ['Europe/Berlin'] }, type: 'string', default: '`UTC`', doc: 'The IANA time zone of the `cron` times (daylight saving time included).' },
    jitter: { schema: durationSchema('Fire up to this long after each tick, at random (spreads load). Default: 0.', ['5s']), type: 'duration', default: '`0`', doc: 'Fire up to this long after each tick, at random, so many schedules (or replicas\' devices) do not all fire at once.' },
    missed: {
      schema: { enum: [...MISSED_POLICIES], description: 'Fires missed while mqflow was down: skip, once (the latest), all (each, oldest first, at most 1000). Needs a disk or redis store. Default: skip.' },
      type: MISSED_POLICIES.map((p) => `\`${p}\``).join(', '),
      default: '`skip`',
      doc: 'Fires missed while mqflow was down (or the schedule disabled): `skip` them, fire `once` for the latest, or fire `all` of them, oldest first (at most 1,000). Knowing what was missed needs the last fire kept in a `disk` or `redis` `store`.',
    },
    store: { schema: { type: 'string', minLength: 1, description: 'The store that keeps the last fire; a redis store shared by replicas makes each tick fire on one replica only. Default: memory.', examples: ['schedules'] }, type: 'string', default: `\`${DEFAULT_STORE}\``, doc: 'The store that keeps the last fire: a `disk` store makes `missed` work across restarts; a `redis` store shared by replicas also makes each tick fire on one replica only.' },
  },
  example: `stores:
  schedule-state:
    type: disk
    path: state/schedules
schedules:
  shift-report:
    cron: 0 0 6 * * MON-FRI
    timezone: Europe/Berlin
    missed: once
    store: schedule-state
    service: shift-report
services:
  shift-report:
    steps:
      - publish:
          connection: plant
          topic: plant/reports/shift
          payload: '{ "from": $message.schedule.firedAt }'
`,
  compile(value, path, c) {
    const v = value as unknown as ScheduleValue;
    if ((v.every === undefined) === (v.cron === undefined)) {
      c.problem(path, 'MQFLOW_SCHEDULE_TIMING', `${formatPath(path)} needs every (a duration) or cron (an expression), one of them`, 'e.g. every: 30s, or cron: 0 */5 * * * *');
      return undefined;
    }
    let t: Timing;
    if (v.every !== undefined) {
      const everyMs = durationMs(v.every);
      if (everyMs < 1_000) {
        c.problem([...path, 'every'], 'MQFLOW_SCHEDULE_TIMING', `${formatPath([...path, 'every'])} is ${everyMs} ms: a schedule fires at most once a second`, 'use every: 1s or more');
        return undefined;
      }
      if (v.timezone !== undefined) c.warn([...path, 'timezone'], 'MQFLOW_SCHEDULE_TIMEZONE', `${formatPath([...path, 'timezone'])} is ignored: every counts from the epoch, in no time zone`, 'remove timezone, or use cron');
      t = { kind: 'every', everyMs };
    } else {
      const timezone = v.timezone ?? 'UTC';
      const problem = cronProblem(v.cron!, timezone);
      if (problem !== undefined) {
        const at = problem.field === 'timezone' ? [...path, 'timezone'] : [...path, 'cron'];
        c.problem(at, 'MQFLOW_SCHEDULE_TIMING', `${formatPath(at)}: ${problem.message} (got ${c.quote(at, problem.field === 'timezone' ? timezone : v.cron)})`, problem.hint);
        return undefined;
      }
      t = { kind: 'cron', cron: v.cron!, timezone };
    }
    const store = v.store ?? DEFAULT_STORE;
    if (v.store !== undefined && v.store !== DEFAULT_STORE) c.refer('store', v.store, [...path, 'store']);
    return { timing: t, jitterMs: v.jitter === undefined ? 0 : durationMs(v.jitter), missed: v.missed ?? 'skip', store };
  },
};

/** Why a cron expression or time zone is refused, or undefined. */
export function cronProblem(cron: string, timezone: string): { field: 'cron' | 'timezone'; message: string; hint: string } | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    return { field: 'timezone', message: 'not an IANA time zone', hint: 'e.g. Europe/Berlin, America/New_York, UTC' };
  }
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return { field: 'cron', message: `a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first), not ${fields}`, hint: 'e.g. 0 */5 * * * * (every 5 minutes, on the minute)' };
  let job: Cron;
  try {
    job = new Cron(cron, { paused: true, timezone });
  } catch (error) {
    return { field: 'cron', message: (error as Error).message.replace(/^CronPattern: /, ''), hint: 'fields: [second] minute hour day-of-month month day-of-week' };
  }
  if (job.nextRun() === null) return { field: 'cron', message: 'it never fires', hint: 'check the day of month and the month (0 0 31 2 * is never)' };
  return undefined;
}

export const firing: DefinitionOption<Pick<ScheduleSettings, 'service' | 'firePayload' | 'connection'> & { queueSize: number }> = {
  name: 'firing',
  fields: {
    service: { schema: { type: 'string', minLength: 1, description: 'The service to run at each fire.', examples: ['send-heartbeat'] }, type: 'string', default: 'required', doc: 'The service to run at each fire.' },
    payload: { schema: { description: 'The payload of each fire: any YAML value. Default: {}.', examples: [{ kind: 'heartbeat' }] }, type: 'any YAML value', default: '`{}`', doc: 'The payload of each fire, as written.' },
    expression: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the payload, evaluated at each fire (instead of payload).', examples: ['{ "at": $now() }'] }, type: 'JSONata expression', default: 'none', doc: 'Instead of `payload`: a JSONata expression evaluated at each fire (`$now()`, `$message.schedule`).' },
    connection: { schema: { type: 'string', minLength: 1, description: 'The connection publish steps without one use. Default: the only connection of the folder.', examples: ['plant'] }, type: 'string', default: 'the folder\'s only connection', doc: 'The connection that `publish` steps naming none go through.' },
    queueSize: { schema: { type: 'integer', minimum: 1, maximum: 1000, description: 'Fires that may wait while an earlier one runs; more are skipped (counted). Default: 10.' }, type: 'integer', default: '`10`', doc: 'Fires that may wait while an earlier fire\'s service still runs (a schedule runs its fires one at a time, in order); a fire beyond them is skipped, logged and counted.' },
  },
  required: ['service'],
  example: `schedules:
  heartbeat:
    every: 30s
    jitter: 2s
    expression: '{ "site": "north", "at": $now() }'
    service: heartbeat
services:
  heartbeat:
    steps:
      - publish:
          connection: plant
          topic: plant/north/mqflow/heartbeat
`,
  compile(value, path, c) {
    const v = value as unknown as ScheduleValue;
    if (typeof v.service === 'string') c.refer('service', v.service, [...path, 'service']);
    if (typeof v.connection === 'string') c.refer('connection', v.connection, [...path, 'connection']);
    if (v.payload !== undefined && v.expression !== undefined) {
      c.problem(path, 'MQFLOW_SCHEDULE_PAYLOAD', `${formatPath(path)} has payload and expression: choose one`, 'payload: a value as written; expression: computed at each fire');
      return undefined;
    }
    let firePayload: ScheduleSettings['firePayload'] = { kind: 'value', value: v.payload ?? {} };
    if (v.expression !== undefined) {
      const expression = c.expression(v.expression, [...path, 'expression']);
      if (expression === undefined) return undefined;
      firePayload = { kind: 'expression', expression };
    }
    return { service: v.service, firePayload, ...(v.connection === undefined ? {} : { connection: v.connection }), queueSize: (value.queueSize as number | undefined) ?? 10 };
  },
};

export const SCHEDULE_OPTIONS: readonly DefinitionOption<object>[] = [timing, firing, retry, onError];

function scheduleFields(): Record<string, FieldSpec> {
  const all: Record<string, FieldSpec> = {};
  for (const option of SCHEDULE_OPTIONS) Object.assign(all, option.fields);
  return { ...all, ...commonFields('trigger') };
}

export const SCHEDULE_FIELDS: Readonly<Record<string, FieldSpec>> = scheduleFields();

export function scheduleSchema(description: string): JsonSchema {
  return objectSchema(description, SCHEDULE_FIELDS, ['service']);
}

export const SCHEDULE_TABLE: DocTable = fieldTable('schedule', SCHEDULE_FIELDS);
