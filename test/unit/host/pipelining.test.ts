/**
 * Ordered pipelining, late failures and lost connections (docs/architecture.md, invariants 22, 23
 * and 33), on the trigger runner and the message host with an output whose acknowledgements the
 * test gives by hand.
 */
import { describe, expect, it } from 'vitest';
import { TriggerRunner } from '../../../src/engine/trigger-runner.js';
import { MessageHost } from '../../../src/host/host.js';
import type { Output } from '../../../src/host/output.js';
import type { Delivery, OutgoingMessage, OutputTracker } from '../../../src/mqtt/message.js';
import { PublishError } from '../../../src/mqtt/publisher.js';
import { createLog } from '../../../src/util/log.js';
import { buildMemory } from '../flow/helpers.js';

/** Hands are recorded; each settles only when the test says so. */
class HandOutput implements Output {
  readonly handed: { topic: string; payload: string; settle: (error?: Error) => void }[] = [];
  /** Topics whose next hand-over is refused (as a full offline queue would). */
  readonly refuse = new Set<string>();

  request(): Promise<never> {
    return Promise.reject(new Error('no requests here'));
  }

  send(_connection: string, message: OutgoingMessage, tracker: OutputTracker): void {
    if (this.refuse.delete(message.topic)) throw new PublishError('connection plant is down and 1 publishes already wait (offlineQueueSize)', 'MQFLOW_PUBLISH_QUEUE_FULL');
    tracker.outputHanded();
    let settled = false;
    this.handed.push({
      topic: message.topic,
      payload: message.payload.toString(),
      settle: (error) => {
        if (settled) return;
        settled = true;
        tracker.outputSettled(error);
      },
    });
  }

  on(topic: string): { topic: string; payload: string; settle: (error?: Error) => void }[] {
    return this.handed.filter((h) => h.topic === topic);
  }
}

interface DeliveryState {
  done: boolean;
  abandoned: boolean;
  /** Its connection is gone (what the subscriber says once the network connection closed). */
  lost: boolean;
}

function setup(trigger: string, sessionKept = false): { runner: TriggerRunner; output: HandOutput; deliver: (seq: number, qos?: 0 | 1) => DeliveryState } {
  const { model, text } = buildMemory({
    files: {
      'f.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  t:
    connection: plant
    topic: in
    service: s
${trigger}
services:
  s:
    steps:
      - publish:
          topic: out
          payload: '{ "seq": seq }'
`,
    },
  });
  expect(text).toEqual([]);
  const output = new HandOutput();
  const log = createLog({ level: 'silent', pretty: false, secrets: [] });
  const host = new MessageHost(model!, output, log);
  const runner = new TriggerRunner(model!.triggers.get('t')!, { host: () => host, log, sessionKept });
  const deliver = (seq: number, qos: 0 | 1 = 1): DeliveryState => {
    const state = { done: false, abandoned: false, lost: false };
    const delivery: Delivery = {
      topic: 'in',
      payload: Buffer.from(JSON.stringify({ seq })),
      qos,
      retain: false,
      dup: false,
      messageId: seq + 1,
      properties: undefined,
      receivedAt: Date.now(),
      complete: () => (state.done = true),
      abandon: () => (state.abandoned = true),
      get connectionLost() {
        return state.lost;
      },
    };
    runner.onDelivery(delivery);
    return state;
  };
  return { runner, output, deliver };
}

const seqs = (output: HandOutput, topic = 'out'): number[] => output.on(topic).map((h) => (JSON.parse(h.payload) as { seq: number }).seq);
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ordered pipelining (invariant 22)', () => {
  it('a serial trigger starts message N+1 once N handed its publish, before N is acknowledged; each is done when its own output is', () => {
    const { runner, output, deliver } = setup('');
    const messages = [0, 1, 2].map((seq) => deliver(seq));
    // All three were processed and handed their outputs, in order, though none is acknowledged yet.
    expect(seqs(output)).toEqual([0, 1, 2]);
    expect(messages.map((m) => m.done)).toEqual([false, false, false]);
    expect(runner.inFlight).toBe(3);
    output.handed[1]!.settle();
    expect(messages.map((m) => m.done)).toEqual([false, true, false]); // the ack window (not this runner) keeps acks in order
    output.handed[0]!.settle();
    output.handed[2]!.settle();
    expect(messages.map((m) => m.done)).toEqual([true, true, true]);
    expect(runner.counters).toMatchObject({ received: 3, processed: 3, failed: 0 });
  });

  it('a message whose publish is refused at hand-over is retried before the next one starts', async () => {
    const { runner, output, deliver } = setup('    retry: { maxAttempts: 2, delay: 10ms }');
    output.refuse.add('out');
    const first = deliver(0);
    const second = deliver(1);
    expect(seqs(output)).toEqual([]); // message 0 waits for its retry; message 1 waits for message 0
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seqs(output)).toEqual([0, 1]);
    for (const h of output.handed) h.settle();
    expect([first.done, second.done]).toEqual([true, true]);
    expect(runner.counters).toMatchObject({ processed: 2, retried: 1, failed: 0 });
  });
});

describe('late output failures (invariant 23)', () => {
  it('fails only that message, without a retry, into its error route; later messages carry on and nothing is published again', async () => {
    const { runner, output, deliver } = setup('    retry: { maxAttempts: 3, delay: 10ms }\n    onError:\n      publish: { topic: dead }');
    const messages = [0, 1, 2].map((seq) => deliver(seq));
    expect(seqs(output)).toEqual([0, 1, 2]);
    output.handed[0]!.settle(new PublishError('publish to out failed: the broker refused it', 'MQFLOW_PUBLISH_FAILED'));
    output.handed[1]!.settle();
    output.handed[2]!.settle();
    await tick();
    // Message 0's report went to the dead-letter topic; message 0 is done once that is acknowledged.
    expect(output.on('dead')).toHaveLength(1);
    expect(JSON.parse(output.on('dead')[0]!.payload)).toMatchObject({ error: { code: 'MQFLOW_PUBLISH_FAILED' }, attempts: 1, message: { payload: { seq: 0 } } });
    expect(messages.map((m) => m.done)).toEqual([false, true, true]);
    output.on('dead')[0]!.settle();
    await tick();
    expect(messages.map((m) => m.done)).toEqual([true, true, true]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seqs(output)).toEqual([0, 1, 2]); // no retry published anything again
    expect(runner.counters).toMatchObject({ received: 3, processed: 2, failed: 1, retried: 0, routed: 1 });
  });

  it('without an error route the failed message is logged and done (acknowledged), as any failure', async () => {
    const { runner, output, deliver } = setup('');
    const message = deliver(0);
    output.handed[0]!.settle(new PublishError('publish to out failed', 'MQFLOW_PUBLISH_FAILED'));
    await tick();
    expect(message.done).toBe(true);
    expect(runner.counters).toMatchObject({ processed: 0, failed: 1 });
  });
});

describe('a lost connection (invariant 33)', () => {
  // Message 0's first hand-over is refused, so it waits 20 ms for its retry: the ones behind it queue.
  const trigger = '    retry: { maxAttempts: 2, delay: 20ms }';

  it('with a kept session: its queued messages are dropped unacknowledged (the broker redelivers them); the running one finishes; a later connection\'s stay', async () => {
    const { runner, output, deliver } = setup(trigger, true);
    output.refuse.add('out');
    const old = [0, 1, 2].map((seq) => deliver(seq));
    for (const m of old) m.lost = true;
    const fresh = deliver(3);
    expect(runner.queueDepth).toBe(3);
    runner.onConnectionLost();
    expect(old.map((m) => m.abandoned)).toEqual([false, true, true]);
    expect(fresh.abandoned).toBe(false);
    expect(runner.queueDepth).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(seqs(output)).toEqual([0, 3]); // the running one, then the later connection's: never 1 and 2
    for (const h of output.handed) h.settle();
    expect([old[0]!.done, fresh.done]).toEqual([true, true]);
    expect(runner.inFlight + runner.queueDepth).toBe(0);
  });

  it('QoS 0 messages, and every message without a kept session, are processed: nothing would come again', async () => {
    for (const [sessionKept, qos] of [
      [true, 0],
      [false, 1],
    ] as const) {
      const { runner, output, deliver } = setup(trigger, sessionKept);
      output.refuse.add('out');
      const old = [0, 1, 2].map((seq) => deliver(seq, qos));
      for (const m of old) m.lost = true;
      runner.onConnectionLost();
      expect(old.map((m) => m.abandoned)).toEqual([false, false, false]);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(seqs(output)).toEqual([0, 1, 2]);
    }
  });
});
