/**
 * A message's state (docs/architecture.md, invariants 35-36): staged writes are seen by their
 * message only and take effect at commit; abort drops them; a key is held by one message at a time
 * and passes to the waiting ones in arrival order; a wait is bounded.
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/state/clock.js';
import { MemoryStore } from '../../../src/state/memory-store.js';
import { MessageState, type StateEnvironment } from '../../../src/state/message-state.js';
import { OpenStore } from '../../../src/state/open-store.js';

function environment(lockTimeoutMs = 30_000): { env: StateEnvironment; store: OpenStore } {
  const store = new OpenStore('memory', new MemoryStore(100), { maxKeyBytes: 16, maxValueBytes: 64, lockTimeoutMs, claimLeaseMs: 30_000 });
  return { env: { store: (name) => (name === 'memory' ? store : undefined), clock: systemClock }, store };
}

describe('MessageState', () => {
  it('stages writes: its own message reads them, others do not until the commit', async () => {
    const { env, store } = environment();
    const a = new MessageState(env);
    const b = new MessageState(env);
    a.write(store, 'ns:k', 1, undefined);
    expect(a.read(store, 'ns:k')).toBe(1);
    expect(b.read(store, 'ns:k')).toBeUndefined();
    await a.commit();
    expect(b.read(store, 'ns:k')).toBe(1);
  });

  it('an aborted message changes nothing, and a retry (discard) starts from the committed state', () => {
    const { env, store } = environment();
    const a = new MessageState(env);
    a.write(store, 'ns:k', 1, undefined);
    a.discard();
    expect(a.read(store, 'ns:k')).toBeUndefined();
    a.write(store, 'ns:k', 2, undefined);
    a.abort();
    expect(new MessageState(env).read(store, 'ns:k')).toBeUndefined();
  });

  it('holds a key for one message at a time; waiters get it in arrival order when it is done', async () => {
    const { env, store } = environment();
    const [a, b, c] = [new MessageState(env), new MessageState(env), new MessageState(env)];
    expect(a.hold(store, 'ns:k')).toBeUndefined();
    expect(a.hold(store, 'ns:k')).toBeUndefined();
    const order: string[] = [];
    const bHeld = (b.hold(store, 'ns:k') as Promise<void>).then(() => order.push('b'));
    const cHeld = (c.hold(store, 'ns:k') as Promise<void>).then(() => order.push('c'));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    await a.commit();
    await bHeld;
    expect(order).toEqual(['b']);
    b.abort();
    await cHeld;
    expect(order).toEqual(['b', 'c']);
    await c.commit();
    expect(store.locks.held).toBe(0);
  });

  it('a wait for a key is bounded: MQFLOW_STATE_BUSY', async () => {
    const { env, store } = environment(50);
    const a = new MessageState(env);
    void a.hold(store, 'ns:k');
    await expect(new MessageState(env).hold(store, 'ns:k')).rejects.toMatchObject({ code: 'MQFLOW_STATE_BUSY' });
    a.abort();
  });

  it('refuses keys and values over their limits, and values that are not JSON data', () => {
    const { env, store } = environment();
    expect(() => store.key('ns', 'x'.repeat(17))).toThrow(expect.objectContaining({ code: 'MQFLOW_STATE_LIMIT' }));
    expect(() => store.key('ns', 'é'.repeat(9))).toThrow(expect.objectContaining({ code: 'MQFLOW_STATE_LIMIT' }));
    expect(() => store.key('ns', undefined)).toThrow(expect.objectContaining({ code: 'MQFLOW_STATE_VALUE' }));
    expect(store.key('ns', 42)).toBe('ns:42');
    const state = new MessageState(env);
    expect(() => state.write(store, 'ns:k', 'v'.repeat(70), undefined)).toThrow(expect.objectContaining({ code: 'MQFLOW_STATE_LIMIT' }));
    expect(() => state.write(store, 'ns:k', () => 1, undefined)).toThrow(expect.objectContaining({ code: 'MQFLOW_STATE_VALUE' }));
  });

  it('a memory store stays within maxEntries under a flood of distinct keys, evicting the least recently used', () => {
    const memory = new MemoryStore(100);
    for (let i = 0; i < 10_000; i++) {
      memory.commit([{ key: `k${i}`, value: i }], 0);
      if (i % 10 === 0) memory.get('k0', 0);
    }
    expect(memory.stats().entries).toBe(100);
    expect(memory.stats().evictions).toBe(9_900);
    expect(memory.get('k0', 0)).toBe(0);
    expect(memory.get('k9999', 0)).toBe(9_999);
  });
});

describe('MessageState claims (shared stores)', () => {
  it('a retry of the message that claimed a key finds its own claim, not a busy key', async () => {
    const claims = new Map<string, string>();
    const shared = new MemoryStore(100);
    // A shared store as the Redis store behaves: SET NX of a claim marker, busy while another token holds it.
    const store = new OpenStore('shared', Object.assign(shared, {
      shared: true,
      claim: (key: string, token: string) => {
        const holder = claims.get(key);
        if (holder === undefined) claims.set(key, token);
        return Promise.resolve(holder === undefined ? ('claimed' as const) : ('busy' as const));
      },
      unclaim: (key: string, token: string) => {
        if (claims.get(key) === token) claims.delete(key);
        return Promise.resolve();
      },
    }), { maxKeyBytes: 64, maxValueBytes: 64, lockTimeoutMs: 100, claimLeaseMs: 30_000 });
    const env: StateEnvironment = { store: () => store, clock: systemClock };
    const first = new MessageState(env);
    expect(await first.claim(store, 'ns:id')).toBe('claimed');
    first.discard();
    expect(await first.claim(store, 'ns:id')).toBe('claimed');
    await expect(new MessageState(env).claim(store, 'ns:id')).rejects.toMatchObject({ code: 'MQFLOW_STATE_BUSY' });
    first.abort();
    await new Promise((r) => setImmediate(r));
    expect(claims.size).toBe(0);
  });
});
