/**
 * The admin HTTP server: health and readiness, Prometheus metrics, the status API and page, and
 * trigger/connection control. Documented in docs/operations.md. When a token is configured every
 * request but /healthz and /readyz must carry it (Authorization: Bearer, or ?token= for the
 * page); it is compared in constant time and never logged. Every request first passes the
 * request guard (Host, Origin, how a control request is sent).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Log } from '../util/log.js';
import type { Metrics } from './metrics.js';
import { flowGraph } from '../graph/graph.js';
import { tap } from '../host/tap.js';
import { definitionsResponse } from './definitions.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from './page.js';
import { createRequestGuard, type Refusal } from './request-guard.js';
import { DEPLOY_PATHS, serveDeploy } from './deploy.js';
import type { Deployer } from '../engine/deploy.js';
import { readiness, status, type StatusSource } from './status.js';
import { MAX_TAP_CLIENTS, parseTapRequest, TapStreams } from './tap-stream.js';

export interface AdminOptions extends StatusSource {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
  /** Further Host names the server answers to (--admin-host). */
  readonly allowedHosts?: readonly string[];
  /** /readyz calls a trigger stuck after this long without finishing a message it holds (--stuck-after). */
  readonly stuckAfterMs?: number;
  readonly metrics: Metrics;
  readonly log: Log;
  /** Takes POST /api/deploy and /api/rollback (only with a token) and GET /api/history. */
  readonly deployer?: Deployer;
}

export interface AdminServer {
  /** http://host:port, with the port actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startAdminServer(options: AdminOptions): Promise<AdminServer> {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  const expected = options.token === undefined ? undefined : digest(options.token);
  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (expected === undefined) return true;
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') === true ? header.slice(7) : (url.searchParams.get('token') ?? '');
    // Digests have equal length, so the comparison takes the same time whatever was sent.
    return timingSafeEqual(digest(given), expected);
  };
  let guard: ((req: IncomingMessage) => Refusal | undefined) | undefined;
  // The token is never shown in a tapped payload either.
  if (options.token !== undefined) tap.addSecrets([options.token]);
  const taps = new TapStreams(tap);
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      options.log.error({ event: 'admin-error', err: { message: (error as Error).message } }, `admin API: ${(error as Error).message}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    guard ??= createRequestGuard({ host: options.host, port: (server.address() as AddressInfo).port, ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }) });
    const refusal = guard(req);
    if (refusal !== undefined) {
      options.log.warn({ event: 'admin-refused', method, path, status: refusal.status, remote: req.socket.remoteAddress }, `admin API: ${method} ${path} refused (${refusal.status}): ${refusal.error}`);
      return send(res, refusal.status, { error: refusal.error });
    }
    if (path === '/healthz' && method === 'GET') return send(res, 200, { status: 'ok' });
    if (path === '/readyz' && method === 'GET') {
      const ready = readiness(status(options), options.stuckAfterMs);
      return send(res, ready.ready ? 200 : 503, ready);
    }
    if (!authorized(req, url)) {
      // The path only: a token in the query string must not reach the log.
      options.log.warn({ event: 'admin-unauthorized', method, path, remote: req.socket.remoteAddress }, `admin API: ${method} ${path} refused (missing or wrong token)`);
      return send(res, 401, { error: 'a valid token is required (Authorization: Bearer <token>)' });
    }
    if (method === 'GET' && path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': STATUS_PAGE_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
      res.end(STATUS_PAGE);
      return;
    }
    if (method === 'GET' && path === '/metrics') {
      const text = await options.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (method === 'GET' && path === '/api/status') return send(res, 200, { ...status(options), tap: taps.status() });
    if (method === 'GET' && path === '/api/definitions') return send(res, 200, definitionsResponse(options));
    if (method === 'GET' && path === '/api/graph') return send(res, 200, flowGraph(options.engine.defined));
    if (path === '/api/tap') {
      if (method !== 'GET') return send(res, 405, { error: `use GET for ${path}` });
      const defined = options.engine.defined;
      const asked = parseTapRequest(url, {
        trigger: (name) => defined.triggers.has(name) || defined.endpoints.has(name) || defined.schedules.has(name),
        service: (name) => defined.services.has(name),
      });
      if ('error' in asked) return send(res, asked.status, { error: asked.error });
      if (taps.full) return send(res, 503, { error: `${MAX_TAP_CLIENTS} taps are attached already (at most ${MAX_TAP_CLIENTS} at once); try again when one has ended` });
      taps.open(req, res, asked.filter, asked.rate);
      return;
    }
    if (DEPLOY_PATHS.has(path)) return serveDeploy(req, res, path, { ...(options.deployer === undefined ? {} : { deployer: options.deployer }), tokenConfigured: expected !== undefined, log: options.log });
    const control = /^\/api\/(triggers|connections)\/([^/]+)\/(suspend|resume|enable|disable)$/.exec(path);
    if (control !== null) {
      if (method !== 'POST') return send(res, 405, { error: `use POST for ${path}` });
      const [, kind, encoded, action] = control as unknown as [string, string, string, string];
      const name = decodeURIComponent(encoded);
      if (kind === 'triggers' && (action === 'suspend' || action === 'resume')) {
        if (!options.engine.defined.triggers.has(name)) return send(res, 404, { error: `no trigger named "${name}"` });
        const running = options.engine.setTriggerSuspended(name, action === 'suspend');
        return send(res, 200, { trigger: name, suspended: action === 'suspend', running });
      }
      if (kind === 'connections' && (action === 'enable' || action === 'disable')) {
        if (!options.engine.defined.connections.has(name)) return send(res, 404, { error: `no connection named "${name}"` });
        const plan = await options.engine.setConnectionEnabled(name, action === 'enable');
        // Answer once the old clients have drained and disconnected: "disabled" then means gone.
        await options.engine.settled();
        return send(res, 200, { connection: name, enabled: action === 'enable', triggersStarted: plan.triggers.added.map((a) => a.name), triggersStopped: plan.triggers.removed.map((r) => r.name) });
      }
      return send(res, 404, { error: `no ${action} for ${kind}` });
    }
    return send(res, 404, { error: `no such endpoint: ${method} ${path}` });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        taps.closeAll();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}
