import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AckWindow, type WindowEntry } from '../../../src/mqtt/ack-window.js';

/** Appends an entry for message `messageId`, acknowledged with `qos`, as the subscriber does for a received message. */
function add(window: AckWindow, messageId: number, qos: 0 | 1 | 2): WindowEntry {
  const entry: WindowEntry = { messageId, ackQos: qos, done: false };
  window.push(entry);
  return entry;
}

describe('ack window', () => {
  it('acknowledges in arrival order, whatever order processing ends in', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<0 | 1 | 2>(0, 1, 2), { minLength: 1, maxLength: 40 }).chain((qos) =>
        fc.tuple(fc.constant(qos), fc.shuffledSubarray(qos.map((_, i) => i), { minLength: qos.length, maxLength: qos.length }))), ([qos, order]) => {
        const sent: number[] = [];
        const window = new AckWindow((e) => sent.push(e.messageId!));
        const entries = qos.map((q, i) => add(window, i + 1, q));
        for (const i of order) {
          window.complete(entries[i]!);
          // Never an ack for a message whose predecessors are not all done.
          const firstOpen = entries.findIndex((e) => !e.done);
          const due = qos.slice(0, firstOpen === -1 ? qos.length : firstOpen).map((q, j) => (q > 0 ? j + 1 : -1)).filter((id) => id > 0);
          expect(sent).toEqual(due);
        }
        expect(window.size).toBe(0);
      }),
    );
  });

  it('sends nothing once its connection is closed', () => {
    const sent: number[] = [];
    const window = new AckWindow((e) => sent.push(e.messageId!));
    const a = add(window, 1, 1);
    const b = add(window, 2, 1);
    window.complete(b);
    window.close();
    window.complete(a);
    expect(sent).toEqual([]);
    expect(window.closed).toBe(true);
  });

  it('stays small over a long run', () => {
    const window = new AckWindow(() => undefined);
    for (let i = 0; i < 100_000; i++) window.complete(add(window, i % 65_535 + 1, 1));
    expect(window.size).toBe(0);
  });
});
