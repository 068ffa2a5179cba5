/**
 * State stores (`stores:`): one component for the three kinds — its spec (fields, reference
 * table, example), its compile, and its runtime part, `openStore` (docs/architecture.md, "State").
 * The store named `memory` exists without being declared: a memory store with the defaults.
 */
import type { ComponentCompiler } from '../component/compiler.js';
import { fieldTable, objectSchema, type DocTable, type FieldSpec } from '../component/spec.js';
import { MemoryStore } from '../state/memory-store.js';
import type { StoreLimits } from '../state/open-store.js';
import type { StateStore } from '../state/store.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { diskDriver, redisDriver } from './drivers.js';
import type { JsonSchema } from '../util/json-schema.js';
import type { Log } from '../util/log.js';
import { formatPath, type ValuePath } from '../util/path.js';
import { Secret } from '../util/secret.js';

export const STORE_TYPES = ['memory', 'disk', 'redis'] as const;
export type StoreType = (typeof STORE_TYPES)[number];

/** The name of the memory store every flow has unless it declares one by that name. */
export const DEFAULT_STORE = 'memory';

export interface StoreSettings {
  readonly type: StoreType;
  readonly limits: StoreLimits;
  readonly memory?: { readonly maxEntries: number };
  readonly disk?: { readonly path: string; readonly maxSizeBytes: number; readonly sweepIntervalMs: number };
  readonly redis?: {
    readonly url: string;
    readonly username?: string;
    readonly password?: Secret;
    readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: Secret; readonly rejectUnauthorized: boolean };
    readonly keyPrefix: string;
    readonly timeoutMs: number;
  };
}

const DEFAULT_LIMITS: StoreLimits = { maxKeyBytes: 1024, maxValueBytes: 65_536, lockTimeoutMs: 30_000, claimLeaseMs: 30_000 };

/** The implicit `memory` store. */
export const DEFAULT_STORE_SETTINGS: StoreSettings = { type: 'memory', limits: DEFAULT_LIMITS, memory: { maxEntries: 100_000 } };

const int = (description: string, minimum: number, maximum: number): JsonSchema => ({ type: 'integer', minimum, maximum, description });

/** Which keys belong to which store type (the others are refused with a clear message). */
const ONLY_FOR: Readonly<Record<string, StoreType>> = {
  maxEntries: 'memory',
  path: 'disk',
  maxSizeMB: 'disk',
  sweepInterval: 'disk',
  url: 'redis',
  username: 'redis',
  password: 'redis',
  tls: 'redis',
  keyPrefix: 'redis',
  timeout: 'redis',
  claimLease: 'redis',
};

export const STORE_FIELDS: Readonly<Record<string, FieldSpec>> = {
  type: { schema: { enum: [...STORE_TYPES], description: 'memory (in the process), disk (LMDB files, survives restarts) or redis (shared by replicas).' }, type: '`memory`, `disk`, `redis`', default: 'required', doc: '`memory`: in the process, lost on restart. `disk`: LMDB files in a folder, kept across restarts. `redis`: a Redis 7 (or Valkey) server, shared by replicas.' },
  description: { schema: { type: 'string', description: 'What this store is for.' }, type: 'string', default: 'none', doc: 'What the store is for.' },
  maxKeyBytes: { schema: int('Longest key, in UTF-8 bytes, before the namespace. Default: 1024.', 1, 65_536), type: 'integer', default: '`1024`', doc: 'The longest key a step may use, in UTF-8 bytes; a longer one fails its message (`MQFLOW_STATE_LIMIT`, not retried).' },
  maxValueBytes: { schema: int('Largest value, in bytes of JSON. Default: 65536.', 1, 16_777_216), type: 'integer', default: '`65536`', doc: 'The largest value, in bytes of JSON; a larger one fails its message (`MQFLOW_STATE_LIMIT`, not retried).' },
  lockTimeout: { schema: durationSchema('How long a message waits for a key another message holds, then fails (transiently). Default: 30s.', ['30s']), type: 'duration', default: '`30s`', doc: 'How long a message waits for a key that another message holds (or, in Redis, another replica has claimed) before it fails with `MQFLOW_STATE_BUSY` (retried).' },
  maxEntries: { schema: int('memory: most entries held; the least recently used goes first. Default: 100000.', 1, 100_000_000), type: 'integer', default: '`100000`', doc: '*memory*: the most entries held; beyond it the least recently used entry is evicted (counted in `mqflow_store_evictions_total`).' },
  path: { schema: { type: 'string', minLength: 1, description: 'disk: the folder of the LMDB files, relative to the flow file. Created when missing.', examples: ['/var/lib/mqflow/state'] }, type: 'string', default: 'required for `disk`', doc: '*disk*: the folder of the store\'s files (created when missing), relative to the flow file; keep it out of the flow folder\'s git work tree. One mqflow process per folder.' },
  maxSizeMB: { schema: int('disk: the most space the files may take, in MiB. Default: 1024.', 1, 1_048_576), type: 'integer', default: '`1024`', doc: '*disk*: the most space its files may take, in MiB; a commit beyond it fails its message (`MQFLOW_STATE_UNAVAILABLE`).' },
  sweepInterval: { schema: durationSchema('disk: how often expired entries are deleted. Default: 1m.', ['1m']), type: 'duration', default: '`1m`', doc: '*disk*: how often expired entries are deleted from the files (they are never read once expired).' },
  url: { schema: { type: 'string', pattern: '^rediss?://', description: 'redis: redis:// or rediss:// (TLS) URL; a /N path selects database N.', examples: ['redis://localhost:6379', 'rediss://redis.example.com:6380/2'] }, type: 'string', default: 'required for `redis`', doc: '*redis*: `redis://host:port[/db]`, or `rediss://` for TLS. Credentials go in `username` and `password`, not in the URL.' },
  username: { schema: { type: 'string', minLength: 1, description: 'redis: ACL user name.' }, type: 'string', default: 'none', doc: '*redis*: the ACL user.' },
  password: { schema: { type: 'string', description: 'redis: password; use ${env:NAME} or ${file:path}.', examples: ['${env:REDIS_PASSWORD}'] }, type: 'string', default: 'none', doc: '*redis*: the password: use `${env:NAME}` or `${file:path}` (`mqflow validate` warns when it is written in the file). Never printed.' },
  tls: {
    schema: objectSchema('redis: TLS for rediss:// URLs.', {
      ca: { schema: { type: 'string', minLength: 1, description: 'PEM file of the CA to trust, relative to the flow file.' }, type: 'string', default: 'none', doc: '' },
      cert: { schema: { type: 'string', minLength: 1, description: 'PEM file of the client certificate.' }, type: 'string', default: 'none', doc: '' },
      key: { schema: { type: 'string', minLength: 1, description: 'PEM file of the client key.' }, type: 'string', default: 'none', doc: '' },
      rejectUnauthorized: { schema: { type: 'boolean', description: 'Refuse a server whose certificate does not verify. Default: true.' }, type: 'boolean', default: '`true`', doc: '' },
    }),
    type: 'map',
    default: 'none',
    doc: '*redis*: TLS for `rediss://`: `ca`, `cert`, `key` (PEM files relative to the flow file) and `rejectUnauthorized` (default `true`).',
  },
  keyPrefix: { schema: { type: 'string', maxLength: 256, description: 'redis: prefix of every key mqflow writes. Default: "mqflow:".' }, type: 'string', default: '`mqflow:`', doc: '*redis*: the prefix of every key mqflow writes, so several flows or environments can share a server.' },
  timeout: { schema: durationSchema('redis: a command not answered within this fails the message (transiently). Default: 2s.', ['2s']), type: 'duration', default: '`2s`', doc: '*redis*: a command not answered within it fails its message with `MQFLOW_STATE_UNAVAILABLE` (retried); commands are never queued while Redis is down.' },
  claimLease: { schema: durationSchema('redis: how long a dedupe claim lasts when its replica dies before finishing the message. Default: 30s.', ['30s']), type: 'duration', default: '`30s`', doc: '*redis*: how long a `dedupe` claim lasts when the replica that made it dies before its message is done; the redelivered message passes once it expired.' },
};

export function storeSchema(description: string): JsonSchema {
  return objectSchema(description, STORE_FIELDS, ['type']);
}

export const STORE_TABLE: DocTable = fieldTable('store', STORE_FIELDS);

export const STORE_EXAMPLE = `stores:
  seen:
    type: disk
    path: /var/lib/mqflow/seen
  shared:
    type: redis
    url: redis://localhost:6379
    password: \${env:REDIS_PASSWORD}
    keyPrefix: "plant-a:"
`;

/** Compiles a store definition's settings; undefined when it reported an error. */
export function compileStore(value: Readonly<Record<string, unknown>>, path: ValuePath, c: ComponentCompiler): StoreSettings | undefined {
  const type = value.type as StoreType;
  if (c.broken([...path, 'type'])) return undefined;
  let ok = true;
  for (const [key, owner] of Object.entries(ONLY_FOR)) {
    if (value[key] !== undefined && owner !== type) {
      c.problem([...path, key], 'MQFLOW_STORE_OPTION', `${formatPath([...path, key])} applies to ${owner} stores only; this store is ${type}`, `remove ${key}, or set type: ${owner}`);
      ok = false;
    }
  }
  const duration = (key: string, fallback: number): number => (value[key] === undefined ? fallback : durationMs(value[key] as number | string));
  const limits: StoreLimits = {
    maxKeyBytes: (value.maxKeyBytes as number | undefined) ?? DEFAULT_LIMITS.maxKeyBytes,
    maxValueBytes: (value.maxValueBytes as number | undefined) ?? DEFAULT_LIMITS.maxValueBytes,
    lockTimeoutMs: Math.max(1, duration('lockTimeout', DEFAULT_LIMITS.lockTimeoutMs)),
    claimLeaseMs: Math.max(100, duration('claimLease', DEFAULT_LIMITS.claimLeaseMs)),
  };
  if (type === 'memory') return ok ? { type, limits, memory: { maxEntries: (value.maxEntries as number | undefined) ?? 100_000 } } : undefined;
  if (type === 'disk') {
    if (typeof value.path !== 'string') {
      c.problem(path, 'MQFLOW_STORE_OPTION', `${formatPath(path)}: a disk store needs path: the folder of its files`, 'add path: /var/lib/mqflow/<name>');
      return undefined;
    }
    const disk = { path: c.resolvePath(value.path), maxSizeBytes: ((value.maxSizeMB as number | undefined) ?? 1024) * 1024 * 1024, sweepIntervalMs: duration('sweepInterval', 60_000) };
    return ok ? { type, limits, disk } : undefined;
  }
  if (typeof value.url !== 'string') {
    c.problem(path, 'MQFLOW_STORE_OPTION', `${formatPath(path)}: a redis store needs url`, 'add url: redis://host:6379');
    return undefined;
  }
  const url = redisUrl(value.url, [...path, 'url'], c);
  if (value.password !== undefined && typeof value.password === 'string' && value.password !== '' && !c.interpolated([...path, 'password'])) {
    c.warn([...path, 'password'], 'MQFLOW_WRITTEN_SECRET', `${formatPath([...path, 'password'])} is written in the flow file`, 'use ${env:NAME} or ${file:path}, so the secret stays out of git');
  }
  const tls = redisTls(value.tls as Record<string, unknown> | undefined, [...path, 'tls'], c);
  if (url === undefined || tls === false || !ok) return undefined;
  return {
    type,
    limits,
    redis: {
      url,
      ...(typeof value.username === 'string' ? { username: value.username } : {}),
      ...(typeof value.password === 'string' ? { password: new Secret(value.password) } : {}),
      ...(tls === undefined ? {} : { tls }),
      keyPrefix: (value.keyPrefix as string | undefined) ?? 'mqflow:',
      timeoutMs: Math.max(1, duration('timeout', 2_000)),
    },
  };
}

function redisUrl(text: string, at: ValuePath, c: ComponentCompiler): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    c.problem(at, 'MQFLOW_STORE_OPTION', `${formatPath(at)}: ${c.quote(at, text)} is not a URL`, 'write redis://host:6379');
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    c.problem(at, 'MQFLOW_STORE_OPTION', `${formatPath(at)}: the URL holds credentials`, 'put them in username and password (with ${env:NAME}), so they are never printed');
    return undefined;
  }
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) {
    c.problem(at, 'MQFLOW_STORE_OPTION', `${formatPath(at)}: the path of a Redis URL selects a database: /0 to /15, not ${c.quote(at, url.pathname)}`);
    return undefined;
  }
  return text;
}

function redisTls(t: Record<string, unknown> | undefined, at: ValuePath, c: ComponentCompiler): NonNullable<StoreSettings['redis']>['tls'] | undefined | false {
  if (t === undefined || c.broken(at)) return undefined;
  const read = (key: string): string | undefined | false => {
    const name = t[key];
    if (typeof name !== 'string') return undefined;
    return c.readFile(name, [...at, key]) ?? false;
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  if (ca === false || cert === false || key === false) return false;
  if ((cert === undefined) !== (key === undefined)) {
    c.problem(at, 'MQFLOW_TLS_PAIR', `${formatPath(at)}: a client certificate needs both cert and key`);
    return false;
  }
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key: new Secret(key) }),
    rejectUnauthorized: (t.rejectUnauthorized as boolean | undefined) ?? true,
  };
}

/** Opens the store a definition describes (the runtime part; its driver loaded with loadStoreDrivers). Redis connects in the background. */
export function openStore(settings: StoreSettings, log: Log): StateStore {
  if (settings.type === 'memory') return new MemoryStore(settings.memory!.maxEntries);
  if (settings.type === 'disk') return diskDriver().openDiskStore(settings.disk!);
  const r = settings.redis!;
  return redisDriver().openRedisStore(
    {
      url: r.url,
      ...(r.username === undefined ? {} : { username: r.username }),
      ...(r.password === undefined ? {} : { password: r.password.reveal() }),
      ...(r.tls === undefined ? {} : { tls: { ...(r.tls.ca === undefined ? {} : { ca: r.tls.ca }), ...(r.tls.cert === undefined ? {} : { cert: r.tls.cert }), ...(r.tls.key === undefined ? {} : { key: r.tls.key.reveal() }), rejectUnauthorized: r.tls.rejectUnauthorized } }),
      keyPrefix: r.keyPrefix,
      timeoutMs: r.timeoutMs,
    },
    log,
  );
}
