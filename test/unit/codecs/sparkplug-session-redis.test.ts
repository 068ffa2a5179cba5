/**
 * Sparkplug alias tables shared by replicas through a real redis-server (invariant 55): what one
 * replica's session learnt from a BIRTH, another replica's session (its own store client, as another
 * process has) reads when it meets the edge node; a rebirth with new aliases reaches it the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sparkplugSession, type SparkplugHooks, type SparkplugSettings } from '../../../src/codecs/sparkplug/session.js';
import { writePayload } from '../../../src/codecs/sparkplug/payload.js';
import { OpenStore } from '../../../src/state/open-store.js';
import { openRedisStore, type RedisStore } from '../../../src/state/redis-store.js';
import { RUN_REDIS, startRedis, type RedisServer } from '../../support/redis.js';

const LIMITS = { maxKeyBytes: 1024, maxValueBytes: 1 << 20, lockTimeoutMs: 5_000, claimLeaseMs: 5_000 };
const SETTINGS: SparkplugSettings = { store: 'shared', rebirthMs: 30_000, sequence: 'ignore' };

let server: RedisServer;
const stores: RedisStore[] = [];

async function replica(): Promise<OpenStore> {
  const store = openRedisStore({ url: server.url, keyPrefix: 'mqflow:', timeoutMs: 2_000 });
  stores.push(store);
  await store.ready();
  return new OpenStore('shared', store, LIMITS);
}

function recorder(): SparkplugHooks & { events: string[]; rebirths: string[] } {
  const events: string[] = [];
  const rebirths: string[] = [];
  return { events, rebirths, report: (event) => void events.push(event), rebirth: (topic) => void rebirths.push(topic) };
}

const names = (decoded: unknown): unknown[] => (decoded as { metrics: { name?: string; alias?: number }[] }).metrics.map((m) => m.name ?? `alias ${m.alias}`);

beforeAll(async () => {
  if (RUN_REDIS) server = await startRedis();
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.stop();
});

describe.runIf(RUN_REDIS)('Sparkplug sessions of two replicas over one Redis', () => {
  it('a replica resolves aliases from a BIRTH only the other replica received, and a rebirth replaces them', async () => {
    const [a, b] = [await replica(), await replica()];
    const hooksA = recorder();
    const hooksB = recorder();
    const birth = (aliases: [string, number][]) =>
      writePayload({ seq: 0, metrics: [{ name: 'bdSeq', datatype: 'UInt64', value: 1 }, ...aliases.map(([name, alias]) => ({ name, alias, datatype: 'Double', value: 0 }))] }, {});
    const data = writePayload({ seq: 1, metrics: [{ alias: 1, datatype: 'Double', value: 20.5 }, { alias: 2, datatype: 'Double', value: 3 }] }, {});

    await sparkplugSession(a).decode(birth([['Temperature', 1], ['Pressure', 2]]), 'spBv1.0/plant/NBIRTH/line-1', SETTINGS, hooksA, Date.now());
    const seenByB = await sparkplugSession(b).decode(data, 'spBv1.0/plant/NDATA/line-1', SETTINGS, hooksB, Date.now());
    expect(names(seenByB)).toEqual(['Temperature', 'Pressure']);
    expect(hooksB.events).toEqual([]);
    expect(hooksB.rebirths).toEqual([]);

    // The edge node is reborn with its aliases swapped; B received that BIRTH too (docs/sparkplug.md, "Replicas").
    await sparkplugSession(a).decode(birth([['Pressure', 1], ['Temperature', 2]]), 'spBv1.0/plant/NBIRTH/line-1', SETTINGS, hooksA, Date.now());
    await sparkplugSession(b).decode(birth([['Pressure', 1], ['Temperature', 2]]), 'spBv1.0/plant/NBIRTH/line-1', SETTINGS, hooksB, Date.now());
    expect(names(await sparkplugSession(b).decode(data, 'spBv1.0/plant/NDATA/line-1', SETTINGS, hooksB, Date.now()))).toEqual(['Pressure', 'Temperature']);

    // A third replica, started later, reads the current table.
    const c = await replica();
    const hooksC = recorder();
    expect(names(await sparkplugSession(c).decode(data, 'spBv1.0/plant/NDATA/line-1', SETTINGS, hooksC, Date.now()))).toEqual(['Pressure', 'Temperature']);
    expect(hooksC.events).toEqual([]);
  });

  it('an edge node no replica saw a BIRTH of is reported once per interval, its aliases passed on unnamed', async () => {
    const b = await replica();
    const hooks = recorder();
    const data = writePayload({ seq: 4, metrics: [{ alias: 9, datatype: 'Boolean', value: true }] }, {});
    const now = Date.now();
    const first = await sparkplugSession(b).decode(data, 'spBv1.0/plant/NDATA/line-9', SETTINGS, hooks, now);
    await sparkplugSession(b).decode(data, 'spBv1.0/plant/NDATA/line-9', SETTINGS, hooks, now + 1_000);
    expect(names(first)).toEqual(['alias 9']);
    expect(hooks.events).toEqual(['data_before_birth', 'rebirth_requested', 'data_before_birth']);
    expect(hooks.rebirths).toEqual(['spBv1.0/plant/NCMD/line-9']);
  });
});
