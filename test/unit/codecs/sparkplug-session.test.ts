/**
 * The Sparkplug session's bounds (invariant 56, and "no single input may exhaust memory"): edge
 * nodes are topics the sender chooses, so the nodes kept in memory and the rebirth requests sent
 * are bounded whatever arrives. Over a memory store (its tables stay there when a node is forgotten).
 */
import { describe, expect, it } from 'vitest';
import { SparkplugSession, type SparkplugHooks, type SparkplugSettings } from '../../../src/codecs/sparkplug/session.js';
import { writePayload } from '../../../src/codecs/sparkplug/payload.js';
import { MemoryStore } from '../../../src/state/memory-store.js';
import { OpenStore } from '../../../src/state/open-store.js';

const SETTINGS: SparkplugSettings = { store: 'memory', rebirthMs: 30_000, sequence: 'check' };
const store = (): OpenStore => new OpenStore('memory', new MemoryStore(100_000), { maxKeyBytes: 1024, maxValueBytes: 1 << 20, lockTimeoutMs: 5_000, claimLeaseMs: 5_000 });

function recorder(): SparkplugHooks & { rebirths: string[] } {
  const rebirths: string[] = [];
  return { rebirths, report: () => undefined, rebirth: (topic) => void rebirths.push(topic) };
}

describe('Sparkplug session bounds', () => {
  it('sends at most maxRebirthsPerSecond rebirth requests a second, however many edge nodes need one', async () => {
    const session = new SparkplugSession(store(), { maxEdgeNodes: 1_000, maxRebirthsPerSecond: 10 });
    const hooks = recorder();
    const data = writePayload({ seq: 3, metrics: [{ alias: 1, datatype: 'Boolean', value: true }] }, {});
    const now = 1_700_000_000_000;
    for (let i = 0; i < 50; i++) await session.decode(data, `spBv1.0/g/NDATA/node-${i}`, SETTINGS, hooks, now);
    expect(hooks.rebirths).toHaveLength(10);
    // The next second, the nodes not asked yet get their turn.
    for (let i = 10; i < 50; i++) await session.decode(data, `spBv1.0/g/NDATA/node-${i}`, SETTINGS, hooks, now + 1_000);
    expect(hooks.rebirths).toHaveLength(20);
    expect(hooks.rebirths[10]).toBe('spBv1.0/g/NCMD/node-10');
  });

  it('keeps at most maxEdgeNodes edge nodes in memory; a forgotten one is read back from the store', async () => {
    const session = new SparkplugSession(store(), { maxEdgeNodes: 100, maxRebirthsPerSecond: 100 });
    const hooks = recorder();
    const birth = writePayload({ seq: 0, metrics: [{ name: 'Temperature', alias: 1, datatype: 'Double', value: 1 }] }, {});
    await session.decode(birth, 'spBv1.0/g/NBIRTH/first', SETTINGS, hooks, 0);
    const data = writePayload({ seq: 1, metrics: [{ alias: 1, datatype: 'Double', value: 2 }] }, {});
    for (let i = 0; i < 500; i++) await session.decode(data, `spBv1.0/g/NDATA/flood-${i}`, SETTINGS, hooks, 0);
    expect(session.nodes).toBe(100);
    const again = (await session.decode(data, 'spBv1.0/g/NDATA/first', SETTINGS, hooks, 0)) as { metrics: { name?: string }[] };
    expect(again.metrics[0]!.name).toBe('Temperature');
  });
});
