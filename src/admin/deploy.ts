/**
 * The deploy routes of the admin API (docs/gitops.md, "Deploying and rolling back"): POST /api/deploy, POST /api/rollback
 * and GET /api/history. A deploy or rollback changes what runs, so it needs the admin token even
 * where the rest of the API runs without one (invariant 67), and its body is bounded: a declared
 * length over the limit is refused before a byte is read, a stream that passes it is cut off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ADMIN_TOKEN_WHO, DeployPathError, MAX_DEPLOY_BYTES, type DeployOutcome, type Deployer } from '../engine/deploy.js';
import { describeLimit } from '../util/bounded-read.js';
import type { Log } from '../util/log.js';

export const DEPLOY_PATHS: ReadonlySet<string> = new Set(['/api/deploy', '/api/rollback', '/api/history']);

export interface DeployRoutes {
  readonly deployer?: Deployer;
  /** Is an admin token configured (and so was it checked for this request)? */
  readonly tokenConfigured: boolean;
  readonly log: Log;
}

export async function serveDeploy(req: IncomingMessage, res: ServerResponse, path: string, routes: DeployRoutes): Promise<void> {
  const method = req.method ?? 'GET';
  const { deployer } = routes;
  if (deployer === undefined) return reply(res, 404, { error: `no such endpoint: ${method} ${path} (this instance does not take deploys)` });
  if (path === '/api/history') {
    if (method !== 'GET') return reply(res, 405, { error: `use GET for ${path}` });
    return reply(res, 200, { running: { version: deployer.runningVersion, versionId: deployer.versionId }, versions: deployer.history().reverse() });
  }
  if (method !== 'POST') return reply(res, 405, { error: `use POST for ${path}` });
  if (!routes.tokenConfigured) {
    routes.log.warn({ event: 'deploy-refused', path, status: 403 }, `admin API: POST ${path} refused (403): no admin token is configured`);
    return reply(res, 403, { error: 'deploy needs --admin-token: start the instance with --admin-token (or MQFLOW_ADMIN_TOKEN) to take deploys and rollbacks' });
  }
  const body = await readJson(req, MAX_DEPLOY_BYTES);
  if ('status' in body) {
    if (body.status === 413) res.setHeader('connection', 'close');
    routes.log.warn({ event: 'deploy-refused', path, status: body.status }, `admin API: POST ${path} refused (${body.status}): ${body.error}`);
    return reply(res, body.status, { error: body.error });
  }
  const value = body.value as Record<string, unknown> | null;
  if (value === null || typeof value !== 'object' || typeof value.expect !== 'string') {
    return reply(res, 400, { error: 'the body must be a JSON object with "expect": the versionId the deploy was planned against (GET /api/definitions)' });
  }
  let outcome: DeployOutcome;
  try {
    if (path === '/api/deploy') {
      const files = value.files;
      if (files === null || typeof files !== 'object' || Array.isArray(files) || Object.values(files).some((f) => typeof f !== 'string')) {
        return reply(res, 400, { error: 'the body must hold "files": an object of file contents (strings) by path relative to the flow folder' });
      }
      const revision = value.revision as { commit?: unknown; dirty?: unknown } | undefined;
      const known = typeof revision?.commit === 'string' && /^[0-9a-f]{40,64}$/.test(revision.commit) && typeof revision.dirty === 'boolean';
      outcome = await deployer.deploy(files as Record<string, string>, value.expect, ADMIN_TOKEN_WHO, known ? { commit: revision.commit as string, dirty: revision.dirty as boolean } : undefined);
    } else {
      const version = value.version;
      if (version !== undefined && (typeof version !== 'number' || !Number.isInteger(version) || version < 1)) {
        return reply(res, 400, { error: '"version" must be the number of a version in GET /api/history' });
      }
      outcome = await deployer.rollback(version, value.expect, ADMIN_TOKEN_WHO);
    }
  } catch (error) {
    if (error instanceof DeployPathError) return reply(res, 400, { error: error.message });
    throw error;
  }
  return answer(res, outcome, routes.log, path);
}

function answer(res: ServerResponse, outcome: DeployOutcome, log: Log, path: string): void {
  switch (outcome.kind) {
    case 'done': {
      const { result } = outcome;
      return reply(res, 200, {
        outcome: result.outcome,
        version: result.version,
        versionId: outcome.versionId,
        changes: result.changes,
        warnings: result.problems,
        ms: result.ms,
        ...(outcome.history === undefined ? {} : { history: outcome.history }),
      });
    }
    case 'invalid': {
      const errors = outcome.problems.filter((p) => p.severity === 'error').length;
      const error = `the deployed folder has ${errors} error${errors === 1 ? '' : 's'}; version ${outcome.version} (${outcome.versionId}) stays in force`;
      log.warn({ event: 'deploy-refused', path, status: 422, errors }, `admin API: POST ${path} refused (422): ${error}`);
      return reply(res, 422, { error, version: outcome.version, versionId: outcome.versionId, problems: outcome.problems });
    }
    case 'stale': {
      const error = `the instance has moved on: planned against ${outcome.expected}, running ${outcome.running}`;
      log.warn({ event: 'deploy-refused', path, status: 409 }, `admin API: POST ${path} refused (409): ${error}`);
      return reply(res, 409, { error, expected: outcome.expected, running: outcome.running });
    }
    case 'unknown-version':
      return reply(res, 404, { error: outcome.message });
  }
}

type Body = { readonly value: unknown } | { readonly status: 400 | 413; readonly error: string };

/** The request's JSON body, of at most `limit` bytes; nothing past the limit is kept. */
function readJson(req: IncomingMessage, limit: number): Promise<Body> {
  const tooLarge: Body = { status: 413, error: `the request body is over the limit of ${describeLimit(limit)} for a deploy: keep what is not a flow (data, generated files) out of the folder` };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > limit) {
        req.off('data', onData);
        // Drop the rest unread; the answer goes out now and the connection closes after it.
        req.resume();
        resolve(tooLarge);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', reject);
    req.once('end', () => {
      if (length > limit) return;
      try {
        resolve({ value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      } catch (error) {
        resolve({ status: 400, error: `the body is not JSON: ${(error as Error).message}` });
      }
    });
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}
