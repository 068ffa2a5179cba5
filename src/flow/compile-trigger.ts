/** compile: triggers. Checks topic filters, the shared-subscription group and the error route. */
import { shareGroupProblem, splitSharedSubscription, topicFilterProblem, topicNameProblem } from '../mqtt/topic-filter.js';
import { definitionHeader, quote, report, type CompileContext, type Located } from './compile-context.js';
import { durationMs } from './duration.js';
import type { ErrorRoute, PayloadDecoding, QoS, Trigger } from './model.js';
import { formatPath, type ValuePath } from './path.js';

export interface TriggerValue {
  description?: string;
  enabled?: boolean;
  connection: string;
  topic: string | string[];
  qos?: QoS;
  service: string;
  processing?: 'serial' | 'concurrent';
  maxConcurrency?: number;
  payload?: PayloadDecoding;
  ack?: 'afterProcessing' | 'onReceipt';
  queueSize?: number;
  maxPayloadBytes?: number;
  share?: string;
  retry?: { maxAttempts?: number; delay?: number | string; backoff?: 'fixed' | 'exponential'; maxDelay?: number | string };
  onError?: { publish?: { connection?: string; topic: string; qos?: QoS; retain?: boolean }; service?: string; suspend?: { resumeAfter?: number | string } };
}

const DEFAULT_MAX_CONCURRENCY = 10;
const DEFAULT_QUEUE_SIZE = 100;

export function compileTrigger(context: CompileContext, def: Located<TriggerValue>): Trigger | undefined {
  const { value, file, path } = def;
  let ok = true;
  const fail = (at: ValuePath, code: string, message: string, hint?: string): void => {
    report(context, file, at, code, message, hint);
    ok = false;
  };

  const refer = (kind: 'connection' | 'service', name: unknown, at: ValuePath): void => {
    if (typeof name === 'string' && !def.broken(at)) context.references.push({ kind, name, file, path: at });
  };
  refer('connection', value.connection, [...path, 'connection']);
  refer('service', value.service, [...path, 'service']);

  // Each check runs on the parts that passed the schema, so one run reports every problem.
  const topics = typeof value.topic === 'string' ? [value.topic] : Array.isArray(value.topic) ? value.topic : [];
  const topicPath = (i: number): ValuePath => (typeof value.topic === 'string' ? [...path, 'topic'] : [...path, 'topic', i]);
  const seen = new Set<string>();
  topics.forEach((topic, i) => {
    const at = topicPath(i);
    if (def.broken(at)) return;
    const problem = topicFilterProblem(topic);
    if (problem !== undefined) {
      fail(at, 'MQFLOW_TOPIC_FILTER', `${formatPath(at)}: ${problem} (got ${quote(file, at, topic)})`);
    } else if (value.share !== undefined && splitSharedSubscription(topic) !== undefined) {
      fail(at, 'MQFLOW_TOPIC_FILTER', `${formatPath(at)} is already a shared subscription, and share is set too`, 'remove the $share/<group>/ prefix and keep share, or remove share');
    }
    if (seen.has(topic)) {
      report(context, file, at, 'MQFLOW_TOPIC_DUPLICATE', `${formatPath(at)}: topic filter "${topic}" is listed twice`, 'remove one of them', 'warning');
    }
    seen.add(topic);
  });

  if (value.share !== undefined && !def.broken([...path, 'share'])) {
    const problem = shareGroupProblem(value.share);
    if (problem !== undefined) fail([...path, 'share'], 'MQFLOW_SHARE_GROUP', `${formatPath([...path, 'share'])}: ${problem} (got ${quote(file, [...path, 'share'], value.share)})`);
  }

  const processing = value.processing ?? 'serial';
  if (value.maxConcurrency !== undefined && processing !== 'concurrent' && !def.broken([...path, 'processing'])) {
    fail([...path, 'maxConcurrency'], 'MQFLOW_MAX_CONCURRENCY', `${formatPath([...path, 'maxConcurrency'])} applies only to concurrent processing`, 'add processing: concurrent, or remove maxConcurrency');
  }

  const onError = compileErrorRoute(context, def, () => (ok = false));

  if (!ok || def.broken(path)) return undefined;
  return {
    ...definitionHeader(def, value),
    connection: value.connection,
    topics,
    subscriptions: value.share === undefined ? topics : topics.map((t) => `$share/${value.share!}/${t}`),
    ...(value.share === undefined ? {} : { share: value.share }),
    qos: value.qos ?? 1,
    service: value.service,
    processing: processing === 'concurrent' ? { mode: 'concurrent', maxConcurrency: value.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY } : { mode: 'serial' },
    payload: value.payload ?? 'json',
    ack: value.ack ?? 'afterProcessing',
    queueSize: value.queueSize ?? DEFAULT_QUEUE_SIZE,
    maxPayloadBytes: value.maxPayloadBytes ?? 1_048_576,
    retry: {
      maxAttempts: value.retry?.maxAttempts ?? 1,
      delayMs: durationMs(value.retry?.delay ?? 1_000),
      backoff: value.retry?.backoff ?? 'exponential',
      maxDelayMs: durationMs(value.retry?.maxDelay ?? 30_000),
    },
    ...(onError === undefined ? {} : { onError }),
  };
}

function compileErrorRoute(context: CompileContext, def: Located<TriggerValue>, failed: () => void): ErrorRoute | undefined {
  const { value, file, path } = def;
  const route = value.onError;
  const at = [...path, 'onError'];
  if (route === undefined || def.brokenAt(at)) return undefined;
  const given = (['publish', 'service', 'suspend'] as const).filter((k) => route[k] !== undefined);
  if (given.length !== 1) {
    const message = given.length === 0 ? 'needs publish, service or suspend' : `takes one of publish, service and suspend, not ${given.join(' and ')}`;
    report(context, file, at, 'MQFLOW_ON_ERROR', `${formatPath(at)} ${message}`, 'publish: { topic: dead/letters } sends failed messages to a topic; service: name runs a service with them; suspend: {} stops the trigger and leaves the message with the broker');
    failed();
    return undefined;
  }
  if (route.suspend !== undefined) {
    // A suspend the schema rejected (null, a bad duration) is reported already.
    if (def.broken([...at, 'suspend'])) return undefined;
    return { kind: 'suspend', resumeAfterMs: durationMs(route.suspend.resumeAfter ?? 30_000) };
  }
  if (route.service !== undefined) {
    if (!def.broken([...at, 'service'])) context.references.push({ kind: 'service', name: route.service, file, path: [...at, 'service'] });
    return { kind: 'service', service: route.service };
  }
  const publish = route.publish!;
  if (def.brokenAt([...at, 'publish'])) return undefined;
  if (publish.connection !== undefined && !def.broken([...at, 'publish', 'connection'])) {
    context.references.push({ kind: 'connection', name: publish.connection, file, path: [...at, 'publish', 'connection'] });
  }
  const topicAt = [...at, 'publish', 'topic'];
  const problem = def.broken(topicAt) ? undefined : topicNameProblem(publish.topic);
  if (problem !== undefined) {
    report(context, file, topicAt, 'MQFLOW_PUBLISH_TOPIC', `${formatPath(topicAt)}: ${problem} (got ${quote(file, topicAt, publish.topic)})`);
    failed();
  }
  return {
    kind: 'publish',
    ...(publish.connection === undefined ? {} : { connection: publish.connection }),
    topic: publish.topic,
    qos: publish.qos ?? 1,
    retain: publish.retain ?? false,
  };
}
