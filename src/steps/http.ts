/**
 * http: calls a REST API and makes its response available to the next steps (Node-RED's `http
 * request`, webMethods' pub.client:http). The origin is fixed by the flow; a message fills only
 * path segments, query values and header values, each encoded or checked (docs/architecture.md,
 * invariant 45). 2xx continues; 4xx fails the message without retries (408, 425 and 429 are
 * retried); 5xx, timeouts and connection errors are retried per the trigger's `retry`.
 */
import type { ComponentCompiler } from '../component/compiler.js';
import { fieldRows, objectSchema, type FieldSpec } from '../component/spec.js';
import { checkSecretSource, compileTls, tlsFields, type TlsValue } from '../component/tls.js';
import type { Expression } from '../expr/expression.js';
import type { Template } from '../expr/template.js';
import { HttpError, type HttpRequest, type HttpResponse, type PoolSettings } from '../http/client.js';
import { encodedUrl, urlShape, UrlValueError, type UrlShape } from '../http/url-template.js';
import { evaluate, render } from '../pipeline/evaluate.js';
import { MessageFailure, type Execution, type Outcome } from '../pipeline/execution.js';
import type { StepRuntime } from '../pipeline/step.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { after, type Maybe } from '../util/maybe.js';
import { formatPath, type ValuePath } from '../util/path.js';
import { StateError } from '../state/state-error.js';
import { Secret } from '../util/secret.js';
import { CONTINUE, variableNameProblem, type StepData, type StepKind } from './kind.js';
import { compileStateRef, STORE_FIELD, withStore, type StateRef } from './state-step.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
type Method = (typeof HTTP_METHODS)[number];

/** Methods whose default body is the current payload. */
const SENDS_PAYLOAD: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

/** Headers the flow may not set: they describe the connection or the body, which the client owns. */
const OWN_HEADERS: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface HttpCache extends StateRef {
  readonly key: Expression;
  readonly ttlMs: number;
}

export interface HttpStep extends StepData {
  readonly kind: 'http';
  readonly method: Method;
  readonly url: Template;
  readonly shape: UrlShape;
  readonly query: readonly { readonly name: string; readonly value: Template }[];
  readonly headers: readonly { readonly name: string; readonly value: Template }[];
  /** Undefined: the payload for POST, PUT and PATCH; nothing otherwise. */
  readonly body?: Expression;
  readonly contentType?: string;
  readonly as?: string;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly allowStatus: readonly number[];
  readonly authorization?: Secret;
  readonly pool: PoolSettings;
  readonly cache?: HttpCache;
}

interface HttpValue {
  method?: Method;
  url: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  contentType?: string;
  as?: string;
  timeout?: number | string;
  maxResponseBytes?: number;
  maxConnections?: number;
  allowStatus?: number[];
  tls?: TlsValue;
  auth?: { bearer?: string; username?: string; password?: string };
  cache?: { key: string; ttl: number | string; store?: string; namespace?: string };
}

const templateMap = (description: string, examples: Record<string, string>): FieldSpec['schema'] => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string', description: 'A text template.' },
  examples: [examples],
});

const AUTH_FIELDS: Readonly<Record<string, FieldSpec>> = {
  bearer: { schema: { type: 'string', minLength: 1, description: 'A bearer token: use ${env:NAME} or ${file:path}.', examples: ['${env:API_TOKEN}'] }, type: 'string', default: 'none', doc: 'Sent as `Authorization: Bearer <token>`. Use `${env:NAME}` or `${file:path}`.' },
  username: { schema: { type: 'string', minLength: 1, description: 'Basic authentication user name.', examples: ['mqflow'] }, type: 'string', default: 'none', doc: 'Basic authentication: the user name (with `password`).' },
  password: { schema: { type: 'string', description: 'Basic authentication password: use ${env:NAME} or ${file:path}.', examples: ['${env:API_PASSWORD}'] }, type: 'string', default: 'none', doc: 'Basic authentication: the password. Use `${env:NAME}` or `${file:path}`.' },
};

const CACHE_FIELDS: Readonly<Record<string, FieldSpec>> = {
  key: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the cache key (text or a number).', examples: ['device'] }, type: 'JSONata expression', default: 'required', doc: 'The cache key (text or a number): messages with the same key share a response.' },
  ttl: { schema: durationSchema('How long a response is kept.', ['5m']), type: 'duration', default: 'required', doc: 'How long a 2xx response is kept, from when its message was done.' },
  store: STORE_FIELD,
  namespace: { schema: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.\\-\\[\\]/]{0,199}$', description: 'The keys\' namespace in the store. Default: the step\'s path.' }, type: 'string', default: 'the step\'s path', doc: 'The namespace of the cache keys in the store; steps naming the same namespace share responses.' },
};

export const HTTP_TLS_FIELDS = tlsFields('server');

const FIELDS: Readonly<Record<string, FieldSpec>> = {
  url: {
    schema: { type: 'string', minLength: 1, description: 'The URL: http:// or https://, host and port written out; {{ JSONata }} parts may fill the path and the query only, and their values are percent-encoded.', examples: ['https://api.example.com/devices/{{ device }}'] },
    type: 'template',
    default: 'required',
    doc: 'The URL. Its scheme, host and port are written out (or come from `${env:NAME}`); `{{ JSONata }}` parts may fill only the path and the query, after the `/` that follows the host, and each value is percent-encoded, so a `/`, `?` or `#` in it is data. A path value of `.` or `..` fails the message (`MQFLOW_HTTP_URL`).',
  },
  method: { schema: { enum: [...HTTP_METHODS], description: 'The HTTP method. Default: GET.' }, type: HTTP_METHODS.map((m) => `\`${m}\``).join(', '), default: '`GET`', doc: 'The HTTP method.' },
  query: { schema: templateMap('Query parameters: name → text template; values are encoded.', { unit: '{{ unit }}' }), type: 'map of templates', default: 'none', doc: 'Query parameters added to the URL: name → text with `{{ }}` parts; values are encoded.' },
  headers: {
    schema: templateMap('Request headers: name → text template. A value with a line break fails the message.', { 'X-Request-Id': '{{ $message.properties.correlationData }}' }),
    type: 'map of templates',
    default: 'none',
    doc: 'Request headers: name → text with `{{ }}` parts. A value containing a line break or NUL fails the message (`MQFLOW_HTTP_HEADER`), so no payload can add a header. `Host`, `Content-Length`, `Transfer-Encoding` and `Connection` are the client\'s.',
  },
  body: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the body. Default: the current payload for POST, PUT and PATCH; none otherwise.', examples: ['{ "device": device, "celsius": celsius }'] }, type: 'JSONata expression', default: 'the payload for `POST`, `PUT`, `PATCH`; none otherwise', doc: 'The body: text is sent as UTF-8 (`text/plain`), anything else as JSON (`application/json`). Nothing (undefined) sends no body.' },
  contentType: { schema: { type: 'string', minLength: 1, description: 'The Content-Type of the body. Default: application/json, or text/plain for text.', examples: ['application/merge-patch+json'] }, type: 'string', default: '`application/json`; `text/plain; charset=utf-8` for text', doc: 'The `Content-Type` of the body.' },
  as: { schema: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Keep the response as a variable ($name: status, headers, body) and leave the payload unchanged. Default: the payload becomes the response body.', examples: ['device'] }, type: 'string', default: 'none', doc: 'Keep the response in a variable, `$name` = `{ status, headers, body }`, and leave the payload as it is. Without `as`, the payload becomes the response body.' },
  timeout: { schema: durationSchema('How long to wait for the whole response. Default: 10s.', ['2s']), type: 'duration', default: '`10s`', doc: 'How long to wait for the whole response; then the request fails (`MQFLOW_HTTP_TIMEOUT`, retried).' },
  maxResponseBytes: { schema: { type: 'integer', minimum: 1, maximum: 268_435_456, description: 'The largest response body read, in bytes. Default: 1048576.' }, type: 'integer', default: '`1048576`', doc: 'The largest response body read; a larger one fails the message (`MQFLOW_HTTP_RESPONSE_TOO_LARGE`, not retried) without being read.' },
  maxConnections: { schema: { type: 'integer', minimum: 1, maximum: 1024, description: 'The most requests to this host in flight at once (connections kept alive). Default: 10.' }, type: 'integer', default: '`10`', doc: 'The most requests in flight to the host at once, each on a kept-alive connection (steps with the same origin, `maxConnections` and `tls` share them); more wait their turn, and the trigger\'s `queueSize` bounds how many wait.' },
  allowStatus: { schema: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, uniqueItems: true, description: 'Statuses besides 2xx that continue (e.g. 404 for an unknown device).', examples: [[404]] }, type: 'list of integers', default: 'none', doc: 'Statuses besides 2xx after which the steps go on (a `404` for an unknown device): the next steps see the status.' },
  auth: { schema: objectSchema('Authentication: bearer, or username and password (basic).', AUTH_FIELDS), type: 'map', default: 'none', doc: 'Authentication: `bearer` (a token), or `username` and `password` (basic). Use `${env:NAME}` or `${file:path}`: `mqflow validate` warns about a secret written in the file, and no output shows it.' },
  tls: { schema: objectSchema('TLS for https:// URLs. Certificate verification is on unless rejectUnauthorized is false.', HTTP_TLS_FIELDS), type: 'map', default: 'none', doc: 'TLS for `https://` URLs: `ca`, `cert`, `key`, `passphrase`, `rejectUnauthorized`, `servername`, as for [connections](#tls).' },
  cache: { schema: objectSchema('Keep 2xx responses in a state store, by key, for ttl.', CACHE_FIELDS, ['key', 'ttl']), type: 'map', default: 'none', doc: 'Keep 2xx responses in a [store](#stores) by `key` for `ttl`, so messages with the same key within it send no request. `store` (default `memory`) and `namespace` as for [remember](#remember).' },
};


export const http: StepKind<HttpValue, HttpStep> = {
  kind: 'http',
  stateful: true,
  description: 'Call an HTTP API; the response becomes the payload, or the variable named by as.',
  schema: objectSchema('Send an HTTP request.', FIELDS, ['url']),
  summary: { does: 'calls an HTTP API (REST); the response becomes the payload or `$as`', changesPayload: 'without `as`' },
  table: fieldRows(FIELDS),
  example: `services:
  enrich-reading:
    steps:
      - http:
          url: https://inventory.example.com/devices/{{ device }}
          query:
            fields: location,owner
          auth:
            bearer: \${env:INVENTORY_TOKEN}
          timeout: 2s
          as: inventory
          cache:
            key: device
            ttl: 5m
      - transform: '{ "device": device, "celsius": celsius, "location": $inventory.body.location }'
      - publish:
          topic: plant/enriched/{{ device }}
`,
  compile(value, header, path, c) {
    let ok = true;
    const urlPath = [...path, 'url'];
    const url = c.template(value.url, urlPath);
    let shape: UrlShape | undefined;
    if (url !== undefined) {
      const found = urlShape(url);
      if ('problem' in found) {
        c.problem(urlPath, 'MQFLOW_HTTP_URL', `${formatPath(urlPath)}: ${found.problem} (got ${c.quote(urlPath, value.url)})`, found.hint);
        ok = false;
      } else {
        shape = found;
      }
    }
    const templates = (field: 'query' | 'headers'): { name: string; value: Template }[] => {
      const out: { name: string; value: Template }[] = [];
      for (const [name, text] of Object.entries(value[field] ?? {})) {
        const at = [...path, field, name];
        if (field === 'headers' && (!TOKEN.test(name) || OWN_HEADERS.has(name.toLowerCase()))) {
          c.problem(at, 'MQFLOW_HTTP_HEADER', `${formatPath(at)}: ${TOKEN.test(name) ? `the ${name} header is set by the HTTP client` : `"${name}" is not a header name`}`, 'remove it');
          ok = false;
          continue;
        }
        const template = c.template(text, at);
        if (template === undefined) ok = false;
        else out.push({ name, value: template });
      }
      return out;
    };
    const query = templates('query');
    const headers = templates('headers');
    const asProblem = value.as === undefined ? undefined : variableNameProblem(value.as);
    if (asProblem !== undefined) {
      c.problem([...path, 'as'], 'MQFLOW_VARIABLE_NAME', `${formatPath([...path, 'as'])}: ${asProblem}`, 'choose another name');
      ok = false;
    }
    const body = value.body === undefined ? undefined : c.expression(value.body, [...path, 'body']);
    if (value.body !== undefined && body === undefined) ok = false;
    const authorization = compileAuth(value.auth, [...path, 'auth'], c);
    if (authorization === null) ok = false;
    const tls = value.tls === undefined ? undefined : compileTls(value.tls, [...path, 'tls'], c);
    if (value.tls !== undefined && tls === undefined) ok = false;
    if (value.tls !== undefined && shape?.protocol === 'http:') c.warn([...path, 'tls'], 'MQFLOW_TLS_UNUSED', `${formatPath([...path, 'tls'])} is ignored: the URL is http://`, 'use an https:// URL, or remove tls');
    let cache: HttpCache | undefined;
    if (value.cache !== undefined) {
      const key = c.expression(value.cache.key, [...path, 'cache', 'key']);
      if (key === undefined) ok = false;
      else cache = { key, ttlMs: durationMs(value.cache.ttl), ...compileStateRef(value.cache, header, [...path, 'cache'], c) };
    }
    if (!ok || url === undefined || shape === undefined) return undefined;
    const method = value.method ?? 'GET';
    return {
      kind: 'http',
      ...header,
      method,
      url: encodedUrl(url, shape),
      shape,
      query,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(value.contentType === undefined ? {} : { contentType: value.contentType }),
      ...(value.as === undefined ? {} : { as: value.as }),
      timeoutMs: value.timeout === undefined ? 10_000 : durationMs(value.timeout),
      maxResponseBytes: value.maxResponseBytes ?? 1_048_576,
      allowStatus: value.allowStatus ?? [],
      ...(authorization === undefined || authorization === null ? {} : { authorization }),
      pool: { maxConnections: value.maxConnections ?? 10, ...(tls === undefined ? {} : { tls }) },
      ...(cache === undefined ? {} : { cache }),
    };
  },
  uses: (step) => [{ kind: 'http', method: step.method, url: step.url }],
  run(step, exec, runtime) {
    const cache = step.cache;
    if (cache === undefined) return call(step, exec, runtime, undefined);
    return after(evaluate(cache.key, exec.payload, exec, step), (id) =>
      withStore({ ...step, ...cache }, exec, (state, store) => {
        const key = store.key(cache.namespace, id);
        return after(state.read(store, key), (kept) => (isCached(kept) ? use(step, exec, kept) : call(step, exec, runtime, (r) => state.write(store, key, r, cache.ttlMs))));
      }),
    );
  },
};

/** The Authorization header, undefined without auth, null when it is incomplete (reported). */
function compileAuth(auth: HttpValue['auth'], at: ValuePath, c: ComponentCompiler): Secret | undefined | null {
  if (auth === undefined) return undefined;
  if (auth.bearer !== undefined) {
    checkSecretSource(c, [...at, 'bearer'], auth.bearer);
    if (auth.username !== undefined || auth.password !== undefined) {
      c.problem(at, 'MQFLOW_HTTP_AUTH', `${formatPath(at)} has bearer and username/password: choose one`, 'keep bearer, or username and password');
      return null;
    }
    return new Secret(`Bearer ${auth.bearer}`);
  }
  if (auth.username === undefined || auth.password === undefined) {
    c.problem(at, 'MQFLOW_HTTP_AUTH', `${formatPath(at)} needs bearer, or username and password`, 'add bearer: ${env:API_TOKEN}, or username and password: ${env:API_PASSWORD}');
    return null;
  }
  checkSecretSource(c, [...at, 'password'], auth.password);
  return new Secret(`Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
}

/** The response as the next steps see it. */
interface Seen {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: unknown;
}

function isCached(value: unknown): value is Seen {
  return typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'number';
}

function use(step: HttpStep, exec: Execution, response: Seen): Outcome {
  if (step.as === undefined) exec.payload = response.body;
  else exec.set(step.as, response);
  return CONTINUE;
}

function call(step: HttpStep, exec: Execution, runtime: StepRuntime, keep: ((response: Seen) => void) | undefined): Maybe<Outcome> {
  return after(request(step, exec), (req) =>
    runtime.effects.http(req, exec).then(
      (response) => {
        const seen = checked(step, response);
        if (keep !== undefined && response.status < 300) {
          try {
            keep(seen);
          } catch (error) {
            // A response over the store's limits is used, not kept; the store's other failures are the message's.
            if (!(error instanceof StateError && error.code === 'MQFLOW_STATE_LIMIT')) throw error;
          }
        }
        return use(step, exec, seen);
      },
      (error: unknown) => {
        throw failure(step, error);
      },
    ),
  );
}

/** The response checked: its status decides whether the message goes on, fails, or is retried. */
function checked(step: HttpStep, response: HttpResponse): Seen {
  const { status } = response;
  const ok = (status >= 200 && status < 300) || step.allowStatus.includes(status);
  if (!ok) {
    const retried = status >= 500 || status === 408 || status === 425 || status === 429;
    const why = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    const snippet = response.body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
    throw new MessageFailure(`${step.path}: ${step.method} ${step.shape.origin} answered ${status}${why}${snippet === '' ? '' : `: ${snippet}`}`, 'MQFLOW_HTTP_STATUS', { path: step.path, at: step.at }, { permanent: !retried });
  }
  return { status, headers: response.headers, body: parseBody(step, response) };
}

/** The body by its Content-Type: JSON parsed, text as text, anything else as base64 text; an empty body is null. */
function parseBody(step: HttpStep, response: HttpResponse): unknown {
  if (response.body.length === 0) return null;
  const type = String(response.headers['content-type'] ?? '').toLowerCase();
  if (/^application\/([\w.+-]+\+)?json\b/.test(type) || (type === '' && looksLikeJson(response.body))) {
    try {
      return JSON.parse(response.body.toString('utf8'));
    } catch (error) {
      throw new MessageFailure(`${step.path}: the response of ${step.shape.origin} says JSON but is not: ${(error as Error).message}`, 'MQFLOW_HTTP_RESPONSE', { path: step.path, at: step.at }, { cause: error });
    }
  }
  if (type.startsWith('text/') || /^application\/([\w.+-]+\+)?xml\b/.test(type) || type.startsWith('application/x-www-form-urlencoded')) return response.body.toString('utf8');
  return type === '' ? response.body.toString('utf8') : response.body.toString('base64');
}

function looksLikeJson(body: Buffer): boolean {
  const first = body.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  return first === 0x7b || first === 0x5b;
}

function failure(step: HttpStep, error: unknown): unknown {
  if (error instanceof MessageFailure) return error;
  if (error instanceof HttpError) return new MessageFailure(`${step.path}: ${error.message}`, error.code, { path: step.path, at: step.at }, { cause: error, permanent: !error.transient });
  const e = error as { message?: unknown };
  return new MessageFailure(`${step.path}: ${String(e.message)}`, 'MQFLOW_HTTP_CONNECT', { path: step.path, at: step.at }, { cause: error });
}

/** The request for this message: URL values encoded, header values checked. */
function request(step: HttpStep, exec: Execution): Maybe<HttpRequest> {
  const refused = (code: string, why: string): never => {
    throw new MessageFailure(`${step.path}: not sent: ${why}`, code, { path: step.path, at: step.at }, { permanent: true });
  };
  let url: Maybe<string>;
  try {
    url = render(step.url, exec, step);
  } catch (error) {
    const cause = error instanceof MessageFailure ? error.cause : error;
    if (cause instanceof UrlValueError) refused('MQFLOW_HTTP_URL', cause.message);
    throw error;
  }
  const urlAsync = url instanceof Promise
    ? url.catch((error: unknown) => {
        const cause = error instanceof MessageFailure ? error.cause : error;
        if (cause instanceof UrlValueError) refused('MQFLOW_HTTP_URL', cause.message);
        throw error;
      })
    : url;
  return after(urlAsync, (text) =>
    after(renderAll(step.query, exec, step), (query) =>
      after(renderAll(step.headers, exec, step), (headerValues) =>
        after(step.body !== undefined ? evaluate(step.body, exec.payload, exec, step) : SENDS_PAYLOAD.has(step.method) ? exec.payload : undefined, (bodyValue) => {
          // The rendered URL starts with the template's literal origin, as written (its case, a default port).
          let path = text.slice(step.shape.pathOffset) || '/';
          if (query.length > 0) {
            const search = new URLSearchParams(query.map(([n, v]) => [n, v] as [string, string])).toString();
            path += `${path.includes('?') ? '&' : '?'}${search}`;
          }
          const headers: Record<string, string> = {};
          for (const [name, v] of headerValues) {
            if (/[\r\n\0]/.test(v)) refused('MQFLOW_HTTP_HEADER', `the value of header ${name} contains a line break or NUL`);
            headers[name.toLowerCase()] = v;
          }
          if (step.authorization !== undefined) headers.authorization = step.authorization.reveal();
          let body: string | Buffer | undefined;
          if (bodyValue !== undefined) {
            body = typeof bodyValue === 'string' || Buffer.isBuffer(bodyValue) ? bodyValue : exec.receivedBytes !== undefined && bodyValue === exec.message.payload && typeof bodyValue === 'object' && bodyValue !== null ? exec.receivedBytes : JSON.stringify(bodyValue);
            headers['content-type'] = step.contentType ?? (typeof bodyValue === 'string' ? 'text/plain; charset=utf-8' : Buffer.isBuffer(bodyValue) ? 'application/octet-stream' : 'application/json');
          }
          return { origin: step.shape.origin, host: step.shape.host, path, method: step.method, headers, ...(body === undefined ? {} : { body }), timeoutMs: step.timeoutMs, maxResponseBytes: step.maxResponseBytes, pool: step.pool };
        }),
      ),
    ),
  );
}

function renderAll(list: HttpStep['query'], exec: Execution, step: HttpStep): Maybe<[string, string][]> {
  const out: [string, string][] = [];
  const from = (i: number): Maybe<[string, string][]> => {
    for (; i < list.length; i++) {
      const { name, value } = list[i]!;
      const text = render(value, exec, step);
      if (text instanceof Promise) {
        const next = i + 1;
        return text.then((t) => {
          out.push([name, t]);
          return from(next);
        });
      }
      out.push([name, text]);
    }
    return out;
  };
  return from(0);
}
