/**
 * Flow test files (`*.test.yaml`): their schema, and loading them into typed cases with the
 * positions problems and failures point at. Documented in docs/testing.md.
 */
import { relative } from 'node:path';
import type { FlowModel } from '../flow/model.js';
import { parseFlowFile } from '../flow/load.js';
import { FileLimitError, MAX_FILE_BYTES, readTextFileWithin } from '../util/bounded-read.js';
import { formatPath, type ValuePath } from '../util/path.js';
import { ProblemList } from '../flow/problem.js';
import { checkFile, compileFileSchema } from '../flow/schema-check.js';
import type { SourceFile } from '../flow/source.js';
import { closestMatch } from '../flow/suggest.js';
import { durationMs, durationSchema } from '../util/duration.js';

export interface TestMessage {
  readonly topic: string;
  /** A YAML value: sent as JSON, or as the text itself when it is a string. */
  readonly payload: unknown;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly properties?: Readonly<Record<string, unknown>>;
  /** When it arrives, in ms after the case starts (the state clock moves there first). */
  readonly atMs?: number;
}

/** A value in a store, to seed before the case or expect after it. */
export interface StateEntry {
  readonly store: string;
  readonly namespace: string;
  readonly key: string | number;
  /** Undefined in an expectation: nothing is kept under the key. */
  readonly value?: unknown;
}

export interface ExpectedPublish {
  readonly topic?: string;
  readonly connection?: string;
  /** The whole payload: JSON compared as data, text as text. */
  readonly payload?: unknown;
  /** Only these fields (deeply): other fields of the payload may be anything. */
  readonly payloadContains?: unknown;
  readonly qos?: 0 | 1 | 2;
  readonly retain?: boolean;
}

export interface Expectations {
  /** Every message published, in order (an empty list: nothing is published). */
  readonly published?: readonly ExpectedPublish[];
  /** The (last) message fails, after its retries, with this code and/or a reason containing this text. */
  readonly error?: { readonly code?: string; readonly reason?: string };
  /** Log lines that must appear: a level and/or text the line contains. */
  readonly logs?: readonly { readonly level?: string; readonly contains: string }[];
  /** Store contents after the case: a value, or `absent: true`. */
  readonly state?: readonly StateEntry[];
}

export interface TestCase {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly target: { readonly kind: 'trigger' | 'service'; readonly name: string };
  /** For service tests: the connection publishes go through when a step names none. */
  readonly connection?: string;
  readonly messages: readonly TestMessage[];
  readonly fixed: { readonly now?: string; readonly random?: number };
  /** Store contents before the first message. */
  readonly state?: readonly StateEntry[];
  readonly expect: Expectations;
}

export interface TestFile {
  readonly source: SourceFile;
  readonly cases: readonly TestCase[];
}

const MESSAGE = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1, description: 'The topic the message arrives on (required for trigger tests).' },
    payload: { description: 'The payload: a YAML value sent as JSON, or a string sent as its text.' },
    qos: { enum: [0, 1, 2] },
    retain: { type: 'boolean' },
    properties: { type: 'object', description: 'MQTT 5 properties, e.g. userProperties, contentType.' },
    at: { ...durationSchema('When the message arrives, after the case starts: the state clock (time to live, windows, heartbeats, rates) moves there first. Never earlier than the message before.', ['1s', '5m']) },
  },
} as const;

const STATE_ENTRY = {
  type: 'object',
  additionalProperties: false,
  required: ['namespace', 'key'],
  properties: {
    store: { type: 'string', minLength: 1, description: 'The store. Default: memory.' },
    namespace: { type: 'string', minLength: 1, description: 'The namespace of the key (a step\'s namespace, or its path).' },
    key: { type: ['string', 'number'], description: 'The key, as the step\'s key expression gives it.' },
    value: { description: 'The value kept under the key.' },
    absent: { const: true, description: 'In expect.state: nothing is kept under the key.' },
  },
} as const;

const PUBLISHED = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1 },
    connection: { type: 'string', minLength: 1 },
    payload: {},
    payloadContains: {},
    qos: { enum: [0, 1, 2] },
    retain: { type: 'boolean' },
  },
} as const;

export const TEST_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['tests'],
  properties: {
    tests: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'expect'],
        properties: {
          name: { type: 'string', minLength: 1 },
          trigger: { type: 'string', minLength: 1 },
          service: { type: 'string', minLength: 1 },
          connection: { type: 'string', minLength: 1 },
          message: MESSAGE,
          messages: { type: 'array', minItems: 1, items: MESSAGE },
          state: { type: 'array', items: STATE_ENTRY, description: 'Store contents before the first message.' },
          fixed: {
            type: 'object',
            additionalProperties: false,
            properties: {
              now: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$', description: 'What $now() returns (and $millis(), as milliseconds).' },
              random: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'What $random() returns.' },
            },
          },
          expect: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              published: { type: 'array', items: PUBLISHED },
              error: { type: 'object', additionalProperties: false, minProperties: 1, properties: { code: { type: 'string' }, reason: { type: 'string' } } },
              state: { type: 'array', items: STATE_ENTRY, description: 'Store contents after the last message.' },
              logs: {
                type: 'array',
                items: { type: 'object', additionalProperties: false, required: ['contains'], properties: { level: { enum: ['trace', 'debug', 'info', 'warn', 'error'] }, contains: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
  },
} as const;

let validator: ReturnType<typeof compileFileSchema> | undefined;

/** Loads a test file: its cases, and every problem (file:line:col) with it or with what it names in `model`. */
export function loadTestFile(absolutePath: string, model: FlowModel, problems: ProblemList, cwd: string): TestFile | undefined {
  const shownAs = relative(cwd, absolutePath) || absolutePath;
  let text: string;
  try {
    // Only a regular file of at most MAX_FILE_BYTES, as for flow files.
    text = readTextFileWithin(absolutePath, MAX_FILE_BYTES);
  } catch (error) {
    const limited = error instanceof FileLimitError;
    const message = `cannot read the file: ${limited ? error.reason : (error as Error).message}`;
    problems.add({ severity: 'error', code: 'MQFLOW_READ', file: shownAs, line: 1, column: 1, path: '', message, ...(limited ? { hint: error.kind === 'too-large' ? 'split its tests into several test files' : error.hint } : {}) });
    return undefined;
  }
  const own = new ProblemList();
  const loaded = parseFlowFile(absolutePath, shownAs, text, { env: {}, readFile: () => '' }, own);
  if (loaded.data === undefined) {
    for (const p of own.all()) problems.add(p);
    return undefined;
  }
  validator ??= compileFileSchema(TEST_FILE_SCHEMA);
  const checked = checkFile(validator, loaded, own);
  for (const p of own.all()) problems.add(p);
  if (checked.invalidPaths.length > 0) return undefined;
  const data = checked.data as { tests: Record<string, unknown>[] };
  const source = loaded.source;
  const report = (path: ValuePath, message: string, hint?: string): void => {
    problems.add({ severity: 'error', code: 'MQFLOW_TEST', ...source.locate(path), path: formatPath(path), message: `${formatPath(path)}: ${message}`, ...(hint === undefined ? {} : { hint }) });
  };
  const cases: TestCase[] = [];
  data.tests.forEach((raw, i) => {
    const at: ValuePath = ['tests', i];
    const t = raw as { name: string; trigger?: string; service?: string; connection?: string; message?: Record<string, unknown>; messages?: Record<string, unknown>[]; fixed?: TestCase['fixed']; state?: Record<string, unknown>[]; expect: Omit<Expectations, 'state'> & { state?: Record<string, unknown>[] } };
    let ok = true;
    if ((t.trigger === undefined) === (t.service === undefined)) {
      report(at, `test "${t.name}" must name either a trigger or a service`, 'add trigger: <name> (the message arrives as the broker would deliver it) or service: <name> (called directly)');
      ok = false;
    }
    const kind = t.trigger !== undefined ? 'trigger' : 'service';
    const name = t.trigger ?? t.service ?? '';
    const known = kind === 'trigger' ? model.triggers : model.services;
    if (name !== '' && !known.has(name)) {
      const suggestion = closestMatch(name, [...known.keys()]);
      report([...at, kind], `no ${kind} named "${name}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`);
      ok = false;
    }
    if ((t.message === undefined) === (t.messages === undefined)) {
      report(at, `test "${t.name}" needs message (one) or messages (a list), not both`);
      ok = false;
    }
    let lastAt = 0;
    const messages = (t.messages ?? (t.message === undefined ? [] : [t.message])).map((m, j): TestMessage | undefined => {
      const path: ValuePath = t.messages === undefined ? [...at, 'message'] : [...at, 'messages', j];
      if (kind === 'trigger' && m.topic === undefined) {
        report(path, 'a message for a trigger needs the topic it arrives on');
        return undefined;
      }
      if (m.payload === undefined) {
        report(path, 'a message needs a payload');
        return undefined;
      }
      const atMs = m.at === undefined ? undefined : durationMs(m.at as number | string);
      if (atMs !== undefined && atMs < lastAt) {
        report([...path, 'at'], `this message arrives at ${atMs} ms, before the one above it (${lastAt} ms)`, 'list the messages in the order they arrive');
        return undefined;
      }
      lastAt = atMs ?? lastAt;
      return {
        ...(atMs === undefined ? {} : { atMs }),
        topic: (m.topic as string | undefined) ?? '',
        payload: m.payload,
        qos: (m.qos as 0 | 1 | 2 | undefined) ?? 1,
        retain: (m.retain as boolean | undefined) ?? false,
        ...(m.properties === undefined ? {} : { properties: m.properties as Record<string, unknown> }),
      };
    });
    if (t.connection !== undefined && !model.connections.has(t.connection)) {
      report([...at, 'connection'], `no connection named "${t.connection}"`);
      ok = false;
    }
    const entries = (list: Record<string, unknown>[] | undefined, path: ValuePath, expected: boolean): StateEntry[] =>
      (list ?? []).flatMap((e, j): StateEntry[] => {
        const store = (e.store as string | undefined) ?? 'memory';
        if (!model.stores.has(store)) {
          report([...path, j, 'store'], `no store named "${store}"`);
          ok = false;
          return [];
        }
        if (e.absent === true ? e.value !== undefined : e.value === undefined) {
          report([...path, j], expected ? 'give value (what is kept) or absent: true (nothing is)' : 'a seeded entry needs a value, and cannot be absent');
          ok = false;
          return [];
        }
        if (!expected && e.absent === true) {
          report([...path, j], 'a seeded entry needs a value, and cannot be absent');
          ok = false;
          return [];
        }
        return [{ store, namespace: e.namespace as string, key: e.key as string | number, ...(e.value === undefined ? {} : { value: e.value }) }];
      });
    const seed = entries(t.state, [...at, 'state'], false);
    const expectedState = t.expect.state === undefined ? undefined : entries(t.expect.state, [...at, 'expect', 'state'], true);
    if (!ok || messages.some((m) => m === undefined)) return;
    cases.push({
      name: t.name,
      file: shownAs,
      line: source.locate(at).line,
      target: { kind, name },
      ...(t.connection === undefined ? {} : { connection: t.connection }),
      messages: messages as TestMessage[],
      fixed: t.fixed ?? {},
      state: seed,
      expect: { ...t.expect, ...(expectedState === undefined ? {} : { state: expectedState }) } as Expectations,
    });
  });
  return { source, cases };
}
