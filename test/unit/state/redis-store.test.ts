/**
 * The redis store against a real redis-server (docs/architecture.md, invariants 37-38): values,
 * expiry, claims, the key prefix, authentication, and failing (never hanging) while Redis is down
 * or frozen. No timing assertions: expiry is polled for, failures raced against a generous bound.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openRedisStore, type RedisStore, type RedisStoreOptions } from '../../../src/state/redis-store.js';
import { freePort } from '../../support/ports.js';
import { RUN_REDIS, startRedis, type RedisServer } from '../../support/redis.js';

const PASSWORD = 'correct-horse-battery-staple';

let server: RedisServer;
let raw: Redis;
const stores: RedisStore[] = [];

function open(url: string, options: Partial<RedisStoreOptions> = {}, log?: { warn(obj: object, msg: string): void }): RedisStore {
  const store = openRedisStore({ url, keyPrefix: 'mqflow:', timeoutMs: 2_000, ...options }, log);
  stores.push(store);
  return store;
}

/** The error `promise` rejects with; fails the test if it resolves or is still pending after `ms`. */
async function failure(promise: Promise<unknown>, ms = 10_000): Promise<Error & { code?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  try {
    const outcome = await Promise.race([promise.then(() => 'resolved' as const, (error: unknown) => ({ error })), hung]);
    if (outcome === 'hung') throw new Error(`still pending after ${ms} ms`);
    if (outcome === 'resolved') throw new Error('resolved; expected a rejection');
    expect(outcome.error).toBeInstanceOf(Error);
    return outcome.error as Error & { code?: unknown };
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns true (or fails the test after `ms`). */
async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  if (!RUN_REDIS) return;
  server = await startRedis();
  raw = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  raw?.disconnect();
  await server?.stop();
});

describe.runIf(RUN_REDIS)('redis store: values', () => {
  it('gets what a commit wrote, as JSON, and nothing after a removal', async () => {
    const store = open(server.url);
    await store.ready();
    expect(store.kind).toBe('redis');
    expect(store.shared).toBe(true);
    const values: unknown[] = [{ a: 1, b: [true, null, 'x'] }, 0, '', false, null, [1, 2], 'text', 1.5];
    await store.commit(
      values.map((value, i) => ({ key: `v:${i}`, value })),
      0,
    );
    for (const [i, value] of values.entries()) expect(await store.get(`v:${i}`, 0)).toEqual(value);
    expect(await raw.get('mqflow:v:0')).toBe('{"a":1,"b":[true,null,"x"]}');
    expect(await store.get('v:missing', 0)).toBeUndefined();
    await store.commit([{ key: 'v:0', value: undefined }, { key: 'v:1', value: 'replaced' }], 0);
    expect(await store.get('v:0', 0)).toBeUndefined();
    expect(await store.get('v:1', 0)).toBe('replaced');
    const stats = store.stats();
    expect(stats).toMatchObject({ entries: undefined, hits: values.length + 1, misses: 2, evictions: 0, errors: 0 });
  });

  it('expires a value with a ttl (PX), and keeps one without', async () => {
    const store = open(server.url);
    await store.commit([{ key: 't:short', value: 'soon gone', ttlMs: 200 }, { key: 't:forever', value: 'stays' }], 0);
    const pttl = await raw.pttl('mqflow:t:short');
    // -2: already gone on a slow machine; otherwise at most the ttl.
    expect(pttl === -2 || (pttl > 0 && pttl <= 200)).toBe(true);
    expect(await raw.pttl('mqflow:t:forever')).toBe(-1);
    await eventually(async () => (await store.get('t:short', 0)) === undefined);
    expect(await store.get('t:forever', 0)).toBe('stays');
  });

  it('a value that is not JSON fails the read, with the code', async () => {
    const store = open(server.url);
    await raw.set('mqflow:bad:1', 'not json');
    const error = await failure(store.get('bad:1', 0));
    expect(error.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(error.message).toContain('not JSON');
    expect(store.stats().errors).toBe(1);
  });

  it('1,000 concurrent commits all land, and 1,000 concurrent reads see them', async () => {
    const store = open(server.url);
    await store.ready();
    const n = 1_000;
    await Promise.all(Array.from({ length: n }, (_, i) => store.commit([{ key: `many:${i}`, value: { i } }, { key: `many:${i}:b`, value: i * 2 }], 0)));
    const read = await Promise.all(Array.from({ length: n }, (_, i) => store.get(`many:${i}`, 0)));
    expect(read).toEqual(Array.from({ length: n }, (_, i) => ({ i })));
    const b = await raw.mget(Array.from({ length: n }, (_, i) => `mqflow:many:${i}:b`));
    expect(b).toEqual(Array.from({ length: n }, (_, i) => String(i * 2)));
  });

  it('carries the key prefix on every key it touches, claims included', async () => {
    const store = open(server.url, { keyPrefix: 'prefix-test:' });
    await store.commit([{ key: 'ns:value', value: 1 }], 0);
    expect(await store.claim('ns:claimed', 'token-1', 30_000)).toBe('claimed');
    expect(await store.claim('ns:value', 'token-1', 30_000)).toBe('present');
    const keys = await raw.keys('*');
    expect(keys).toEqual(expect.arrayContaining(['prefix-test:ns:value', 'prefix-test:ns:claimed']));
    expect(keys.filter((k) => k.startsWith('ns:'))).toEqual([]);
    await store.unclaim('ns:claimed', 'token-1');
    expect(await raw.exists('prefix-test:ns:claimed')).toBe(0);
  });
});

describe.runIf(RUN_REDIS)('redis store: claims', () => {
  it('claims a free key, is busy for any claim, present for a value', async () => {
    const store = open(server.url);
    expect(await store.claim('c:1', 'a', 30_000)).toBe('claimed');
    expect(await store.claim('c:1', 'b', 30_000)).toBe('busy');
    expect(await store.claim('c:1', 'a', 30_000)).toBe('busy');
    // A claim reads as absent.
    expect(await store.get('c:1', 0)).toBeUndefined();
    expect(await raw.get('mqflow:c:1')).toBe('\u0000claim:a');
    const pttl = await raw.pttl('mqflow:c:1');
    expect(pttl > 0 && pttl <= 30_000).toBe(true);
    await store.commit([{ key: 'c:2', value: { seen: true } }], 0);
    expect(await store.claim('c:2', 'a', 30_000)).toBe('present');
    expect(await store.get('c:2', 0)).toEqual({ seen: true });
  });

  it('unclaim removes only its own claim, never a value', async () => {
    const store = open(server.url);
    expect(await store.claim('u:1', 'mine', 30_000)).toBe('claimed');
    await store.unclaim('u:1', 'theirs');
    expect(await raw.get('mqflow:u:1')).toBe('\u0000claim:mine');
    await store.unclaim('u:1', 'mine');
    expect(await raw.exists('mqflow:u:1')).toBe(0);
    expect(await store.claim('u:1', 'theirs', 30_000)).toBe('claimed');
    await store.commit([{ key: 'u:2', value: 'v' }], 0);
    await store.unclaim('u:2', 'mine');
    expect(await store.get('u:2', 0)).toBe('v');
    // A token that is a prefix of another's is not its claim.
    expect(await store.claim('u:3', 'abc', 30_000)).toBe('claimed');
    await store.unclaim('u:3', 'ab');
    expect(await raw.get('mqflow:u:3')).toBe('\u0000claim:abc');
  });

  it('a claim expires after its lease', async () => {
    const store = open(server.url);
    expect(await store.claim('e:1', 'dead-replica', 200)).toBe('claimed');
    await eventually(async () => (await store.claim('e:1', 'next', 30_000)) === 'claimed');
    expect(await raw.get('mqflow:e:1')).toBe('\u0000claim:next');
  });

  it('a commit replaces a claim with the value, without its lease', async () => {
    const store = open(server.url);
    expect(await store.claim('w:1', 'tok', 30_000)).toBe('claimed');
    await store.commit([{ key: 'w:1', value: { done: 1 } }], 0);
    expect(await store.get('w:1', 0)).toEqual({ done: 1 });
    expect(await raw.pttl('mqflow:w:1')).toBe(-1);
    expect(await store.claim('w:1', 'other', 30_000)).toBe('present');
    // Its claimant's unclaim (a failed message's) leaves the value.
    await store.unclaim('w:1', 'tok');
    expect(await store.get('w:1', 0)).toEqual({ done: 1 });
  });
});

describe.runIf(RUN_REDIS)('redis store: authentication', () => {
  let secured: RedisServer;

  beforeAll(async () => {
    secured = await startRedis({ password: PASSWORD });
  });

  afterAll(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await secured?.stop();
  });

  it('works with the password, given as an option or in the URL', async () => {
    const store = open(secured.url, { password: PASSWORD });
    await store.commit([{ key: 'auth:1', value: 'ok' }], 0);
    expect(await store.get('auth:1', 0)).toBe('ok');
    const inUrl = open(`redis://:${PASSWORD}@127.0.0.1:${secured.port}/0`);
    expect(await inUrl.get('auth:1', 0)).toBe('ok');
    expect(inUrl.url).toBe(`redis://127.0.0.1:${secured.port}/0`);
  });

  it('a wrong password fails with the code, and neither message nor log holds a password', async () => {
    const warnings: string[] = [];
    const log = { warn: (obj: object, msg: string) => void warnings.push(JSON.stringify(obj) + msg) };
    const wrong = 'wrong-password-do-not-print';
    const store = open(secured.url, { password: wrong, timeoutMs: 500 }, log);
    const ready = await failure(store.ready());
    expect(ready.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    const error = await failure(store.get('auth:1', 0));
    expect(error.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(error.message).toContain(`127.0.0.1:${secured.port}`);
    expect(error.message).toMatch(/WRONGPASS|invalid/);
    expect(error.message).not.toContain(wrong);
    expect(await failure(store.commit([{ key: 'auth:1', value: 'no' }], 0))).toMatchObject({ code: 'MQFLOW_STATE_UNAVAILABLE' });
    expect(store.stats().errors).toBe(2);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.join('\n')).not.toContain(wrong);

    const inUrl = open(`redis://user:${wrong}@127.0.0.1:${secured.port}`, { timeoutMs: 500 }, log);
    const urlError = await failure(inUrl.get('auth:1', 0));
    expect(urlError.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(urlError.message).not.toContain(wrong);
    expect(urlError.message).not.toContain('user:');
    expect(warnings.join('\n')).not.toContain(wrong);
  });
});

describe.runIf(RUN_REDIS)('redis store: failures', () => {
  let faulty: RedisServer;

  beforeAll(async () => {
    faulty = await startRedis();
  });

  afterAll(async () => {
    faulty?.thaw();
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await faulty?.stop();
  });

  it('nothing listening: ready and commands reject with the code', async () => {
    const port = await freePort();
    const store = open(`redis://127.0.0.1:${port}`, { timeoutMs: 300 });
    expect((await failure(store.ready())).code).toBe('MQFLOW_STATE_UNAVAILABLE');
    const error = await failure(store.get('x', 0));
    expect(error.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(error.message).toContain(`redis://127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(await failure(store.claim('x', 't', 1_000))).toMatchObject({ code: 'MQFLOW_STATE_UNAVAILABLE' });
  });

  it('Redis stopped: commands reject quickly (not queued), and work again once it is back', async () => {
    const warnings: string[] = [];
    const store = open(faulty.url, { timeoutMs: 1_000 }, { warn: (_obj, msg) => void warnings.push(msg) });
    await store.ready();
    await store.commit([{ key: 'down:1', value: 1 }], 0);
    await faulty.restart({
      whileDown: async () => {
        const get = await failure(store.get('down:1', 0));
        expect(get.code).toBe('MQFLOW_STATE_UNAVAILABLE');
        expect(get.message).toContain(faulty.url);
        expect((await failure(store.commit([{ key: 'down:1', value: 2 }], 0))).code).toBe('MQFLOW_STATE_UNAVAILABLE');
        expect((await failure(store.claim('down:2', 't', 1_000))).code).toBe('MQFLOW_STATE_UNAVAILABLE');
        expect((await failure(store.unclaim('down:2', 't'))).code).toBe('MQFLOW_STATE_UNAVAILABLE');
        // Let it try to reconnect a few times: a refused connection is logged once, not per attempt.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        expect(warnings.filter((w) => w.includes('ECONNREFUSED'))).toHaveLength(1);
      },
    });
    expect(store.stats().errors).toBeGreaterThanOrEqual(4);
    // The restarted server saved nothing; the store reconnects by itself.
    await eventually(async () => {
      await store.commit([{ key: 'down:1', value: 3 }], 0);
      return true;
    });
    expect(await store.get('down:1', 0)).toBe(3);
    // The claim script is loaded again on the new server and connection.
    expect(await store.claim('down:2', 't', 30_000)).toBe('claimed');
    expect(await store.claim('down:2', 'u', 30_000)).toBe('busy');
  });

  it('Redis frozen: commands reject via the timeout, and work again once it is thawed', async () => {
    const store = open(faulty.url, { timeoutMs: 500 });
    await store.ready();
    await store.commit([{ key: 'frozen:1', value: 'before' }], 0);
    faulty.freeze();
    try {
      const get = await failure(store.get('frozen:1', 0));
      expect(get.code).toBe('MQFLOW_STATE_UNAVAILABLE');
      expect(get.message).toMatch(/timed out|not connected/);
      expect((await failure(store.commit([{ key: 'frozen:1', value: 'during' }], 0))).code).toBe('MQFLOW_STATE_UNAVAILABLE');
      expect((await failure(store.claim('frozen:2', 't', 1_000))).code).toBe('MQFLOW_STATE_UNAVAILABLE');
    } finally {
      faulty.thaw();
    }
    await eventually(async () => (await store.get('frozen:1', 0)) !== undefined);
    await store.commit([{ key: 'frozen:1', value: 'after' }], 0);
    expect(await store.get('frozen:1', 0)).toBe('after');
  });

  it('close lets operations under way settle, is idempotent, and later commands fail', async () => {
    const store = open(faulty.url);
    await store.ready();
    const commit = store.commit([{ key: 'close:1', value: 'last' }], 0);
    const get = store.get('close:1', 0);
    const closed = store.close();
    await commit;
    await get;
    await closed;
    await store.close();
    expect(await open(faulty.url).get('close:1', 0)).toBe('last');
    const error = await failure(store.get('close:1', 0));
    expect(error.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(error.message).toContain('closed');
  });

  it('close before the first connection: waiting commands and ready() fail at once', async () => {
    const port = await freePort();
    const store = open(`redis://127.0.0.1:${port}`, { timeoutMs: 60_000 });
    const get = store.get('x', 0);
    const ready = store.ready();
    await store.close();
    expect((await failure(get)).message).toContain('closed');
    expect((await failure(ready)).code).toBe('MQFLOW_STATE_UNAVAILABLE');
  });
});
