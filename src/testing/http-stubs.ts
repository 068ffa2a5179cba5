/**
 * The HTTP client of `mqflow test`: no request leaves the process. Each request is recorded and
 * answered by the first stub of the case whose method and URL match (a URL ending in `*` matches
 * by prefix); a request no stub answers fails its step, so a test never reaches a real server.
 */
import { HttpError, type HttpClient, type HttpRequest, type HttpResponse } from '../http/client.js';

export interface HttpStub {
  readonly method: string;
  /** The whole URL, query included; or a prefix when it ends with `*`. */
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** A YAML value: sent as JSON, or a string as its text. */
  readonly body?: unknown;
  /** Instead of a response: no answer in time, or no server. */
  readonly fail?: 'timeout' | 'refused';
}

/** A request an http step sent, as a test sees it. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Its body: JSON parsed when it is JSON, else text; undefined without one. */
  readonly body?: unknown;
}

/** `GET https://api.example.com/x` → method and URL (the method defaults to GET). */
export function parseRequestLine(line: string): { method: string; url: string } {
  const match = /^\s*([A-Z]+)\s+(\S+)\s*$/.exec(line);
  return match === null ? { method: 'GET', url: line.trim() } : { method: match[1]!, url: match[2]! };
}

export class StubHttpClient implements HttpClient {
  readonly requests: RecordedRequest[] = [];

  constructor(private readonly stubs: readonly HttpStub[]) {}

  request(request: HttpRequest): Promise<HttpResponse> {
    const url = `${request.origin}${request.path}`;
    const { authorization, ...headers } = request.headers;
    this.requests.push({
      method: request.method,
      url,
      // The credentials a step sends are secrets: a test sees that they were sent, not what they are.
      headers: authorization === undefined ? headers : { ...headers, authorization: authorization.split(' ')[0] + ' …' },
      ...(request.body === undefined ? {} : { body: readBody(request.body) }),
    });
    const stub = this.stubs.find((s) => s.method === request.method && (s.url.endsWith('*') ? url.startsWith(s.url.slice(0, -1)) : s.url === url));
    if (stub === undefined) {
      return Promise.reject(new HttpError(`mqflow test: no stub answers ${request.method} ${url} (add one under http: in the test case)`, 'MQFLOW_HTTP_CONNECT', false));
    }
    if (stub.fail === 'timeout') return Promise.reject(new HttpError(`no response from ${request.origin} within ${request.timeoutMs} ms (stub)`, 'MQFLOW_HTTP_TIMEOUT', true));
    if (stub.fail === 'refused') return Promise.reject(new HttpError(`request to ${request.origin} failed: ECONNREFUSED (stub)`, 'MQFLOW_HTTP_CONNECT', true));
    const body = stub.body === undefined ? Buffer.alloc(0) : Buffer.from(typeof stub.body === 'string' ? stub.body : JSON.stringify(stub.body));
    const type: Record<string, string> = stub.body === undefined ? {} : { 'content-type': typeof stub.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' };
    if (body.length > request.maxResponseBytes) return Promise.reject(new HttpError(`the response is larger than maxResponseBytes (${request.maxResponseBytes} bytes)`, 'MQFLOW_HTTP_RESPONSE_TOO_LARGE', false));
    return Promise.resolve({ status: stub.status, headers: { ...type, ...lowerCase(stub.headers) }, body });
  }
}

function readBody(body: string | Buffer): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function lowerCase(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
