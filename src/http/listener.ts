/**
 * An HTTP listener: a node:http(s) server that authenticates a request, finds its route, reads its
 * body within the limit and hands it on; the route answers when the work is done. Nothing a client
 * sends can hold the process: headers and the whole request have deadlines, the body a size limit,
 * and the connections a cap (docs/architecture.md, invariant 48).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Secret } from '../util/secret.js';

export interface ListenerSettings {
  readonly host: string;
  readonly port: number;
  /** Server certificate and key (PEM); `ca` asks clients for a certificate it signed. */
  readonly tls?: { readonly cert: string; readonly key: Secret; readonly ca?: string };
  /** The Authorization header a request must carry (`Bearer …` or `Basic …`). */
  readonly authorization?: Secret;
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

/** A request as a route gets it. */
export interface IncomingRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | string[]>>;
  /** Lower-case names; credentials (authorization, cookie) removed. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
  readonly receivedAt: number;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/** The answer to one request: sent once; `gone` is true when the client left first. */
export interface Answer {
  send(reply: Reply): void;
  readonly gone: boolean;
}

export interface Route {
  readonly method: string;
  readonly match: (path: string) => Record<string, string> | undefined;
  /** Takes the request; calls `answer.send` when done (at once to refuse it). */
  handle(request: IncomingRequest, answer: Answer): void;
}

/** Request headers services never see: credentials. */
export const HIDDEN_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie']);

export class HttpListener {
  readonly #server: Server;
  #routes: readonly Route[] = [];
  readonly #settings: ListenerSettings;
  readonly #expected: Buffer | undefined;
  #open = 0;
  /** Set once mqflow is stopping: new requests get 503. */
  #stopping = false;

  constructor(settings: ListenerSettings) {
    this.#settings = settings;
    this.#expected = settings.authorization === undefined ? undefined : digest(settings.authorization.reveal());
    // Node checks the deadlines every connectionsCheckingInterval (30 s by default): often enough here that they hold.
    const checkEveryMs = Math.max(100, Math.min(1_000, Math.floor(settings.headersTimeoutMs / 4)));
    const options = { headersTimeout: settings.headersTimeoutMs, requestTimeout: settings.requestTimeoutMs, keepAliveTimeout: 5_000, connectionsCheckingInterval: checkEveryMs };
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.#request(req, res);
    this.#server =
      settings.tls === undefined
        ? createHttpServer(options, handler)
        : createHttpsServer({ ...options, cert: settings.tls.cert, key: settings.tls.key.reveal(), ...(settings.tls.ca === undefined ? {} : { ca: settings.tls.ca, requestCert: true, rejectUnauthorized: true }) }, handler);
    this.#server.maxConnections = settings.maxConnections;
    // A client's error concerns that client only: it gets the status (408 past its deadline) and its connection closes.
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return void socket.destroy();
      const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
  }

  /** The routes requests are matched against, in order; a reload swaps them. */
  set routes(routes: readonly Route[]) {
    this.#routes = routes;
  }

  listen(): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#settings.port, this.#settings.host, () => {
        this.#server.off('error', reject);
        resolve({ port: (this.#server.address() as { port: number }).port });
      });
    });
  }

  /** Requests being read or worked on. */
  get open(): number {
    return this.#open;
  }

  /** New requests get 503 from now on (mqflow is stopping); those taken go on. */
  stopTaking(): void {
    this.#stopping = true;
  }

  /** Stops taking connections; resolves once the requests in flight were answered (or the time is up). */
  async close(timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const timer = setTimeout(() => this.#server.closeAllConnections(), timeoutMs);
    await closed;
    clearTimeout(timer);
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    this.#open++;
    let answered = false;
    const answer: Answer = {
      send: (reply) => {
        if (answered) return;
        answered = true;
        this.#open--;
        if (res.destroyed) return;
        const body = reply.body ?? '';
        res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
      get gone() {
        return res.destroyed && !answered;
      },
    };
    res.on('close', () => {
      if (!answered) {
        answered = true;
        this.#open--;
      }
    });
    if (this.#stopping) return refuse(answer, res, 503, 'mqflow is stopping; send it again later', { 'retry-after': '1' });
    if (this.#expected !== undefined && !this.#authorized(req.headers.authorization)) {
      const scheme = this.#settings.authorization!.reveal().startsWith('Basic ') ? 'Basic realm="mqflow"' : 'Bearer';
      return refuse(answer, res, 401, 'missing or wrong credentials', { 'www-authenticate': scheme });
    }
    const url = new URL(req.url ?? '/', 'http://listener');
    const path = url.pathname;
    let allowed: string[] | undefined;
    let found: { route: Route; params: Record<string, string> } | undefined;
    for (const route of this.#routes) {
      const params = route.match(path);
      if (params === undefined) continue;
      if (route.method !== req.method) {
        (allowed ??= []).push(route.method);
        continue;
      }
      found = { route, params };
      break;
    }
    if (found === undefined) {
      return allowed === undefined ? refuse(answer, res, 404, `no endpoint at ${path.slice(0, 200)}`) : refuse(answer, res, 405, `${String(req.method)} is not allowed here`, { allow: allowed.join(', ') });
    }
    const limit = this.#settings.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return refuse(answer, res, 413, `the body is over ${limit} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        refuse(answer, res, 413, `the body is over ${limit} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > limit) return;
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HIDDEN_HEADERS.has(name)) headers[name] = value;
      const request: IncomingRequest = { method: req.method!, path, params: found.params, query: queryOf(url), headers, body: Buffer.concat(chunks, size), receivedAt: Date.now() };
      try {
        found.route.handle(request, answer);
      } catch {
        answer.send(problem(500, 'the request could not be taken'));
      }
    });
  }

  #authorized(given: string | undefined): boolean {
    if (given === undefined) return false;
    // Compared as digests of equal length, in constant time.
    return timingSafeEqual(digest(given), this.#expected!);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function refuse(answer: Answer, res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}): void {
  // The rest of the request is not read: the connection closes after the answer.
  res.setHeader('connection', 'close');
  const reply = problem(status, detail);
  answer.send({ ...reply, headers: { ...reply.headers, ...headers } });
}

/** An RFC 9457 problem document. */
export function problem(status: number, detail: string, code?: string): Reply {
  const title = STATUS_TITLES[status] ?? 'Error';
  return { status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ title, status, detail, ...(code === undefined ? {} : { code }) }) };
}

const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The query of a URL: a name given more than once has the list of its values. */
export function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const had = query[name];
    query[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return query;
}

/**
 * A route's path pattern: `/hooks/doors/{door}` matches one segment per `{name}` (decoded), and a
 * final `{name*}` matches the rest. Literal segments match exactly.
 */
export function pathMatcher(pattern: string): { match: (path: string) => Record<string, string> | undefined; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)(\*?)\}$/.exec(segment);
      if (param === null) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1]!);
      return param[2] === '*' ? '(.*)' : '([^/]+)';
    })
    .join('/');
  const regex = new RegExp(`^${source}$`);
  return {
    names,
    match: (path) => {
      const m = regex.exec(path);
      if (m === null) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        const raw = m[i + 1]!;
        try {
          params[name] = decodeURIComponent(raw);
        } catch {
          params[name] = raw;
        }
      });
      return params;
    },
  };
}
