/**
 * Runs one flow test case with the production pieces — the compiled model, its pipelines, the
 * trigger runner (decoding, retries, error routes) — but with publishes and logs captured in
 * memory: no network, no broker.
 */
import { Writable } from 'node:stream';
import { createLog } from '../engine/log.js';
import { TriggerRunner } from '../engine/trigger-runner.js';
import type { FlowModel } from '../flow/model.js';
import type { Delivery } from '../mqtt/subscriber.js';
import { Execution, MessageFailure, type Effects, type MessageContext, type PublishRequest } from '../pipeline/execution.js';
import { Pipeline } from '../pipeline/run-service.js';
import type { TestCase, TestMessage } from './test-file.js';

export interface CapturedPublish {
  readonly connection: string;
  readonly topic: string;
  /** The payload as sent: its text (UTF-8) and, when it parses, its JSON value. */
  readonly text: string;
  readonly json?: unknown;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

export interface Observed {
  readonly published: CapturedPublish[];
  /** Message failures after retries, in order: what the error route received. */
  readonly failures: { readonly code: string; readonly reason: string }[];
  readonly logs: { readonly level: string; readonly text: string }[];
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export async function runCase(model: FlowModel, testCase: TestCase): Promise<Observed> {
  const observed: Observed = { published: [], failures: [], logs: [] };
  const capture = (request: PublishRequest, connection: string): Promise<void> => {
    const text = typeof request.payload === 'string' ? request.payload : request.payload.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = undefined;
    }
    observed.published.push({ connection: request.connection ?? connection, topic: request.topic, text, ...(json === undefined ? {} : { json }), qos: request.qos, retain: request.retain });
    return Promise.resolve();
  };
  const effects: Effects = {
    publish: (request, from) => capture(request, from.message.connection),
    invoke: (service, payload, from) => pipeline.invoke(service, payload, from),
    log: (level, text) => {
      observed.logs.push({ level, text });
    },
  };
  const pipeline = new Pipeline(model.services, effects, capture);
  const receivedAt = testCase.fixed.now === undefined ? undefined : Date.parse(testCase.fixed.now);

  if (testCase.target.kind === 'service') {
    const service = model.services.get(testCase.target.name)!;
    const connection = testCase.connection ?? (model.connections.size === 1 ? [...model.connections.keys()][0]! : '');
    for (const message of testCase.messages) {
      const payload = message.payload;
      const context: MessageContext = {
        topic: message.topic,
        levels: message.topic.split('/'),
        wildcards: [],
        payload,
        qos: message.qos,
        retain: message.retain,
        dup: false,
        receivedAt: new Date(receivedAt ?? Date.now()).toISOString(),
        trigger: '(test)',
        connection,
        ...(message.properties === undefined ? {} : { properties: message.properties }),
      };
      try {
        await pipeline.run(service, new Execution(payload, context));
      } catch (error) {
        const failure = error instanceof MessageFailure ? error : new MessageFailure(String((error as Error).message), 'MQFLOW_FAILED');
        observed.failures.push({ code: failure.code, reason: failure.message });
      }
    }
    return observed;
  }

  const trigger = model.triggers.get(testCase.target.name)!;
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text === '') continue;
        const line = JSON.parse(text) as { level: number; msg: string; event?: string; code?: string; reason?: string };
        observed.logs.push({ level: LEVEL_NAMES[line.level] ?? String(line.level), text: line.msg });
        if (line.event === 'message-failed') observed.failures.push({ code: line.code ?? 'MQFLOW_FAILED', reason: line.reason ?? line.msg });
      }
      done();
    },
  });
  const log = createLog({ level: 'debug', pretty: false, secrets: model.secrets, destination: lines });
  const runner = new TriggerRunner(trigger, { pipeline: () => pipeline, log, sessionKept: false });
  const retryMs = trigger.retry.maxAttempts * trigger.retry.maxDelayMs;
  for (const [i, message] of testCase.messages.entries()) {
    const failuresBefore = observed.failures.length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`message ${i + 1} was not done after ${Math.round((retryMs + 10_000) / 1000)} s`)), retryMs + 10_000);
      const finish = (): void => {
        clearTimeout(timer);
        resolve();
      };
      runner.onDelivery(delivery(message, i + 1, receivedAt, finish));
      // onError: suspend leaves the message with the broker: it is done for the test once failed.
      if (trigger.onError?.kind === 'suspend') {
        const poll = setInterval(() => {
          if (observed.failures.length > failuresBefore) {
            clearInterval(poll);
            finish();
          }
        }, 5);
      }
    });
  }
  return observed;
}

function delivery(message: TestMessage, id: number, receivedAt: number | undefined, complete: () => void): Delivery {
  // Text as UTF-8, bytes as they are (the payload fuzzer sends raw bytes), anything else as JSON.
  const payload = typeof message.payload === 'string' ? Buffer.from(message.payload) : Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(JSON.stringify(message.payload));
  return {
    topic: message.topic,
    payload,
    qos: message.qos,
    retain: message.retain,
    dup: false,
    messageId: message.qos > 0 ? id : undefined,
    properties: message.properties,
    receivedAt: receivedAt ?? Date.now(),
    complete,
  };
}
