/** Compares what a test case expects with what happened; a mismatch is described with a diff. */
import { isDeepStrictEqual } from 'node:util';
import { lineDiff } from './diff.js';
import type { CapturedPublish, Observed } from './harness.js';
import type { Reply } from '../http/listener.js';
import type { RecordedRequest } from './http-stubs.js';
import type { ExpectedPublish, ExpectedRequest, ExpectedResponse, Expectations } from './test-file.js';

/** The mismatches, each a block of lines ready to print (empty: the case passed). */
export function mismatches(expect: Expectations, observed: Observed): string[][] {
  const out: string[][] = [];
  if (expect.published !== undefined) {
    const problem = publishedMismatch(expect.published, observed.published);
    if (problem !== undefined) out.push(problem);
  }
  const last = observed.failures[observed.failures.length - 1];
  if (expect.error !== undefined) {
    const { code, reason } = expect.error;
    const want = [code === undefined ? undefined : `code ${code}`, reason === undefined ? undefined : `a reason containing "${reason}"`].filter((x) => x !== undefined).join(' and ');
    if (last === undefined) out.push([`expected the message to fail with ${want}, but it was processed without an error`]);
    else if ((code !== undefined && last.code !== code) || (reason !== undefined && !last.reason.includes(reason))) {
      out.push([`expected the message to fail with ${want}; it failed with:`, `  ${last.code}: ${last.reason}`]);
    }
  } else if (last !== undefined) {
    out.push([`unexpected error (add expect.error if the failure is intended):`, ...observed.failures.map((f) => `  ${f.code}: ${f.reason}`)]);
  }
  for (const want of expect.state ?? []) {
    const actual = observed.stateValue(want.store, want.namespace, want.key);
    if (!isDeepStrictEqual(actual, want.value)) {
      const what = `store ${want.store}, namespace ${want.namespace}, key ${JSON.stringify(want.key)}`;
      out.push([`${what}: expected ${want.value === undefined ? 'nothing' : JSON.stringify(want.value)}, found ${actual === undefined ? 'nothing' : JSON.stringify(actual)}`]);
    }
  }
  if (expect.requests !== undefined) {
    const problem = requestsMismatch(expect.requests, observed.requests);
    if (problem !== undefined) out.push(problem);
  }
  (expect.responses ?? []).forEach((want, i) => {
    const reply = observed.responses[i];
    const problem = responseMismatch(want, reply);
    if (problem !== undefined) out.push([`request ${i + 1}: ${problem[0]!}`, ...problem.slice(1)]);
  });
  for (const want of expect.logs ?? []) {
    const found = observed.logs.some((l) => (want.level === undefined || l.level === want.level) && l.text.includes(want.contains));
    if (!found) {
      out.push([
        `expected a log line${want.level === undefined ? '' : ` at ${want.level}`} containing "${want.contains}"; the log was:`,
        ...(observed.logs.length === 0 ? ['  (nothing)'] : observed.logs.map((l) => `  ${l.level}: ${l.text}`)),
      ]);
    }
  }
  return out;
}

function requestsMismatch(expected: readonly ExpectedRequest[], actual: readonly RecordedRequest[]): string[] | undefined {
  const same = expected.length === actual.length && expected.every((e, i) => requestMatches(e, actual[i]!));
  if (same) return undefined;
  const view = (r: ExpectedRequest | RecordedRequest, e: ExpectedRequest | undefined): Record<string, unknown> => ({
    request: `${r.method} ${r.url}`,
    ...(e?.headers === undefined ? {} : { headers: Object.fromEntries(Object.keys(e.headers).map((k) => [k, r.headers?.[k.toLowerCase()] ?? r.headers?.[k]])) }),
    ...(e?.body === undefined ? {} : { body: r.body }),
  });
  const render = (items: unknown[]): string => JSON.stringify(items, null, 2);
  const heading = expected.length === actual.length ? 'HTTP requests differ (- expected, + actual):' : `expected ${expected.length} HTTP request${expected.length === 1 ? '' : 's'}, got ${actual.length} (- expected, + actual):`;
  return [heading, ...lineDiff(render(expected.map((e) => view(e, e))), render(actual.map((a, i) => view(a, expected[i])))).map((l) => `  ${l}`)];
}

function requestMatches(e: ExpectedRequest, a: RecordedRequest): boolean {
  if (e.method !== a.method || e.url !== a.url) return false;
  if (e.headers !== undefined && !Object.entries(e.headers).every(([k, v]) => a.headers[k.toLowerCase()] === v)) return false;
  return e.body === undefined || isDeepStrictEqual(a.body, e.body);
}

function responseMismatch(want: ExpectedResponse, reply: Reply | undefined): string[] | undefined {
  if (reply === undefined) return ['expected an answer, but none was sent'];
  const text = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : reply.body.toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // Text stays text.
  }
  if (want.status !== undefined && want.status !== reply.status) return [`expected status ${want.status}, got ${reply.status}${text === '' ? '' : `: ${text.slice(0, 300)}`}`];
  for (const [name, value] of Object.entries(want.headers ?? {})) {
    const got = reply.headers?.[name] ?? reply.headers?.[name.toLowerCase()];
    if (got !== value) return [`expected header ${name}: ${value}, got ${got === undefined ? 'none' : got}`];
  }
  if (want.body !== undefined && !isDeepStrictEqual(typeof want.body === 'string' ? text : body, want.body)) {
    return ['the body differs (- expected, + actual):', ...lineDiff(JSON.stringify(want.body, null, 2), JSON.stringify(body, null, 2)).map((l) => `  ${l}`)];
  }
  return undefined;
}

function publishedMismatch(expected: readonly ExpectedPublish[], actual: readonly CapturedPublish[]): string[] | undefined {
  const same = expected.length === actual.length && expected.every((e, i) => matches(e, actual[i]!));
  if (same) return undefined;
  const render = (items: unknown[]): string => JSON.stringify(items, null, 2);
  const expectedView = expected.map((e) => view(e));
  const actualView = actual.map((a, i) => (i < expected.length ? project(expected[i]!, a) : { topic: a.topic, payload: payloadOf(a) }));
  const heading =
    expected.length === actual.length
      ? `published messages differ (- expected, + actual):`
      : `expected ${expected.length} message${expected.length === 1 ? '' : 's'} published, got ${actual.length} (- expected, + actual):`;
  return [heading, ...lineDiff(render(expectedView), render(actualView)).map((l) => `  ${l}`)];
}

function matches(e: ExpectedPublish, a: CapturedPublish): boolean {
  if (e.topic !== undefined && e.topic !== a.topic) return false;
  if (e.connection !== undefined && e.connection !== a.connection) return false;
  if (e.qos !== undefined && e.qos !== a.qos) return false;
  if (e.retain !== undefined && e.retain !== a.retain) return false;
  if (e.payload !== undefined && !isDeepStrictEqual(typeof e.payload === 'string' ? a.text : a.json, e.payload)) return false;
  if (e.payloadContains !== undefined && !contains(a.json, e.payloadContains)) return false;
  return true;
}

/** Does `actual` hold every field of `wanted` (objects by key, recursively; anything else exactly)? */
function contains(actual: unknown, wanted: unknown): boolean {
  if (wanted !== null && typeof wanted === 'object' && !Array.isArray(wanted)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(wanted).every(([k, v]) => contains((actual as Record<string, unknown>)[k], v));
  }
  return isDeepStrictEqual(actual, wanted);
}

/** The expected publish, fields in a fixed order. */
function view(e: ExpectedPublish): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (e.connection !== undefined) out.connection = e.connection;
  if (e.topic !== undefined) out.topic = e.topic;
  if (e.payload !== undefined) out.payload = e.payload;
  if (e.payloadContains !== undefined) out.payloadContains = e.payloadContains;
  if (e.qos !== undefined) out.qos = e.qos;
  if (e.retain !== undefined) out.retain = e.retain;
  return out;
}

/** The actual publish shown with only what the expectation looks at, so the diff shows only differences. */
function project(e: ExpectedPublish, a: CapturedPublish): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (e.connection !== undefined) out.connection = a.connection;
  if (e.topic !== undefined) out.topic = a.topic;
  if (e.payload !== undefined) out.payload = typeof e.payload === 'string' ? a.text : payloadOf(a);
  if (e.payloadContains !== undefined) out.payloadContains = narrow(a.json, e.payloadContains);
  if (e.qos !== undefined) out.qos = a.qos;
  if (e.retain !== undefined) out.retain = a.retain;
  return out;
}

function narrow(actual: unknown, wanted: unknown): unknown {
  if (wanted === null || typeof wanted !== 'object' || Array.isArray(wanted) || actual === null || typeof actual !== 'object' || Array.isArray(actual)) return actual;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(wanted)) if (key in actual) out[key] = narrow((actual as Record<string, unknown>)[key], (wanted as Record<string, unknown>)[key]);
  return out;
}

function payloadOf(a: CapturedPublish): unknown {
  return a.json === undefined ? a.text : a.json;
}
