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
import { parseRequestLine, type HttpStub } from './http-stubs.js';
import { pathMatcher } from '../http/listener.js';

export interface TestMessage {
  readonly topic: string;
  /** A YAML value: sent as JSON, or as the text itself when it is a string. */
  readonly payload: unknown;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly properties?: Readonly<Record<string, unknown>>;
  /** When it arrives, in ms after the case starts (the state clock moves there first). */
  readonly atMs?: number;
  /** For an endpoint: the request (the payload is its body). */
  readonly request?: { readonly method: string; readonly path: string; readonly headers: Readonly<Record<string, string>> };
}

/** A reply a `request` step gets in a test: to requests on `topic` (a prefix when it ends with *). */
export interface ReplyStub {
  readonly topic: string;
  readonly payload?: unknown;
  readonly fail?: 'timeout';
}

/** A request an http step must have sent: its method and URL, and some of its headers and its body. */
export interface ExpectedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** The answer an endpoint must have given a request. */
export interface ExpectedResponse {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
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
  /** Every request the http steps sent, in order. */
  readonly requests?: readonly ExpectedRequest[];
  /** The answer to each request to the endpoint, in the order of the messages. */
  readonly responses?: readonly ExpectedResponse[];
}

export interface TestCase {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly target: { readonly kind: 'trigger' | 'service' | 'endpoint' | 'schedule'; readonly name: string };
  /** What http steps get: the first stub that matches a request answers it. */
  readonly http?: readonly HttpStub[];
  /** What request steps get: the first stub whose topic matches answers. */
  readonly replies?: readonly ReplyStub[];
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
    path: { type: 'string', pattern: '^/', description: 'For an endpoint test: the path (and query) of the request.' },
    method: { type: 'string', pattern: '^[A-Z]+$', description: 'For an endpoint test: the method. Default: the endpoint\'s.' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'For an endpoint test: request headers.' },
    at: { ...durationSchema('When the message arrives, after the case starts: the state clock (time to live, windows, heartbeats, rates) moves there first. Never earlier than the message before.', ['1s', '5m']) },
  },
} as const;

const HTTP_STUB = {
  type: 'object',
  additionalProperties: false,
  required: ['request'],
  properties: {
    request: { type: 'string', pattern: '^\\s*([A-Z]+\\s+)?https?://\\S+\\s*$', description: 'The method and URL it answers (GET when no method), e.g. GET https://api.example.com/devices/d1; a URL ending in * matches by prefix.' },
    status: { type: 'integer', minimum: 100, maximum: 599, description: 'The status. Default: 200.' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    body: { description: 'The body: a YAML value sent as JSON, or a string sent as text.' },
    fail: { enum: ['timeout', 'refused'], description: 'Instead of a response: a timeout (MQFLOW_HTTP_TIMEOUT), or no server (MQFLOW_HTTP_CONNECT).' },
  },
} as const;

const REPLY_STUB = {
  type: 'object',
  additionalProperties: false,
  required: ['topic'],
  properties: {
    topic: { type: 'string', minLength: 1, description: 'The topic of the requests it answers; ending in * matches by prefix.' },
    payload: { description: 'The reply: a YAML value sent as JSON, or a string sent as text.' },
    fail: { const: 'timeout', description: 'No reply: the request times out (MQFLOW_REQUEST_TIMEOUT).' },
  },
} as const;

const EXPECTED_REQUEST = {
  type: 'object',
  additionalProperties: false,
  required: ['request'],
  properties: {
    request: { type: 'string', minLength: 1, description: 'The method and URL, e.g. POST https://alarm.example.com/doors/d7.' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Headers it must have carried (others may be there too).' },
    body: { description: 'Its body: JSON compared as data, text as text.' },
  },
} as const;

const EXPECTED_RESPONSE = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'integer', minimum: 100, maximum: 599 },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Headers it must have carried (others may be there too).' },
    body: { description: 'Its body: JSON compared as data, text as text.' },
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
          endpoint: { type: 'string', minLength: 1, description: 'An endpoint (HTTP trigger): each message is a request to it.' },
          schedule: { type: 'string', minLength: 1, description: 'A schedule: each message is a fire, at its at.' },
          http: { type: 'array', items: HTTP_STUB, description: 'The answers http steps get; a request no stub answers fails its step.' },
          replies: { type: 'array', items: REPLY_STUB, description: 'The replies request steps get; a request no stub answers times out.' },
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
              requests: { type: 'array', items: EXPECTED_REQUEST, description: 'Every request the http steps sent, in order.' },
              responses: { type: 'array', items: EXPECTED_RESPONSE, description: 'The answer to each request to the endpoint, in the order of the messages.' },
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
    const t = raw as { name: string; replies?: ReplyStub[]; trigger?: string; service?: string; endpoint?: string; schedule?: string; http?: { request: string; status?: number; headers?: Record<string, string>; body?: unknown; fail?: 'timeout' | 'refused' }[]; connection?: string; message?: Record<string, unknown>; messages?: Record<string, unknown>[]; fixed?: TestCase['fixed']; state?: Record<string, unknown>[]; expect: Omit<Expectations, 'state'> & { state?: Record<string, unknown>[] } };
    let ok = true;
    if ([t.trigger, t.service, t.endpoint, t.schedule].filter((x) => x !== undefined).length !== 1) {
      report(at, `test "${t.name}" must name one trigger, service, endpoint or schedule`, 'add trigger: <name> (the message arrives as the broker would deliver it), service: <name> (called directly), endpoint: <name> (each message is an HTTP request) or schedule: <name> (each message is a fire)');
      ok = false;
    }
    const kind = t.trigger !== undefined ? 'trigger' : t.endpoint !== undefined ? 'endpoint' : t.schedule !== undefined ? 'schedule' : 'service';
    const name = t.trigger ?? t.endpoint ?? t.schedule ?? t.service ?? '';
    const known: ReadonlyMap<string, unknown> = kind === 'trigger' ? model.triggers : kind === 'endpoint' ? model.endpoints : kind === 'schedule' ? model.schedules : model.services;
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
      if (kind === 'endpoint') {
        const endpoint = model.endpoints.get(name);
        if (m.path === undefined) {
          report(path, 'a request to an endpoint needs its path');
          return undefined;
        }
        if (endpoint !== undefined && pathMatcher(endpoint.path).match(new URL(m.path as string, 'http://test').pathname) === undefined) {
          report([...path, 'path'], `${m.path as string} is not a path of endpoint ${name} (${endpoint.path}): the listener would answer 404`);
          return undefined;
        }
        if (endpoint !== undefined && m.method !== undefined && m.method !== endpoint.method) {
          report([...path, 'method'], `endpoint ${name} takes ${endpoint.method}: the listener would answer 405`);
          return undefined;
        }
      }
      if (kind !== 'endpoint' && (m.path !== undefined || m.method !== undefined || m.headers !== undefined)) {
        report(path, 'path, method and headers are for requests to an endpoint', 'remove them, or test an endpoint: endpoint: <name>');
        return undefined;
      }
      if (kind === 'schedule' && (m.topic !== undefined || m.payload !== undefined)) {
        report(path, 'a fire of a schedule has the schedule\'s payload: give only its at', 'e.g. - at: 1m');
        return undefined;
      }
      if (m.payload === undefined && kind !== 'endpoint' && kind !== 'schedule') {
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
        topic: (m.topic as string | undefined) ?? (m.path as string | undefined) ?? '',
        payload: m.payload,
        ...(kind === 'endpoint'
          ? { request: { method: (m.method as string | undefined) ?? model.endpoints.get(name)?.method ?? 'POST', path: m.path as string, headers: (m.headers as Record<string, string> | undefined) ?? {} } }
          : {}),
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
      ...(t.replies === undefined ? {} : { replies: t.replies }),
      ...(t.http === undefined
        ? {}
        : { http: t.http.map((s) => ({ ...parseRequestLine(s.request), status: s.status ?? 200, headers: s.headers ?? {}, ...(s.body === undefined ? {} : { body: s.body }), ...(s.fail === undefined ? {} : { fail: s.fail }) })) }),
      ...(t.connection === undefined ? {} : { connection: t.connection }),
      messages: messages as TestMessage[],
      fixed: t.fixed ?? {},
      state: seed,
      expect: {
        ...t.expect,
        ...(expectedState === undefined ? {} : { state: expectedState }),
        ...(t.expect.requests === undefined ? {} : { requests: (t.expect.requests as unknown as { request: string; headers?: Record<string, string>; body?: unknown }[]).map(({ request, ...rest }) => ({ ...parseRequestLine(request), ...rest })) }),
      } as Expectations,
    });
  });
  return { source, cases };
}
