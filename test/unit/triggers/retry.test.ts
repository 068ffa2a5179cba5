/**
 * retry by failure kind (docs/flow-language.md, "retry" and "Failure kinds"; docs/architecture.md,
 * invariants 61 and 62): `retry.failures` compiles the same for triggers, endpoints and schedules;
 * a deterministic failure goes to the error route after one attempt unless `failures: all`, a
 * transient one is retried, and the error report says which kind it was.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TriggerRunner } from '../../../src/engine/trigger-runner.js';
import { MessageHost } from '../../../src/host/host.js';
import { CaptureOutput } from '../../../src/host/output.js';
import type { Delivery, OutgoingMessage, OutputTracker } from '../../../src/mqtt/message.js';
import { PublishError } from '../../../src/mqtt/publisher.js';
import { retries, retryDelay, type RetryPolicy } from '../../../src/triggers/retry.js';
import { createLog } from '../../../src/util/log.js';
import { buildMemory } from '../flow/helpers.js';

const CONNECTION = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
`;

describe('retry.failures: the option', () => {
  it('defaults to transient; all is kept; triggers, endpoints and schedules compile it alike', () => {
    const { model, text } = buildMemory({
      files: {
        'f.yaml': `${CONNECTION}listeners:
  hooks:
    port: 8080
triggers:
  plain:
    connection: plant
    topic: a
    service: s
  every-kind:
    connection: plant
    topic: b
    service: s
    retry: { maxAttempts: 3, failures: all }
endpoints:
  hook:
    listener: hooks
    path: /hook
    service: s
    retry: { maxAttempts: 2, failures: all }
schedules:
  tick:
    every: 1m
    service: s
    retry: { maxAttempts: 2 }
services:
  s:
    steps:
      - log: { message: hi }
`,
      },
    });
    expect(text).toEqual([]);
    expect(model!.triggers.get('plain')!.retry).toEqual({ maxAttempts: 1, delayMs: 1000, backoff: 'exponential', maxDelayMs: 30_000, failures: 'transient' });
    expect(model!.triggers.get('every-kind')!.retry).toMatchObject({ maxAttempts: 3, failures: 'all' });
    expect(model!.endpoints.get('hook')!.retry).toMatchObject({ maxAttempts: 2, failures: 'all' });
    expect(model!.schedules.get('tick')!.retry).toMatchObject({ maxAttempts: 2, failures: 'transient' });
  });

  it('refuses another value, saying which ones it takes', () => {
    const { text } = buildMemory({
      files: {
        'f.yaml': `${CONNECTION}triggers:
  t:
    connection: plant
    topic: a
    service: s
    retry: { maxAttempts: 3, failures: deterministic }
services:
  s:
    steps:
      - log: { message: hi }
`,
      },
    });
    expect(text.join('\n')).toMatch(/f\.yaml:\d+:\d+ error: triggers\.t\.retry\.failures must be transient or all \(got "deterministic"\)/);
  });

  it('retries(): transient always, deterministic only with failures: all', () => {
    const policy = (failures: RetryPolicy['failures']): RetryPolicy => ({ maxAttempts: 3, delayMs: 10, backoff: 'exponential', maxDelayMs: 1000, failures });
    expect(retries(policy('transient'), 'transient')).toBe(true);
    expect(retries(policy('transient'), 'deterministic')).toBe(false);
    expect(retries(policy('all'), 'transient')).toBe(true);
    expect(retries(policy('all'), 'deterministic')).toBe(true);
    expect([1, 2, 3].map((n) => retryDelay(policy('all'), n))).toEqual([10, 20, 40]);
  });
});

/** A capture whose hand-overs of topic `out` are refused (the connection down, its offline queue full). */
class RefusingOutput extends CaptureOutput {
  refused = 0;

  override send(connection: string, message: OutgoingMessage, tracker: OutputTracker): void {
    if (message.topic === 'out') {
      this.refused++;
      throw new PublishError('connection plant is down and 1 publishes already wait (offlineQueueSize)', 'MQFLOW_PUBLISH_QUEUE_FULL');
    }
    super.send(connection, message, tracker);
  }
}

interface Report {
  error: { code: string; kind: string };
  attempts: number;
}

/** Runs one message through a trigger with `retry` and an error route; resolves with its report and the attempts the service made. */
async function failOnce(retry: string, steps: string, payload: unknown): Promise<{ report: Report; attempts: number; retried: number; retryLines: Record<string, unknown>[] }> {
  const { model, text } = buildMemory({
    files: {
      'f.yaml': `${CONNECTION}triggers:
  t:
    connection: plant
    topic: in
    service: s
    retry: ${retry}
    onError:
      publish: { topic: dead }
services:
  s:
    steps:
      - publish:
          topic: attempts
${steps}
`,
    },
  });
  expect(text).toEqual([]);
  const output = new RefusingOutput(new Set(['plant']));
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const log = createLog({ level: 'warn', pretty: false, secrets: [], destination });
  const host = new MessageHost(model!, output, log);
  const runner = new TriggerRunner(model!.triggers.get('t')!, { host: () => host, log, sessionKept: false });
  await new Promise<void>((resolve) => {
    const delivery: Delivery = {
      topic: 'in',
      payload: Buffer.from(JSON.stringify(payload)),
      qos: 1,
      retain: false,
      dup: false,
      messageId: 1,
      properties: undefined,
      receivedAt: Date.now(),
      complete: () => resolve(),
      abandon: () => resolve(),
      connectionLost: false,
    };
    runner.onDelivery(delivery);
  });
  const on = (topic: string): string[] => output.sent.filter((s) => s.message.topic === topic).map((s) => s.message.payload.toString());
  expect(on('dead')).toHaveLength(1);
  return {
    report: JSON.parse(on('dead')[0]!) as Report,
    attempts: on('attempts').length,
    retried: runner.counters.retried,
    retryLines: lines.filter((l) => l.event === 'retry'),
  };
}

const VALIDATE = `      - validate:
          schema: { type: object, required: [temp] }`;
const REFUSED = `      - publish:
          topic: out`;

describe('retry by failure kind (invariants 61 and 62)', () => {
  it('a schema failure with maxAttempts 3 goes to the error route after one attempt, reported deterministic', async () => {
    const { report, attempts, retried } = await failOnce('{ maxAttempts: 3, delay: 5ms }', VALIDATE, { hum: 40 });
    expect(attempts).toBe(1);
    expect(retried).toBe(0);
    expect(report).toMatchObject({ attempts: 1, error: { code: 'MQFLOW_VALIDATE', kind: 'deterministic' } });
  });

  it('an expression type error is deterministic too', async () => {
    const { report, attempts } = await failOnce('{ maxAttempts: 3, delay: 5ms }', "      - transform: 'temp + \"x\"'", { temp: 1 });
    expect(attempts).toBe(1);
    expect(report).toMatchObject({ attempts: 1, error: { code: 'T2002', kind: 'deterministic' } });
  });

  it('a transient failure (the offline queue full) is retried maxAttempts times, each retry logged with its kind', async () => {
    const { report, attempts, retried, retryLines } = await failOnce('{ maxAttempts: 3, delay: 5ms }', REFUSED, { temp: 1 });
    expect(attempts).toBe(3);
    expect(retried).toBe(2);
    expect(report).toMatchObject({ attempts: 3, error: { code: 'MQFLOW_PUBLISH_QUEUE_FULL', kind: 'transient' } });
    expect(retryLines.map((l) => [l.attempt, l.code, l.kind])).toEqual([
      [1, 'MQFLOW_PUBLISH_QUEUE_FULL', 'transient'],
      [2, 'MQFLOW_PUBLISH_QUEUE_FULL', 'transient'],
    ]);
  });

  it('with failures: all the schema failure is retried too', async () => {
    const { report, attempts, retried, retryLines } = await failOnce('{ maxAttempts: 3, delay: 5ms, failures: all }', VALIDATE, { hum: 40 });
    expect(attempts).toBe(3);
    expect(retried).toBe(2);
    expect(report).toMatchObject({ attempts: 3, error: { code: 'MQFLOW_VALIDATE', kind: 'deterministic' } });
    expect(retryLines.map((l) => l.kind)).toEqual(['deterministic', 'deterministic']);
  });

  it('without attempts to spare nothing is retried, whatever the kind', async () => {
    const { report, attempts } = await failOnce('{ maxAttempts: 1, failures: all }', REFUSED, { temp: 1 });
    expect(attempts).toBe(1);
    expect(report).toMatchObject({ attempts: 1, error: { kind: 'transient' } });
  });
});
