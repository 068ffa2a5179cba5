/**
 * The window runtime on its own (docs/architecture.md, invariant 43): a window closed early
 * (shutdown, a reload) says so in its end; one closed on time has its nominal end.
 */
import { describe, expect, it } from 'vitest';
import { WindowRuntime } from '../../../src/host/windows.js';
import { ManualClock } from '../../../src/state/clock.js';
import { createLog } from '../../../src/util/log.js';
import type { WindowSettings } from '../../../src/windows/window-options.js';

const settings: WindowSettings = { shape: { kind: 'tumbling', everyMs: 60_000 }, aggregates: [], latenessMs: 0, late: 'drop', maxOpen: 3, steps: [] };
const start = Date.parse('2026-01-01T00:00:00Z');

function runtime(clock: ManualClock): { window: WindowRuntime; emitted: Record<string, unknown>[] } {
  const emitted: Record<string, unknown>[] = [];
  const log = createLog({ level: 'silent', pretty: false, secrets: [] });
  const window = new WindowRuntime('w', settings, 'f', (payload) => (emitted.push(payload as Record<string, unknown>), Promise.resolve()), 'c', clock, log);
  return { window, emitted };
}

describe('WindowRuntime', () => {
  it('a window closed on time has its nominal end', async () => {
    const clock = new ManualClock(start + 10_000);
    const { window, emitted } = runtime(clock);
    window.add('*', 1, [], undefined);
    await clock.advanceTo(start + 60_000);
    await new Promise((r) => setImmediate(r));
    expect(emitted).toEqual([expect.objectContaining({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:01:00.000Z', count: 1, values: [1] })]);
  });

  it('a window closed early ends when it closed, so a consumer can tell it from a whole one', async () => {
    const clock = new ManualClock(start + 10_000);
    const { window, emitted } = runtime(clock);
    window.add('*', 1, [], undefined);
    await clock.advanceTo(start + 25_000);
    await window.close();
    expect(emitted).toEqual([expect.objectContaining({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:25.000Z', count: 1 })]);
    // From then on a window closes as soon as a value went into it.
    window.add('*', 2, [], undefined);
    await new Promise((r) => setImmediate(r));
    expect(emitted).toHaveLength(2);
  });

  it('opens at most maxOpen windows: a flood of new keys is refused, known keys go on', () => {
    const { window } = runtime(new ManualClock(start));
    expect(['a', 'b', 'c'].map((k) => window.add(k, 1, [], undefined))).toEqual(['added', 'added', 'added']);
    expect(window.add('d', 1, [], undefined)).toBe('full');
    expect(window.add('a', 2, [], undefined)).toBe('added');
    expect(window.counters.open).toBe(3);
  });
});
