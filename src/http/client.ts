/**
 * The HTTP client of `http` steps: one undici Pool per origin and settings, so connections are
 * kept alive and reused, and at most `maxConnections` requests per host are in flight; the rest
 * wait in the pool's queue, which the triggers' concurrency bounds (docs/architecture.md,
 * invariant 46). undici was chosen by measurement (BENCHMARKS.md, "HTTP client").
 */
import { createHash } from 'node:crypto';
import type * as Undici from 'undici';

type Pool = Undici.Pool;
import { Histogram, type HistogramSnapshot } from '../util/histogram.js';
import type { TlsOptions } from '../util/tls-options.js';

/** TLS of an HTTPS origin. */
export type HttpTls = TlsOptions;

/** What decides which pool a request goes through. */
export interface PoolSettings {
  readonly maxConnections: number;
  readonly tls?: HttpTls;
}

export interface HttpRequest {
  /** `https://api.example.com:8443`: fixed by the flow, never by a message. */
  readonly origin: string;
  /** The origin's host[:port], as metrics name it. */
  readonly host: string;
  /** Path and query, encoded. */
  readonly path: string;
  readonly method: Undici.Dispatcher.HttpMethod;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly pool: PoolSettings;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names; a repeated header (set-cookie) as a list. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
}

/** What steps call: the pooled client at run time, stubs in `mqflow test`. */
export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
}

/** A request that got no usable response: `transient` ones may succeed when retried. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly code: 'MQFLOW_HTTP_TIMEOUT' | 'MQFLOW_HTTP_CONNECT' | 'MQFLOW_HTTP_RESPONSE_TOO_LARGE' | 'MQFLOW_HTTP_DRY_RUN',
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'error';

/** Requests to one host, for /metrics. */
export interface HostStats {
  readonly host: string;
  readonly requests: Readonly<Record<StatusClass, number>>;
  readonly duration: HistogramSnapshot;
  /** Requests sent and not answered yet. */
  readonly inFlight: number;
}

class HostCounters {
  readonly requests: Record<StatusClass, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, error: 0 };
  readonly duration = new Histogram();
  inFlight = 0;
}

export class PooledHttpClient implements HttpClient {
  readonly #pools = new Map<string, Pool>();
  readonly #tlsKeys = new WeakMap<PoolSettings, string>();
  /** undici is loaded with the first request: a flow without http steps does not pay for it. */
  #undici: Promise<typeof Undici> | undefined;
  readonly #hosts = new Map<string, HostCounters>();
  #closed = false;

  async request(request: HttpRequest): Promise<HttpResponse> {
    if (this.#closed) throw new HttpError('the HTTP client is closed (mqflow is stopping)', 'MQFLOW_HTTP_CONNECT', true);
    const host = request.host;
    let counters = this.#hosts.get(host);
    if (counters === undefined) this.#hosts.set(host, (counters = new HostCounters()));
    const started = performance.now();
    counters.inFlight++;
    let outcome: StatusClass = 'error';
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), request.timeoutMs);
    try {
      const pool = this.#pool(request, (await (this.#undici ??= import('undici'))).Pool);
      const response = await pool.request({
        path: request.path,
        method: request.method,
        headers: request.headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: abort.signal,
      });
      const body = await readLimited(response.body, response.headers['content-length'], request.maxResponseBytes);
      outcome = statusClass(response.statusCode);
      return { status: response.statusCode, headers: response.headers as Record<string, string | string[]>, body };
    } catch (error) {
      if (error instanceof HttpError) throw error;
      if (abort.signal.aborted) throw new HttpError(`no response from ${request.origin} within ${request.timeoutMs} ms`, 'MQFLOW_HTTP_TIMEOUT', true, { cause: error });
      const e = error as { code?: unknown; message?: unknown };
      const why = typeof e.code === 'string' ? `${e.code}${typeof e.message === 'string' && e.message !== '' && !e.message.includes(e.code) ? `: ${e.message}` : ''}` : String(e.message);
      throw new HttpError(`request to ${request.origin} failed: ${why}`, 'MQFLOW_HTTP_CONNECT', true, { cause: error });
    } finally {
      clearTimeout(timer);
      counters.inFlight--;
      counters.requests[outcome]++;
      counters.duration.observe((performance.now() - started) / 1000);
    }
  }

  #pool(request: HttpRequest, Pool: typeof Undici.Pool): Pool {
    const { maxConnections, tls } = request.pool;
    // A step's settings are one object: its key (a hash of its TLS files) is made once, not per request.
    let tlsPart = this.#tlsKeys.get(request.pool);
    if (tlsPart === undefined) this.#tlsKeys.set(request.pool, (tlsPart = tls === undefined ? '' : tlsKey(tls)));
    const key = `${request.origin} ${maxConnections} ${tlsPart}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = new Pool(request.origin, {
        connections: maxConnections,
        pipelining: 1,
        // Our own timer bounds each request; undici's would only duplicate it.
        headersTimeout: 0,
        bodyTimeout: 0,
        ...(tls === undefined
          ? {}
          : {
              connect: {
                rejectUnauthorized: tls.rejectUnauthorized,
                ...(tls.ca === undefined ? {} : { ca: tls.ca }),
                ...(tls.cert === undefined ? {} : { cert: tls.cert }),
                ...(tls.key === undefined ? {} : { key: tls.key.reveal() }),
                ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase.reveal() }),
                ...(tls.servername === undefined ? {} : { servername: tls.servername }),
              },
            }),
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Per host: requests by status class, durations, in flight. */
  stats(): HostStats[] {
    return [...this.#hosts].map(([host, c]) => ({ host, requests: { ...c.requests }, duration: c.duration.snapshot(), inFlight: c.inFlight }));
  }

  /** Closes every pool: requests in flight end with an error. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}

function statusClass(status: number): StatusClass {
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
}

/** Tells TLS settings apart without keeping their secrets in a map key. */
function tlsKey(tls: HttpTls): string {
  return createHash('sha256').update(JSON.stringify([tls.ca, tls.cert, tls.key?.reveal(), tls.passphrase?.reveal(), tls.rejectUnauthorized, tls.servername])).digest('base64');
}

/** The body, refused past `limit` bytes: by its Content-Length at once, otherwise as it arrives. */
async function readLimited(body: AsyncIterable<Buffer> & { destroy(): unknown }, length: string | string[] | undefined, limit: number): Promise<Buffer> {
  const tooLarge = (): HttpError => new HttpError(`the response is larger than maxResponseBytes (${limit} bytes)`, 'MQFLOW_HTTP_RESPONSE_TOO_LARGE', false);
  if (typeof length === 'string' && Number(length) > limit) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}
