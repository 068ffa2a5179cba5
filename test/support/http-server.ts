/**
 * A real HTTP (or HTTPS) server on a free loopback port for tests: each request is recorded (method,
 * path, headers, body) and answered by the test's handler; it counts the requests and sockets open
 * at once, so a test can check a client's concurrency limit.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Socket } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  /** Path and query as received (still encoded). */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export type Handler = (request: SeenRequest, response: ServerResponse) => void | Promise<void>;

export interface TestHttpServer {
  readonly url: string;
  readonly port: number;
  readonly requests: SeenRequest[];
  /** The most requests being handled at once, and the most sockets open at once. */
  readonly peak: { requests: number; sockets: number };
  handle(handler: Handler): void;
  close(): Promise<void>;
}

export async function startHttpServer(handler: Handler, tls?: { cert: string; key: string; ca?: string }): Promise<TestHttpServer> {
  let current = handler;
  const requests: SeenRequest[] = [];
  const peak = { requests: 0, sockets: 0 };
  let active = 0;
  const sockets = new Set<Socket>();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      active++;
      peak.requests = Math.max(peak.requests, active);
      res.on('close', () => active--);
      Promise.resolve(current(seen, res)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
  };
  const server: Server = tls === undefined ? createHttp(onRequest) : createHttps({ cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca, requestCert: true, rejectUnauthorized: true }) }, onRequest);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    peak.sockets = Math.max(peak.sockets, sockets.size);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    requests,
    peak,
    handle: (next) => (current = next),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers with `status` and a JSON body. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
