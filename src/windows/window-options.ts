/**
 * Windows (`windows:`): one component — its spec (fields, reference table, example) and its
 * compile (docs/architecture.md, "Windows"). Services feed a window with `collect` steps; when a
 * window closes, its `steps` run once per key with what it gathered. The runtime is src/host/windows.ts.
 */
import type { ComponentCompiler } from '../component/compiler.js';
import { fieldTable, objectSchema, type DocTable, type FieldSpec } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import type { Step } from '../pipeline/step.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { formatPath, type ValuePath } from '../util/path.js';

/** How messages are grouped in time (processing time: when a message is collected). */
export type WindowShape =
  | { readonly kind: 'tumbling'; readonly everyMs: number }
  | { readonly kind: 'sliding'; readonly sizeMs: number; readonly everyMs: number }
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'session'; readonly gapMs: number };

export const LATE_POLICIES = ['drop', 'fail'] as const;
export type LatePolicy = (typeof LATE_POLICIES)[number];

export const AGGREGATE_OPS = ['count', 'sum', 'min', 'max', 'average', 'first', 'last'] as const;
export type AggregateOp = (typeof AGGREGATE_OPS)[number];

export interface Aggregate {
  readonly name: string;
  readonly op: AggregateOp;
  /** Undefined for count: every value counts. */
  readonly of?: Expression;
}

export interface WindowSettings {
  /** Undefined: one window for every message. */
  readonly key?: Expression;
  readonly shape: WindowShape;
  /** Empty: the window keeps the collected values (`values`). */
  readonly aggregates: readonly Aggregate[];
  /** Where its steps' publishes go when they name no connection. */
  readonly connection?: string;
  /** A disk store keeps its open windows (docs/architecture.md, invariant 44); undefined: in the process. */
  readonly store?: string;
  /** What identifies a collected value, so a redelivered one is not counted twice (stored windows). */
  readonly id?: Expression;
  /** Event time: when a value happened (ms or ISO 8601), from the value; undefined: processing time. */
  readonly time?: Expression;
  /** Event time: how long after its end a window still takes values (it closes then). */
  readonly latenessMs: number;
  /** Event time: what happens to a value whose windows have closed. */
  readonly late: LatePolicy;
  /** The most windows open at once in the process; a value that would open one more fails its message. */
  readonly maxOpen: number;
  readonly steps: readonly Step[];
}

const SHAPES = ['tumbling', 'sliding', 'count', 'session'] as const;

export const WINDOW_FIELDS: Readonly<Record<string, FieldSpec>> = {
  description: { schema: { type: 'string', description: 'What this window is for.' }, type: 'string', default: 'none', doc: 'What the window is for.' },
  key: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression over a collected value: each key has its own windows. Default: one window for all.', examples: ['device', 'room'] }, type: 'JSONata expression', default: 'one window for all', doc: 'Each key (text or a number, from the value a `collect` step gives) has its own windows.' },
  tumbling: { schema: durationSchema('Windows one after the other, each this long, aligned to the clock (00:00, 00:01, … for 1m).', ['1m', '10s']), type: 'duration', default: 'one of the four', doc: 'Back-to-back windows of this length, aligned to the clock: `1m` closes at every full minute.' },
  sliding: {
    schema: objectSchema('Overlapping windows: each size long, one starting every every.', {
      size: { schema: durationSchema('How long each window is.', ['5m']), type: 'duration', default: 'required', doc: '' },
      every: { schema: durationSchema('How often a window starts (and one closes). At most size.', ['1m']), type: 'duration', default: 'required', doc: '' },
    }, ['size', 'every']),
    type: 'map',
    default: 'one of the four',
    doc: '`size` and `every`: windows `size` long, one closing every `every` (aligned to the clock); a message counts in each window it falls in.',
  },
  count: { schema: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'A window closes once it holds this many messages.', examples: [100] }, type: 'integer', default: 'one of the four', doc: 'A window closes once it holds this many messages (per key).' },
  session: { schema: durationSchema('A window closes when no message came for this long (per key).', ['30s']), type: 'duration', default: 'one of the four', doc: 'A window closes when no message of its key came for this long.' },
  time: {
    schema: { type: 'string', minLength: 1, description: 'Event time: a JSONata expression over the collected value giving when it happened (milliseconds since the epoch, or ISO 8601). tumbling and sliding windows only. Default: processing time (when it is collected).', examples: ['ts', 'timestamp'] },
    type: 'JSONata expression',
    default: 'processing time',
    doc: 'Event time: when a value happened, from the value (milliseconds since the epoch, or ISO 8601 text). Windows are then placed by that time, and close `allowedLateness` after their end (by the clock). For `tumbling` and `sliding` windows.',
  },
  allowedLateness: { schema: durationSchema('Event time: how long after its end a window still takes values; it closes then. Default: 0.', ['10s']), type: 'duration', default: '`0`', doc: 'Event time: how long after its end a window still takes values; it closes then, so its output comes that much later.' },
  late: {
    schema: { enum: [...LATE_POLICIES], description: 'Event time: a value whose windows have all closed is dropped (counted in mqflow_window_late_total) or fails its message (MQFLOW_WINDOW_LATE, to its error route). Default: drop.' },
    type: '`drop`, `fail`',
    default: '`drop`',
    doc: 'Event time: a value whose windows have all closed is `drop`ped (the message is done; counted in `mqflow_window_late_total`) or `fail`s its message (`MQFLOW_WINDOW_LATE`, not retried: to its error route).',
  },
  aggregate: {
    schema: {
      type: 'object',
      minProperties: 1,
      description: 'Running aggregates, name → { op: expression } with op one of count, sum, min, max, average, first, last ({ count: true } counts). Without it the window keeps every collected value.',
      additionalProperties: {
        type: 'object',
        minProperties: 1,
        maxProperties: 1,
        additionalProperties: false,
        properties: Object.fromEntries(AGGREGATE_OPS.map((op) => [op, op === 'count' ? { const: true, description: 'Count the values.' } : { type: 'string', minLength: 1, description: `The ${op} of this JSONata expression over the values (numbers${op === 'first' || op === 'last' ? ' or anything' : ''}).` }])),
      },
      examples: [{ avg: { average: 'celsius' }, readings: { count: true } }],
    },
    type: 'map',
    default: 'every value kept',
    doc: 'Running aggregates, so a long window does not keep every message: name → `{ count: true }` or `{ sum | min | max | average | first | last: <JSONata over the value> }`. Without it, the window keeps the collected values (`values`).',
  },
  store: {
    schema: { type: 'string', minLength: 1, description: 'A disk store (under stores:) that keeps the open windows: a collected message is acknowledged once its value is in the store, and open windows survive a restart. tumbling and sliding windows only. Default: in the process, the messages held until their windows emitted.', examples: ['windows'] },
    type: 'string',
    default: 'in the process',
    doc: 'A `disk` store (under `stores:`) that keeps the open windows: a collected message is acknowledged as soon as its value is in the store, and open windows survive a crash or a restart and close on time. For `tumbling` and `sliding` windows. Without it, windows are kept in the process and hold their messages (below).',
  },
  id: {
    schema: { type: 'string', minLength: 1, description: 'With store: a JSONata expression identifying a collected value, so a message redelivered after a crash is not counted twice. Default: the topic and payload bytes.', examples: ['seq', 'readingId'] },
    type: 'JSONata expression',
    default: 'the topic and payload',
    doc: 'With `store`: what identifies a collected value (text or a number), so a message the broker redelivers after a crash is counted once. By default the topic and the payload\'s bytes: two identical readings in one window then count once.',
  },
  maxOpen: {
    schema: { type: 'integer', minimum: 1, maximum: 10_000_000, description: 'The most windows open at once in the process (one per key; more when sliding); a value that would open one more fails its message (MQFLOW_WINDOW_LIMIT). Default: 100000.' },
    type: 'integer',
    default: '`100000`',
    doc: 'The most windows open at once in the process (one per key, more when sliding), so a flood of new keys cannot exhaust memory; a value that would open one more fails its message (`MQFLOW_WINDOW_LIMIT`, not retried). A window in a store is bounded by the store instead.',
  },
  connection: { schema: { type: 'string', minLength: 1, description: 'The connection its steps publish through when a publish names none. Default: the folder\'s only connection.' }, type: 'string', default: 'the folder\'s only connection', doc: 'The connection its steps\' publishes go through when they name none.' },
  steps: { schema: { $ref: '#/definitions/steps', description: 'Run once per closing window, with { window, key, start, end, count, values | aggregate } as the payload.' }, type: 'list of steps', default: 'required', doc: 'Run once per closing window, with `{ window, key, start, end, count, values }` (or `aggregate` instead of `values`) as the payload; `start` and `end` are ISO 8601 times, so a consumer can recognise a window emitted again.' },
};

export function windowSchema(description: string): Record<string, unknown> {
  return objectSchema(description, WINDOW_FIELDS, ['steps']);
}

export const WINDOW_TABLE: DocTable = fieldTable('window', WINDOW_FIELDS);

export const WINDOW_EXAMPLE = `windows:
  room-climate:
    key: room
    tumbling: 1m
    aggregate:
      celsius: { average: celsius }
      humidity: { average: humidity }
      readings: { count: true }
    steps:
      - publish:
          connection: plant
          topic: plant/climate/{{ key }}
`;

/** More examples the docs show and the specs test checks: a window kept in a disk store, and one in event time. */
export const WINDOW_MORE_EXAMPLES: readonly string[] = [
  `windows:
  peak-vibration:
    description: The peak of the last 5 minutes, every minute
    key: machine
    sliding: { size: 5m, every: 1m }
    maxOpen: 50000
    aggregate:
      peak: { max: mm_s }
    connection: plant
    steps:
      - publish:
          topic: plant/vibration-peaks/{{ key }}
  batches-of-100:
    count: 100
    connection: plant
    steps:
      - publish:
          topic: plant/batches
  door-visits:
    key: door
    session: 30s
    aggregate:
      events: { count: true }
      first: { first: at }
      last: { last: at }
    connection: plant
    steps:
      - publish:
          topic: plant/doors/{{ key }}/visits
`,
  `stores:
  windows:
    type: disk
    path: /var/lib/mqflow/windows
windows:
  per-second:
    key: device
    tumbling: 1s
    store: windows
    id: seq
    aggregate:
      celsius: { average: celsius }
    steps:
      - publish:
          connection: plant
          topic: plant/per-second/{{ key }}
`,
  `windows:
  per-minute-by-reading-time:
    key: device
    tumbling: 1m
    time: ts
    allowedLateness: 10s
    late: fail
    aggregate:
      celsius: { average: celsius }
    steps:
      - publish:
          connection: plant
          topic: plant/per-minute/{{ key }}
`,
];

interface WindowValue {
  maxOpen?: number;
  key?: string;
  store?: string;
  id?: string;
  time?: string;
  allowedLateness?: number | string;
  late?: LatePolicy;
  tumbling?: number | string;
  sliding?: { size: number | string; every: number | string };
  count?: number;
  session?: number | string;
  aggregate?: Record<string, Record<string, string | true>>;
  connection?: string;
  steps: unknown[];
}

/** Compiles a window definition; undefined when it reported an error. */
export function compileWindow(raw: Readonly<Record<string, unknown>>, path: ValuePath, c: ComponentCompiler): WindowSettings | undefined {
  const value = raw as unknown as WindowValue;
  let ok = true;
  const given = SHAPES.filter((s) => value[s] !== undefined);
  if (given.length !== 1) {
    c.problem(path, 'MQFLOW_WINDOW_SHAPE', `${formatPath(path)} needs exactly one of tumbling, sliding, count, session${given.length > 1 ? ` (it has ${given.join(' and ')})` : ''}`, 'for example tumbling: 1m');
    return undefined;
  }
  let shape: WindowShape;
  if (value.tumbling !== undefined) shape = { kind: 'tumbling', everyMs: Math.max(1, durationMs(value.tumbling)) };
  else if (value.count !== undefined) shape = { kind: 'count', count: value.count };
  else if (value.session !== undefined) shape = { kind: 'session', gapMs: Math.max(1, durationMs(value.session)) };
  else {
    const sizeMs = Math.max(1, durationMs(value.sliding!.size));
    const everyMs = Math.max(1, durationMs(value.sliding!.every));
    if (everyMs > sizeMs) {
      c.problem([...path, 'sliding', 'every'], 'MQFLOW_WINDOW_SHAPE', `${formatPath([...path, 'sliding', 'every'])} is longer than size: messages between windows would count in none`, 'make every at most size (equal to size is a tumbling window)');
      return undefined;
    }
    shape = { kind: 'sliding', sizeMs, everyMs };
  }
  const key = value.key === undefined ? undefined : c.expression(value.key, [...path, 'key']);
  if (value.key !== undefined && key === undefined) ok = false;
  const aggregates: Aggregate[] = [];
  for (const [name, spec] of Object.entries(value.aggregate ?? {})) {
    const [op, source] = Object.entries(spec)[0] as [AggregateOp, string | true];
    if (op === 'count') {
      aggregates.push({ name, op });
      continue;
    }
    const of = c.expression(source as string, [...path, 'aggregate', name, op]);
    if (of === undefined) ok = false;
    else aggregates.push({ name, op, of });
  }
  if (value.connection !== undefined) c.refer('connection', value.connection, [...path, 'connection']);
  if (value.store !== undefined) {
    c.refer('store', value.store, [...path, 'store']);
    if (shape.kind === 'count' || shape.kind === 'session') {
      c.problem([...path, 'store'], 'MQFLOW_WINDOW_STORE', `${formatPath([...path, 'store'])}: a ${shape.kind} window cannot be kept in a store yet`, 'use tumbling or sliding, or remove store');
      ok = false;
    }
  } else if (value.id !== undefined) {
    c.warn([...path, 'id'], 'MQFLOW_WINDOW_ID', `${formatPath([...path, 'id'])} is used only with store: a window in the process holds its messages instead`, 'remove id, or add store');
  }
  const id = value.id === undefined ? undefined : c.expression(value.id, [...path, 'id']);
  if (value.id !== undefined && id === undefined) ok = false;
  const time = value.time === undefined ? undefined : c.expression(value.time, [...path, 'time']);
  if (value.time !== undefined && time === undefined) ok = false;
  if (value.time !== undefined && (shape.kind === 'count' || shape.kind === 'session')) {
    c.problem([...path, 'time'], 'MQFLOW_WINDOW_TIME', `${formatPath([...path, 'time'])}: a ${shape.kind} window cannot use event time`, 'use tumbling or sliding, or remove time');
    ok = false;
  }
  for (const field of ['allowedLateness', 'late'] as const) {
    if (value[field] !== undefined && value.time === undefined) c.warn([...path, field], 'MQFLOW_WINDOW_TIME', `${formatPath([...path, field])} is used only with event time (time:)`, `add time:, or remove ${field}`);
  }
  const steps = Array.isArray(value.steps) ? c.steps(value.steps, [...path, 'steps']) : [];
  if (!ok) return undefined;
  return {
    ...(key === undefined ? {} : { key }),
    shape,
    aggregates,
    ...(value.connection === undefined ? {} : { connection: value.connection }),
    ...(value.store === undefined ? {} : { store: value.store }),
    ...(id === undefined ? {} : { id }),
    ...(time === undefined ? {} : { time }),
    latenessMs: value.allowedLateness === undefined ? 0 : durationMs(value.allowedLateness),
    late: value.late ?? 'drop',
    maxOpen: value.maxOpen ?? 100_000,
    steps,
  };
}
