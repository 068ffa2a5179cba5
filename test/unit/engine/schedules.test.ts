/** Schedule ticks (docs/flow-language.md, "Schedules"): every aligned to the epoch, cron in its time zone, missed ticks bounded. */
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { nextTick, RunningSchedule, ticksBetween } from '../../../src/engine/schedules.js';
import { MessageHost } from '../../../src/host/host.js';
import { CaptureOutput } from '../../../src/host/output.js';
import { ManualClock } from '../../../src/state/clock.js';
import { createLog } from '../../../src/util/log.js';
import { buildMemory } from '../flow/helpers.js';
import { cronProblem } from '../../../src/schedules/schedule-options.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('ticks', () => {
  it('every: multiples of the interval since the epoch, strictly after the given time', () => {
    const every = { timing: { kind: 'every', everyMs: 30_000 } } as const;
    expect(iso(nextTick(every, at('2026-01-01T00:00:10Z')))).toBe('2026-01-01T00:00:30.000Z');
    expect(iso(nextTick(every, at('2026-01-01T00:00:30Z')))).toBe('2026-01-01T00:01:00.000Z');
  });

  it('cron: in its time zone, daylight saving time included', () => {
    const berlin = { timing: { kind: 'cron', cron: '0 0 6 * * MON-FRI', timezone: 'Europe/Berlin' } } as const;
    // Friday 2026-03-27 06:00 CET is 05:00Z; the next is Monday 2026-03-30 06:00 CEST, 04:00Z.
    expect(iso(nextTick(berlin, at('2026-03-27T00:00:00Z')))).toBe('2026-03-27T05:00:00.000Z');
    expect(iso(nextTick(berlin, at('2026-03-27T05:00:00Z')))).toBe('2026-03-30T04:00:00.000Z');
  });

  it('missed ticks: those after the last fire up to now, the latest ones when over the limit', () => {
    const every = { timing: { kind: 'every', everyMs: 1_000 } } as const;
    expect(ticksBetween(every, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:03.500Z'), 10).map(iso)).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z']);
    expect(ticksBetween(every, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:03.500Z'), 1).map(iso)).toEqual(['2026-01-01T00:00:03.000Z']);
    expect(ticksBetween(every, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:00.500Z'), 10)).toEqual([]);
  });
});

describe('cron checks', () => {
  it('accepts 5 and 6 fields in a real zone, and says what is wrong otherwise', () => {
    expect(cronProblem('*/5 * * * *', 'UTC')).toBeUndefined();
    expect(cronProblem('0 */5 * * * *', 'America/New_York')).toBeUndefined();
    expect(cronProblem('* * * *', 'UTC')?.message).toContain('not 4');
    expect(cronProblem('0 0 0 * * * 2030', 'UTC')?.message).toContain('not 7');
    expect(cronProblem('61 * * * * *', 'UTC')?.message).toContain('61');
    expect(cronProblem('0 0 31 2 *', 'UTC')).toMatchObject({ field: 'cron', message: 'it never fires' });
    expect(cronProblem('0 * * * *', 'Mars/Olympus')).toMatchObject({ field: 'timezone' });
  });
});

describe('a running schedule', () => {
  it('fires each tick after its jitter, with the tick and the fire time in $message.schedule', async () => {
    const model = buildMemory({
      files: {
        'flow.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
schedules:
  beat:
    every: 10s
    jitter: 2s
    expression: $message.schedule
    service: beat
services:
  beat:
    steps:
      - publish:
          topic: beats
`,
      },
    }).model!;
    const output = new CaptureOutput(new Set(['plant']));
    const log = createLog({ level: 'error', pretty: false, secrets: [], destination: new Writable({ write: (_c, _e, done) => done() }) });
    const host = new MessageHost(model, output, log);
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:01Z'));
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      const running = new RunningSchedule(model.schedules.get('beat')!, { host: () => host, log, clock, store: () => undefined, instance: 'test' });
      await running.start();
      await clock.advanceTo(Date.parse('2026-01-01T00:00:25Z'));
      await new Promise((r) => setImmediate(r));
      running.stop();
      const fired = output.sent.map((s) => JSON.parse(s.message.payload.toString()) as { scheduledAt: string; firedAt: string; missed: boolean });
      // Ticks at :10 and :20, each fired 1 s (half the 2 s jitter) after it.
      expect(fired).toEqual([
        { name: 'beat', scheduledAt: '2026-01-01T00:00:10.000Z', firedAt: '2026-01-01T00:00:11.000Z', missed: false },
        { name: 'beat', scheduledAt: '2026-01-01T00:00:20.000Z', firedAt: '2026-01-01T00:00:21.000Z', missed: false },
      ]);
      expect(running.counters).toMatchObject({ fired: 2, overrun: 0 });
    } finally {
      random.mockRestore();
    }
  });
});

describe('a schedule whose fires do not finish', () => {
  it('skips the ticks beyond queueSize and counts them', async () => {
    const model = buildMemory({
      files: {
        'flow.yaml': `schedules:
  poll:
    every: 1s
    queueSize: 2
    service: poll
services:
  poll:
    steps:
      - http:
          url: http://127.0.0.1:9/never
`,
      },
    }).model!;
    const log = createLog({ level: 'error', pretty: false, secrets: [], destination: new Writable({ write: (_c, _e, done) => done() }) });
    // An API that never answers: each fire stays in flight.
    const host = new MessageHost(model, new CaptureOutput(new Set()), log, { http: { request: () => new Promise(() => undefined) } });
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00.500Z'));
    const running = new RunningSchedule(model.schedules.get('poll')!, { host: () => host, log, clock, store: () => undefined, instance: 'test' });
    await running.start();
    await clock.advanceTo(Date.parse('2026-01-01T00:00:05.600Z'));
    running.stop();
    // One fire runs, one waits (queueSize 2): the other three ticks are skipped.
    expect(running.counters).toMatchObject({ fired: 2, overrun: 3 });
    expect(running.runner.inFlight + running.runner.queueDepth).toBe(2);
  });
});
