/**
 * The redis store (docs/architecture.md, invariants 37-38): values as JSON text shared by replicas,
 * a commit as one SET (or DEL), or MULTI/EXEC for several writes, dedupe claims as an atomic Lua
 * script. Commands go out as they are made, on one connection: ioredis's auto-pipelining cost more
 * CPU than it saved, measured with the bench (serial trigger 4,264 → 6,799 msg/s without it,
 * 194 → 116 µs CPU per message; concurrent 14,080 → 15,614 msg/s). A Redis that is down or too slow fails
 * commands within `timeoutMs`; nothing is queued while disconnected, and ioredis reconnects by itself.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { StateError } from './state-error.js';
import type { ClaimResult, StateStore, StateWrite, StoreStats } from './store.js';

export interface RedisStoreOptions {
  /** redis:// or rediss:// (TLS); host, port and db (the path) come from it. */
  readonly url: string;
  /** Override the URL's user and password. */
  readonly username?: string;
  readonly password?: string;
  /** PEM texts, used with rediss:// only. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized: boolean };
  /** Every key the store touches carries it, e.g. 'mqflow:'. */
  readonly keyPrefix: string;
  /** A command not answered within this fails; also the bound for connecting. */
  readonly timeoutMs: number;
}

export interface RedisStoreLog {
  warn(obj: object, msg: string): void;
}

/** A claim is stored as this prefix and its token. JSON text never starts with NUL, so no value looks like a claim. */
const CLAIM = '\u0000claim:';
/** A connection error is logged at most once per distinct message in this time. */
const LOG_EVERY_MS = 30_000;
const MAX_RETRY_DELAY_MS = 2_000;

// KEYS[1] is prefixed by ioredis (Script passes its keyPrefix to the EVALSHA command, which
// prefixes the first `numberOfKeys` arguments). ARGV: the marker, the lease, the marker prefix.
const CLAIM_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'claimed'
end
if string.sub(v, 1, #ARGV[3]) == ARGV[3] then return 'busy' end
return 'present'
`;
// Compare-and-delete: only this token's claim goes; a value or another claim stays.
const UNCLAIM_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface ClaimCommands {
  mqflowClaim(key: string, marker: string, leaseMs: number, markerPrefix: string): Promise<string>;
  mqflowUnclaim(key: string, marker: string): Promise<number>;
}

type Client = Redis & ClaimCommands;

interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
  /** The URL without credentials or query: the only form that appears in messages and logs. */
  readonly display: string;
}

export function openRedisStore(options: RedisStoreOptions, log?: RedisStoreLog): RedisStore {
  return new RedisStore(options, log);
}

export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly shared = true;
  /** The store's URL without credentials. */
  readonly url: string;
  readonly #redis: Client;
  readonly #timeoutMs: number;
  readonly #password: string | undefined;
  readonly #log: RedisStoreLog | undefined;
  readonly #logged = new Map<string, number>();
  /** Operations under way: close() lets them settle first. */
  readonly #pending = new Set<Promise<unknown>>();
  /** Callers waiting for the first connection; woken by 'ready' or close(). */
  readonly #waiters = new Set<() => void>();
  #everReady = false;
  #lastError: string | undefined;
  /** performance.now() of the last answer Redis gave, and of the last forced reconnect. */
  #lastAnswer = 0;
  #lastForcedReconnect = 0;
  #closing: Promise<void> | undefined;
  #hits = 0;
  #misses = 0;
  #errors = 0;

  constructor(options: RedisStoreOptions, log?: RedisStoreLog) {
    if (!(options.timeoutMs > 0)) throw new Error(`the Redis store timeout must be positive, not ${options.timeoutMs}`);
    const endpoint = parseUrl(options.url);
    this.url = endpoint.display;
    this.#timeoutMs = options.timeoutMs;
    this.#password = options.password ?? endpoint.password;
    this.#log = log;
    const username = options.username ?? endpoint.username;
    const tls = options.tls;
    const redisOptions: RedisOptions = {
      host: endpoint.host,
      port: endpoint.port,
      db: endpoint.db,
      ...(username !== undefined && username !== '' ? { username } : {}),
      ...(this.#password !== undefined && this.#password !== '' ? { password: this.#password } : {}),
      ...(endpoint.tls
        ? {
            tls: {
              ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
              ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
              ...(tls?.key !== undefined ? { key: tls.key } : {}),
              rejectUnauthorized: tls?.rejectUnauthorized ?? true,
            },
          }
        : {}),
      keyPrefix: options.keyPrefix,
      // See the top of this file.
      enableAutoPipelining: false,
      // Fail, don't queue: a message waiting on a store that is down must fail (invariant 37).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A command that failed must not be applied later by a resend after a reconnect.
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.timeoutMs,
      connectTimeout: options.timeoutMs,
      // A connection is dropped after QUIT was answered, or because it answers nothing: the peer
      // need not be waited for long. (The timer also runs, and holds the process, after a close while disconnected.)
      disconnectTimeout: Math.min(options.timeoutMs, 200),
      // CLIENT SETINFO calls are not needed (and Redis < 7.2 rejects them).
      disableClientInfo: true,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times - 1, 10), MAX_RETRY_DELAY_MS),
    };
    const redis = new Redis(redisOptions);
    // Unhandled, an 'error' event would crash the process; ioredis reconnects after it by itself.
    redis.on('error', (error: unknown) => this.#connectionError(error));
    redis.on('ready', () => {
      this.#everReady = true;
      this.#lastError = undefined;
      for (const wake of this.#waiters) wake();
      this.#waiters.clear();
    });
    redis.defineCommand('mqflowClaim', { numberOfKeys: 1, lua: CLAIM_LUA });
    redis.defineCommand('mqflowUnclaim', { numberOfKeys: 1, lua: UNCLAIM_LUA });
    this.#redis = redis as Client;
  }

  /** Resolves once connected for the first time; rejects (MQFLOW_STATE_UNAVAILABLE) after timeoutMs. */
  ready(): Promise<void> {
    if (this.#everReady) return Promise.resolve();
    return this.#firstConnection().catch((error: unknown) => {
      throw this.#failure('connect', error);
    });
  }

  /** The parsed value, or undefined when the key is missing, expired or claimed. `now` is unused: Redis expires keys on its own clock. */
  get(key: string, _now: number): Promise<unknown> {
    return this.#run('get', async () => {
      const text = await this.#redis.get(key);
      if (text === null || text.startsWith(CLAIM)) {
        this.#misses++;
        return undefined;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new Error(`the value under key ${JSON.stringify(key.slice(0, 200))} is not JSON`);
      }
      this.#hits++;
      return value;
    });
  }

  /** One MULTI/EXEC: SET (PX when the write has a ttl) or DEL per write; a SET replaces a claim. */
  commit(writes: readonly StateWrite[], _now: number): Promise<void> {
    return this.#run('commit', async () => {
      // One write needs no transaction: a single SET or DEL is atomic, and one command instead of three.
      if (writes.length === 1) {
        const write = writes[0]!;
        const json = write.value === undefined ? undefined : JSON.stringify(write.value);
        const ttl = write.ttlMs;
        if (json === undefined || (ttl !== undefined && ttl <= 0)) await this.#redis.del(write.key);
        else if (ttl === undefined || !Number.isFinite(ttl)) await this.#redis.set(write.key, json);
        else await this.#redis.set(write.key, json, 'PX', Math.ceil(ttl));
        return;
      }
      const multi = this.#redis.multi();
      for (const write of writes) {
        const json = write.value === undefined ? undefined : JSON.stringify(write.value);
        const ttl = write.ttlMs;
        // Already expired: as good as removed (PX must be positive).
        if (json === undefined || (ttl !== undefined && ttl <= 0)) multi.del(write.key);
        else if (ttl === undefined || !Number.isFinite(ttl)) multi.set(write.key, json);
        else multi.set(write.key, json, 'PX', Math.ceil(ttl));
      }
      const results = await multi.exec();
      if (results === null) throw new Error('the transaction was discarded');
      for (const [error] of results) if (error !== null) throw error;
    });
  }


  claim(key: string, token: string, leaseMs: number): Promise<ClaimResult> {
    return this.#run('claim', async () => {
      const result = await this.#redis.mqflowClaim(key, CLAIM + token, Math.max(1, Math.ceil(leaseMs)), CLAIM);
      if (result === 'claimed' || result === 'present' || result === 'busy') return result;
      throw new Error(`the claim script answered ${JSON.stringify(result)}`);
    });
  }

  unclaim(key: string, token: string): Promise<void> {
    return this.#run('unclaim', async () => {
      await this.#redis.mqflowUnclaim(key, CLAIM + token);
    });
  }

  /** Counting entries would cost a SCAN of the whole database: `entries` is undefined. */
  stats(): StoreStats {
    return { entries: undefined, hits: this.#hits, misses: this.#misses, evictions: 0, errors: this.#errors };
  }

  /** Lets operations under way settle, then QUITs (bounded), then drops the connection. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    // Callers still waiting for the first connection go on, and fail as closed.
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
    // Each command is bounded by commandTimeout; the margin covers a first-connection wait.
    await within(Promise.allSettled([...this.#pending]), 2 * this.#timeoutMs);
    if (this.#redis.status === 'ready') await within(this.#redis.quit().catch(() => undefined), this.#timeoutMs);
    this.#redis.disconnect();
  }

  /** Runs one operation: after the first connection (bounded), failures as MQFLOW_STATE_UNAVAILABLE. */
  #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      this.#errors++;
      return Promise.reject(this.#failure(op, new Error('the store is closed')));
    }
    const start = this.#everReady ? fn() : this.#firstConnection().then(fn);
    const done = start.then(
      (value) => {
        this.#lastAnswer = performance.now();
        return value;
      },
      (error: unknown) => {
        this.#errors++;
        this.#maybeReconnect(error);
        throw this.#failure(op, error);
      },
    );
    this.#pending.add(done);
    const forget = (): void => void this.#pending.delete(done);
    done.then(forget, forget);
    return done;
  }

  /**
   * Waits (at most timeoutMs) for the first connection, so messages that arrive while the store
   * connects at start do not fail. Once connected, a command while disconnected fails at once.
   */
  #firstConnection(): Promise<void> {
    if (this.#everReady) return Promise.resolve();
    if (this.#closing !== undefined) return Promise.reject(new Error('the store is closed'));
    return new Promise<void>((resolve, reject) => {
      // Woken by 'ready', or by close() before it.
      const wake = (): void => {
        clearTimeout(timer);
        if (this.#everReady) resolve();
        else reject(new Error('the store is closed'));
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`not connected after ${this.#timeoutMs} ms${this.#lastError === undefined ? '' : ` (last error: ${this.#lastError})`}`));
      }, this.#timeoutMs);
      this.#waiters.add(wake);
    });
  }

  /**
   * A connection that answers nothing for a whole timeout (a peer gone without a reset, a
   * frozen server) would otherwise stay open, and every command time out, until TCP gives up
   * (minutes): reconnect instead, at most once per timeout.
   */
  #maybeReconnect(error: unknown): void {
    if (!(error instanceof Error) || !error.message.includes('timed out')) return;
    const now = performance.now();
    if (this.#redis.status !== 'ready' || now - this.#lastAnswer < this.#timeoutMs || now - this.#lastForcedReconnect < this.#timeoutMs) return;
    this.#lastForcedReconnect = now;
    this.#lastError = `no answer for ${this.#timeoutMs} ms, reconnecting`;
    this.#redis.disconnect(true);
  }

  #failure(op: string, error: unknown): StateError {
    if (error instanceof StateError) return error;
    let reason = this.#scrub(error instanceof Error ? error.message : String(error));
    // ioredis's words for "not connected, and not queueing": say what is known about why.
    const last = this.#lastError === undefined ? '' : ` (last error: ${this.#lastError})`;
    if (reason.includes("Stream isn't writeable")) reason = `not connected${last}`;
    else if (isLostConnection(error)) reason = `the connection was lost${last}`;
    // No `cause`: ioredis errors carry the command's arguments (AUTH's include the password).
    return new StateError(`redis store ${this.url}: ${op} failed: ${reason}`, 'MQFLOW_STATE_UNAVAILABLE');
  }

  #connectionError(error: unknown): void {
    // The commands a lost connection took with it: a consequence, not the cause worth reporting.
    if (isLostConnection(error)) return;
    const message = this.#scrub(error instanceof Error ? error.message : String(error));
    this.#lastError = message;
    if (this.#log === undefined) return;
    const now = performance.now();
    const last = this.#logged.get(message);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    // Distinct messages are few (refused, timed out, auth); the bound only guards against odd ones.
    if (this.#logged.size >= 100) this.#logged.clear();
    this.#logged.set(message, now);
    this.#log.warn({ store: this.url, error: message }, `redis store ${this.url}: connection error: ${message}`);
  }

  /** The password never appears in a message, even if some error text quoted it. */
  #scrub(text: string): string {
    const password = this.#password;
    // Very short passwords would mangle unrelated text (ports, numbers); they protect nothing anyway.
    return password !== undefined && password.length >= 4 ? text.split(password).join('[secret]') : text;
  }
}

function parseUrl(url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The text itself is not repeated: it may hold a password.
    throw new Error('the Redis store URL is not a valid URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error(`the Redis store URL must start with redis:// or rediss://, not ${parsed.protocol}//`);
  const path = parsed.pathname === '/' ? '' : parsed.pathname;
  const display = `${parsed.protocol}//${parsed.host}${path}`;
  const dbText = path.slice(1);
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new Error(`the Redis store URL ${display} names database "${dbText}"; it must be a number`);
  const decode = (text: string): string | undefined => {
    if (text === '') return undefined;
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  return {
    // WHATWG URL keeps the brackets of an IPv6 address.
    host: parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    db,
    username: decode(parsed.username),
    password: decode(parsed.password),
    tls: parsed.protocol === 'rediss:',
    display,
  };
}

/** ioredis's rejection of the commands a closed connection had in flight (maxRetriesPerRequest 0). */
function isLostConnection(error: unknown): boolean {
  return error instanceof Error && error.name === 'MaxRetriesPerRequestError';
}

/** `promise`, or nothing after `ms`: for waits that must not hold up a shutdown. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
