/**
 * listeners: HTTP servers that endpoints (HTTP triggers) are bound to: address, TLS,
 * authentication and the limits that keep a client from holding the process (docs/architecture.md,
 * invariant 48).
 */
import type { ComponentCompiler } from '../component/compiler.js';
import { fieldTable, objectSchema, type DocTable, type FieldSpec } from '../component/spec.js';
import { checkSecretSource, warnWrittenSecret } from '../component/tls.js';
import type { ListenerSettings } from '../http/listener.js';
import { durationMs, durationSchema } from '../util/duration.js';
import type { JsonSchema } from '../util/json-schema.js';
import { formatPath, type ValuePath } from '../util/path.js';
import { Secret } from '../util/secret.js';

export type { ListenerSettings };

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

const TLS_FIELDS: Readonly<Record<string, FieldSpec>> = {
  cert: { schema: { type: 'string', minLength: 1, description: 'PEM file of the server certificate, relative to the flow file.', examples: ['certs/server.pem'] }, type: 'string', default: 'required', doc: 'PEM file of the server certificate (with its chain), relative to the flow file.' },
  key: { schema: { type: 'string', minLength: 1, description: 'PEM file of the server private key, relative to the flow file.', examples: ['certs/server.key'] }, type: 'string', default: 'required', doc: 'PEM file of the server\'s private key, relative to the flow file.' },
  ca: { schema: { type: 'string', minLength: 1, description: 'PEM file of a CA: clients must present a certificate it signed.', examples: ['certs/clients-ca.pem'] }, type: 'string', default: 'none', doc: 'PEM file of a certificate authority: clients must then present a certificate it signed (mutual TLS).' },
};

const AUTH_FIELDS: Readonly<Record<string, FieldSpec>> = {
  bearer: { schema: { type: 'string', minLength: 1, description: 'The bearer token requests must carry: use ${env:NAME} or ${file:path}.', examples: ['${env:WEBHOOK_TOKEN}'] }, type: 'string', default: 'none', doc: 'Requests must carry `Authorization: Bearer <token>`.' },
  username: { schema: { type: 'string', minLength: 1, description: 'Basic authentication user name.' }, type: 'string', default: 'none', doc: 'Basic authentication: the user name (with `password`).' },
  password: { schema: { type: 'string', minLength: 1, description: 'Basic authentication password: use ${env:NAME} or ${file:path}.' }, type: 'string', default: 'none', doc: 'Basic authentication: the password.' },
};

export const LISTENER_FIELDS: Readonly<Record<string, FieldSpec>> = {
  port: { schema: { type: 'integer', minimum: 0, maximum: 65535, description: 'The TCP port (0: any free port, logged).', examples: [8080] }, type: 'integer', default: 'required', doc: 'The TCP port; `0` takes a free one (logged in the `listening` event).' },
  host: { schema: { type: 'string', minLength: 1, description: 'The address to listen on. Default: 127.0.0.1 (this machine only).', examples: ['0.0.0.0'] }, type: 'string', default: '`127.0.0.1`', doc: 'The address to listen on: `0.0.0.0` for every interface. The default takes requests from this machine only.' },
  tls: { schema: objectSchema('HTTPS: the server certificate and key; with ca, clients must present a certificate.', TLS_FIELDS, ['cert', 'key']), type: 'map', default: 'none (HTTP)', doc: 'HTTPS: `cert` and `key` (PEM files), and `ca` to require client certificates.' },
  auth: { schema: objectSchema('Credentials every request must carry: bearer, or username and password.', AUTH_FIELDS), type: 'map', default: 'none', doc: 'Credentials every request must carry: `bearer`, or `username` and `password` (basic). Use `${env:NAME}` or `${file:path}`. A request without them gets 401 before its body is read.' },
  maxBodyBytes: { schema: { type: 'integer', minimum: 0, maximum: 268_435_456, description: 'The largest request body, in bytes. Default: 1048576.' }, type: 'integer', default: '`1048576`', doc: 'The largest request body; a larger one gets 413 and is not read.' },
  headersTimeout: { schema: durationSchema('How long a client may take to send the headers. Default: 10s, or requestTimeout if shorter.', ['5s']), type: 'duration', default: '`10s` (at most `requestTimeout`)', doc: 'How long a client may take to send its headers; at most `requestTimeout`.' },
  requestTimeout: { schema: durationSchema('How long a client may take to send the whole request. Default: 30s.', ['30s']), type: 'duration', default: '`30s`', doc: 'How long a client may take to send the whole request; a slower one gets 408. (The time the work takes is not counted: see the endpoint\'s `queueSize`.)' },
  maxConnections: { schema: { type: 'integer', minimum: 1, maximum: 100_000, description: 'The most connections open at once. Default: 1000.' }, type: 'integer', default: '`1000`', doc: 'The most client connections open at once; more are closed at once.' },
  description: { schema: { type: 'string', description: 'What this listener is for.' }, type: 'string', default: 'none', doc: 'What the listener is for.' },
};

export function listenerSchema(description: string): JsonSchema {
  return objectSchema(description, LISTENER_FIELDS, ['port']);
}

export const LISTENER_TABLE: DocTable = fieldTable('listener', LISTENER_FIELDS);

export const LISTENER_EXAMPLE = `listeners:
  webhooks:
    port: 8080
    host: 0.0.0.0
    auth:
      bearer: \${env:WEBHOOK_TOKEN}
    maxBodyBytes: 65536
`;

interface ListenerValue {
  port: number;
  host?: string;
  tls?: { cert: string; key: string; ca?: string };
  auth?: { bearer?: string; username?: string; password?: string };
  maxBodyBytes?: number;
  headersTimeout?: number | string;
  requestTimeout?: number | string;
  maxConnections?: number;
}

export function compileListener(raw: Readonly<Record<string, unknown>>, path: ValuePath, c: ComponentCompiler): ListenerSettings | undefined {
  const value = raw as unknown as ListenerValue;
  let ok = true;
  let tls: ListenerSettings['tls'];
  if (value.tls !== undefined && !c.broken([...path, 'tls'])) {
    const at = [...path, 'tls'];
    const cert = c.readFile(value.tls.cert, [...at, 'cert']);
    const key = c.readFile(value.tls.key, [...at, 'key']);
    const ca = value.tls.ca === undefined ? undefined : c.readFile(value.tls.ca, [...at, 'ca']);
    if (cert === undefined || key === undefined || (value.tls.ca !== undefined && ca === undefined)) ok = false;
    else tls = { cert, key: new Secret(key), ...(ca === undefined ? {} : { ca }) };
  }
  let authorization: Secret | undefined;
  const auth = value.auth;
  if (auth !== undefined) {
    const at = [...path, 'auth'];
    if (auth.bearer !== undefined && auth.username === undefined && auth.password === undefined) {
      checkSecretSource(c, [...at, 'bearer'], auth.bearer);
      authorization = new Secret(`Bearer ${auth.bearer}`);
    } else if (auth.bearer === undefined && auth.username !== undefined && auth.password !== undefined) {
      if (!c.interpolated([...at, 'password'])) warnWrittenSecret(c, [...at, 'password']);
      authorization = new Secret(`Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
    } else {
      c.problem(at, 'MQFLOW_HTTP_AUTH', `${formatPath(at)} needs bearer, or username and password (not both)`, 'e.g. bearer: ${env:WEBHOOK_TOKEN}');
      ok = false;
    }
  }
  const requestTimeoutMs = value.requestTimeout === undefined ? 30_000 : durationMs(value.requestTimeout);
  const headersTimeoutMs = value.headersTimeout === undefined ? Math.min(10_000, requestTimeoutMs) : durationMs(value.headersTimeout);
  if (headersTimeoutMs > requestTimeoutMs || requestTimeoutMs === 0) {
    const at = [...path, requestTimeoutMs === 0 ? 'requestTimeout' : 'headersTimeout'];
    c.problem(at, 'MQFLOW_LISTENER_TIMEOUT', requestTimeoutMs === 0 ? `${formatPath(at)} must be more than 0: a client could hold a connection for ever` : `${formatPath(at)} (${headersTimeoutMs} ms) must not be longer than requestTimeout (${requestTimeoutMs} ms)`, 'the headers are part of the request');
    ok = false;
  }
  const host = value.host ?? '127.0.0.1';
  if (authorization === undefined && value.tls?.ca === undefined && !LOOPBACK.test(host)) {
    c.warn([...path, 'host'], 'MQFLOW_LISTENER_OPEN', `${formatPath(path)} listens on ${host} without auth or client certificates: anyone who can reach the port can run its endpoints`, 'add auth: { bearer: ${env:WEBHOOK_TOKEN} }, or tls.ca, or listen on 127.0.0.1 behind a proxy that authenticates');
  }
  if (!ok) return undefined;
  return {
    host,
    port: value.port,
    ...(tls === undefined ? {} : { tls }),
    ...(authorization === undefined ? {} : { authorization }),
    maxBodyBytes: value.maxBodyBytes ?? 1_048_576,
    headersTimeoutMs,
    requestTimeoutMs,
    maxConnections: value.maxConnections ?? 1000,
  };
}
