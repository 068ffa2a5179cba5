/**
 * Runs one flow test case with the production pieces — the compiled model, the message host
 * (decoding, retries, error routes) and the trigger runner — over an in-memory output: no network,
 * no broker. What it records is what `mqflow run` would hand its connections (invariant 25).
 */
import { isUtf8 } from 'node:buffer';
import { Writable } from 'node:stream';
import { writePayload } from '../codecs/sparkplug/payload.js';
import { endpointDelivery } from '../engine/endpoints.js';
import { fireDelivery } from '../engine/schedules.js';
import { TriggerRunner } from '../engine/trigger-runner.js';
import type { JobTrigger } from '../host/delivery-kinds.js';
import { HIDDEN_HEADERS, pathMatcher, queryOf, type Answer, type IncomingRequest, type Reply } from '../http/listener.js';
import { StubHttpClient, type RecordedRequest } from './http-stubs.js';
import { RequestTimeout } from '../mqtt/request-inbox.js';
import type { Endpoint, FlowModel } from '../flow/model.js';
import { MessageHost } from '../host/host.js';
import { CaptureOutput, type CapturedMessage } from '../host/output.js';
import type { Delivery } from '../mqtt/message.js';
import type { MessageContext } from '../pipeline/context.js';
import { MessageFailure } from '../pipeline/execution.js';
import { ManualClock } from '../state/clock.js';
import type { StateEnvironment } from '../state/message-state.js';
import { MemoryStore } from '../state/memory-store.js';
import { OpenStore } from '../state/open-store.js';
import { WindowRuntime } from '../host/windows.js';
import { createLog } from '../util/log.js';
import type { TestCase, TestMessage } from './test-file.js';

export interface CapturedPublish {
  readonly connection: string;
  readonly topic: string;
  /** The payload as sent: its text (UTF-8) and, when it parses, its JSON value. */
  readonly text: string;
  readonly json?: unknown;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** MQTT 5 properties, as the connection would send them (none on MQTT 3.1.1). */
  readonly properties?: Readonly<Record<string, unknown>>;
}

export interface Observed {
  readonly published: CapturedPublish[];
  /** Message failures after retries, in order: what the error route received. */
  readonly failures: { readonly code: string; readonly reason: string }[];
  readonly logs: { readonly level: string; readonly text: string }[];
  /** The requests http steps sent, in order. */
  readonly requests: readonly RecordedRequest[];
  /** The answer to each request to an endpoint, by message (undefined: none was sent). */
  readonly responses: (Reply | undefined)[];
  /** Reads a store after the case (expect.state). */
  readonly stateValue: (store: string, namespace: string, key: string | number) => unknown;
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** `onClock` gets the case's clock once it is made (mqflow test points $now() and $millis() at it). */
export async function runCase(model: FlowModel, testCase: TestCase, onClock?: (now: () => number) => void): Promise<Observed> {
  // Every store is a memory store here (nothing is connected to); the clock moves as the case says.
  const clock = new ManualClock(testCase.fixed.now === undefined ? Date.now() : Date.parse(testCase.fixed.now));
  const start = clock.now();
  onClock?.(() => clock.now());
  const stores = new Map([...model.stores].map(([name, s]) => [name, new OpenStore(name, new MemoryStore(s.memory?.maxEntries ?? 1_000_000), s.limits)]));
  const env: StateEnvironment = { store: (name) => stores.get(name), clock };
  for (const entry of testCase.state ?? []) {
    const store = stores.get(entry.store)!;
    void store.store.commit([{ key: store.key(entry.namespace, entry.key), value: entry.value }], clock.now());
  }
  const http = new StubHttpClient(testCase.http ?? []);
  const observed: Observed = {
    published: [],
    failures: [],
    logs: [],
    requests: http.requests,
    responses: [],
    stateValue: (name, namespace, key) => {
      const store = stores.get(name)!;
      return store.store.get(store.key(namespace, key), clock.now());
    },
  };
  const output = new CaptureOutput(new Set(model.connections.keys()), (connection, message) => {
    const stub = (testCase.replies ?? []).find((r) => (r.topic.endsWith('*') ? message.topic.startsWith(r.topic.slice(0, -1)) : r.topic === message.topic));
    if (stub === undefined || stub.fail === 'timeout') return Promise.reject(new RequestTimeout(`no reply${stub === undefined ? ` (mqflow test: no stub under replies: answers ${message.topic})` : ' (stub)'}`));
    const payload = stub.payload === undefined ? Buffer.alloc(0) : Buffer.from(typeof stub.payload === 'string' ? stub.payload : JSON.stringify(stub.payload));
    return Promise.resolve({ topic: `mqflow/replies/test-${connection}`, payload, properties: {} });
  });
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text === '') continue;
        const line = JSON.parse(text) as { level: number; msg: string; event?: string; code?: string; reason?: string };
        observed.logs.push({ level: LEVEL_NAMES[line.level] ?? String(line.level), text: line.msg });
        if (line.event === 'message-failed') observed.failures.push({ code: line.code ?? 'MQFLOW_FAILED', reason: line.reason ?? line.msg });
      }
      done();
    },
  });
  const log = createLog({ level: 'trace', pretty: false, secrets: model.secrets, destination: lines });
  const windows = new Map<string, WindowRuntime>();
  const host = new MessageHost(model, output, log, { state: env, windows: { window: (name) => windows.get(name) }, http });
  const onlyConnection = model.connections.size === 1 ? [...model.connections.keys()][0]! : '';
  for (const [name, w] of model.windows) {
    const store = w.store === undefined ? undefined : stores.get(w.store);
    windows.set(name, new WindowRuntime(name, w, w.fingerprint, (payload, context) => host.runSteps(w.steps, payload, context), w.connection ?? onlyConnection, clock, log, store === undefined ? undefined : { store, env }));
  }
  /** Windows still open when every message is done (windows kept in a store hold none) close: on time, as the clock moves to them. */
  const closeWindows = async (): Promise<void> => {
    for (let guard = 0; guard < 10_000 && [...windows.values()].some((w) => w.counters.open > 0); guard++) {
      if (clock.sleeping > 0) await clock.advanceTo(clock.nextWake!);
      else await flushWindows();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  /** True while what is left waits for the clock, or for windows to emit: time may move on. */
  const waiting = (): boolean => clock.sleeping > 0 || [...windows.values()].some((w) => w.counters.held > 0);
  // Windows still open once nothing waits for the clock (a count window not full) close then.
  const flushWindows = async (): Promise<boolean> => {
    const open = [...windows.values()].some((w) => w.counters.open > 0);
    if (open) await Promise.all([...windows.values()].map((w) => w.flush()));
    return open;
  };

  if (testCase.target.kind === 'service') {
    const connection = testCase.connection ?? (model.connections.size === 1 ? [...model.connections.keys()][0]! : '');
    const serviceRuns: Promise<void>[] = [];
    for (const message of testCase.messages) {
      await clock.advanceTo(start + (message.atMs ?? 0));
      const context: MessageContext = {
        topic: message.topic,
        levels: message.topic.split('/'),
        wildcards: [],
        payload: message.payload,
        qos: message.qos,
        retain: message.retain,
        dup: false,
        receivedAt: new Date(clock.now()).toISOString(),
        trigger: '(test)',
        connection,
        ...(message.properties === undefined ? {} : { properties: message.properties }),
      };
      const done = host.runService(testCase.target.name, message.payload, context).catch((error: unknown) => {
        const failure = error instanceof MessageFailure ? error : new MessageFailure(String((error as Error).message), (error as { code?: string }).code ?? 'MQFLOW_FAILED');
        observed.failures.push({ code: failure.code, reason: failure.message });
      });
      serviceRuns.push(done);
      await whileAwake(done, waiting);
    }
    await untilDone(Promise.all(serviceRuns), clock, waiting, flushWindows);
    await closeWindows();
    observed.published.push(...output.sent.map(captured));
    return observed;
  }

  // A trigger's messages arrive as the broker would deliver them; an endpoint's as requests, answered as the listener would.
  const endpoint = testCase.target.kind === 'endpoint' ? model.endpoints.get(testCase.target.name)! : undefined;
  const schedule = testCase.target.kind === 'schedule' ? model.schedules.get(testCase.target.name)! : undefined;
  const trigger = endpoint ?? schedule ?? model.triggers.get(testCase.target.name)!;
  const runner = new TriggerRunner<JobTrigger>(trigger, { host: () => host, log, sessionKept: false });
  const deliver = (message: TestMessage, i: number, receivedAt: number, finish: () => void): Delivery => {
    // A fire happens at the message's time: that is its tick.
    if (schedule !== undefined) return fireDelivery(schedule, receivedAt, false, receivedAt, finish);
    if (endpoint === undefined) return delivery(message, trigger, i + 1, receivedAt, finish);
    const answer: Answer = {
      send: (reply) => {
        observed.responses[i] = reply;
        finish();
      },
      gone: false,
    };
    return endpointDelivery(endpoint.name, request(endpoint, message, receivedAt), answer, { '2xx': 0, '4xx': 0, '5xx': 0 });
  };
  const retryMs = trigger.retry.maxAttempts * trigger.retry.maxDelayMs;
  const pending: Promise<void>[] = [];
  for (const [i, message] of testCase.messages.entries()) {
    const failuresBefore = observed.failures.length;
    await clock.advanceTo(start + (message.atMs ?? 0));
    const receivedAt = clock.now();
    // A message waiting for the clock (a throttle) lets the next one come: time moves only between messages.
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`message ${i + 1} was not done after ${Math.round((retryMs + 10_000) / 1000)} s`)), retryMs + 10_000);
      const finish = (): void => {
        clearTimeout(timer);
        resolve();
      };
      runner.onDelivery(deliver(message, i, receivedAt, finish));
      // onError: suspend leaves the message with the broker: it is done for the test once failed.
      if (trigger.onError?.kind === 'suspend') {
        const poll = setInterval(() => {
          if (observed.failures.length > failuresBefore) {
            clearInterval(poll);
            finish();
          }
        }, 5);
      }
    });
    pending.push(done);
    await whileAwake(done, waiting);
  }
  // Whatever still waits for the clock gets its time, in order.
  await untilDone(Promise.all(pending), clock, waiting, flushWindows);
  await closeWindows();
  observed.published.push(...output.sent.map(captured));
  return observed;
}

/** Resolves when `work` settles, or when it is left waiting only for the clock. */
async function whileAwake(work: Promise<unknown>, waiting: () => boolean): Promise<void> {
  let settled = false;
  const watched = work.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  for (let idle = 0; !settled && idle < 3; ) {
    await new Promise((resolve) => setImmediate(resolve));
    idle = waiting() ? idle + 1 : 0;
  }
  if (settled) await watched;
}

/** Settles with `work`, moving the clock to each sleeper's time while `work` waits only for it. */
async function untilDone<T>(work: Promise<T>, clock: ManualClock, waiting: () => boolean, whenIdle: () => Promise<boolean>): Promise<T> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    await whileAwake(work, waiting);
    if (settled) return work;
    if (clock.sleeping > 0) await clock.advanceTo(clock.nextWake!);
    else if (!(await whenIdle())) return work;
  }
}

function captured({ connection, message }: CapturedMessage): CapturedPublish {
  // What a codec encoded is compared (and shown) decoded by that codec; other bytes that are not UTF-8 as base64.
  const bytes = typeof message.payload === 'string' ? undefined : message.payload;
  const text = bytes === undefined ? (message.payload as string) : isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('base64');
  let json: unknown;
  if (bytes !== undefined && message.decoder !== undefined) {
    try {
      json = message.decoder(bytes);
    } catch {
      json = undefined; // shown as its text: what it was encoded as cannot read it back
    }
  } else {
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = undefined;
    }
  }
  return {
    connection,
    topic: message.topic,
    text,
    ...(json === undefined ? {} : { json }),
    qos: message.qos,
    retain: message.retain,
    ...(message.properties === undefined ? {} : { properties: { ...message.properties } }),
  };
}

/** A test message as a request to `endpoint`: its path parameters, query and headers as the listener gives them. */
function request(endpoint: Endpoint, message: TestMessage, receivedAt: number): IncomingRequest {
  const url = new URL(message.request?.path ?? '/', 'http://test');
  const headers = Object.fromEntries(
    Object.entries(message.request?.headers ?? {})
      .map(([k, v]): [string, string] => [k.toLowerCase(), v])
      .filter(([k]) => !HIDDEN_HEADERS.has(k)),
  );
  const body = message.payload === undefined ? Buffer.alloc(0) : payloadBytes(message.payload, endpoint);
  return { method: message.request?.method ?? endpoint.method, path: url.pathname, params: pathMatcher(endpoint.path).match(url.pathname) ?? {}, query: queryOf(url), headers, body, receivedAt };
}

/** A test message's payload as bytes: text as UTF-8, bytes as they are (the payload fuzzer sends raw bytes), any other value encoded by the trigger's codec, else as JSON. */
function payloadBytes(payload: unknown, trigger: Pick<JobTrigger, 'payload' | 'codec'>): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload);
  if (Buffer.isBuffer(payload)) return payload;
  if (trigger.codec !== undefined) return trigger.codec.encode(payload);
  if (trigger.payload === 'sparkplugB') return writePayload(payload, {});
  return Buffer.from(JSON.stringify(payload) ?? '');
}

function delivery(message: TestMessage, trigger: JobTrigger, id: number, receivedAt: number, complete: () => void): Delivery {
  const payload = payloadBytes(message.payload, trigger);
  return {
    topic: message.topic,
    payload,
    qos: message.qos,
    retain: message.retain,
    dup: false,
    messageId: message.qos > 0 ? id : undefined,
    properties: message.properties,
    receivedAt,
    complete,
    // No broker behind a test case: a message the trigger drops is simply not acknowledged.
    abandon: () => undefined,
    connectionLost: false,
  };
}
