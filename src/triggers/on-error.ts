/**
 * onError: where a message goes when it failed after all its attempts: a dead-letter publish of
 * the error report, an error service, or suspending the trigger. Its runtime part builds the
 * report and sends it along the route (docs/flow-language.md, "onError").
 */
import type { DefinitionOption } from '../component/option.js';
import type { FieldSpec } from '../component/spec.js';
import type { QoS } from '../mqtt/message.js';
import { topicNameProblem } from '../mqtt/topic-filter.js';
import type { MessageContext } from '../pipeline/context.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { formatPath } from '../util/path.js';
import type { FailureKind } from './failure-kind.js';

export type ErrorRoute =
  | { readonly kind: 'publish'; readonly connection?: string; readonly topic: string; readonly qos: QoS; readonly retain: boolean }
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'suspend'; readonly resumeAfterMs: number };

/** The choices of `onError`, for its own reference table. */
export const ON_ERROR_FIELDS: Readonly<Record<string, FieldSpec>> = {
  publish: {
    schema: {
      type: 'object',
      description: 'Publish the original message with its error, trigger, attempt count and time to a dead-letter topic.',
      required: ['topic'],
      additionalProperties: false,
      properties: {
        connection: { type: 'string', minLength: 1, description: 'Connection to publish through. Default: the trigger\'s.' },
        topic: { type: 'string', minLength: 1, description: 'The dead-letter topic (no wildcards).', examples: ['plant/dead-letter'] },
        qos: { enum: [0, 1, 2], description: 'Quality of service. Default: 1.' },
        retain: { type: 'boolean', description: 'Retain the message. Default: false.' },
      },
    },
    type: 'map',
    default: '',
    doc: 'Publish the [error report](#the-error-report) to a dead-letter topic. Fields: `topic` (required, no wildcards), `connection` (default: the trigger\'s), `qos` (default `1`), `retain` (default `false`).',
  },
  service: {
    schema: { type: 'string', minLength: 1, description: 'A service run with { error, message, trigger, attempts, failedAt } as its payload.', examples: ['record-failure'] },
    type: 'string',
    default: '',
    doc: 'Run this service with the [error report](#the-error-report) `{ error, message, trigger, attempts, failedAt }` as the payload.',
  },
  suspend: {
    schema: {
      type: 'object',
      description: 'Stop the trigger and leave the message unacknowledged; the trigger resumes after resumeAfter and the broker redelivers the message (webMethods "stop trigger").',
      additionalProperties: false,
      properties: { resumeAfter: durationSchema('How long the trigger stays suspended. Default: 30s.', ['1m']) },
    },
    type: 'map',
    default: '',
    doc: 'Stop the trigger and leave the message with the broker, which redelivers it when the trigger resumes. Field: `resumeAfter` (a [duration](#8-durations), default `30s`). Needs `cleanSession: false`.',
  },
};

interface RouteValue {
  publish?: { connection?: string; topic: string; qos?: QoS; retain?: boolean };
  service?: string;
  suspend?: { resumeAfter?: number | string };
}

const HINT = 'publish: { topic: dead/letters } sends failed messages to a topic; service: name runs a service with them; suspend: {} stops the trigger and leaves the message with the broker';

export const onError: DefinitionOption<{ onError?: ErrorRoute }> = {
  name: 'onError',
  fields: {
    onError: {
      schema: {
        type: 'object',
        description: 'Where a message goes when its service fails after all attempts: publish it with the error, run a service, or suspend the trigger. Give exactly one.',
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(ON_ERROR_FIELDS).map(([k, f]) => [k, f.schema])),
      },
      type: 'map',
      default: 'none (logged, acknowledged)',
      doc: 'Where a message goes when it fails after all attempts (below).',
    },
  },
  example: `triggers:
  temperature-dead-lettered:
    connection: plant
    topic: plant/+/sensors/+/temperature
    service: to-celsius
    onError:
      publish:
        topic: plant/dead-letter/temperature
`,
  compile(value, path, c) {
    const route = value.onError as RouteValue | undefined;
    const at = [...path, 'onError'];
    if (route === undefined || c.broken(at)) return {};
    const given = (['publish', 'service', 'suspend'] as const).filter((k) => route[k] !== undefined);
    if (given.length !== 1) {
      const message = given.length === 0 ? 'needs publish, service or suspend' : `takes one of publish, service and suspend, not ${given.join(' and ')}`;
      c.problem(at, 'MQFLOW_ON_ERROR', `${formatPath(at)} ${message}`, HINT);
      return undefined;
    }
    if (route.suspend !== undefined) {
      // A suspend the schema rejected (null, a bad duration) is reported already.
      if (c.brokenBelow([...at, 'suspend'])) return undefined;
      return { onError: { kind: 'suspend', resumeAfterMs: durationMs(route.suspend.resumeAfter ?? 30_000) } };
    }
    if (route.service !== undefined) {
      c.refer('service', route.service, [...at, 'service']);
      return { onError: { kind: 'service', service: route.service } };
    }
    const publish = route.publish!;
    if (c.broken([...at, 'publish'])) return undefined;
    if (publish.connection !== undefined) c.refer('connection', publish.connection, [...at, 'publish', 'connection']);
    const topicAt = [...at, 'publish', 'topic'];
    const problem = c.brokenBelow(topicAt) ? undefined : topicNameProblem(publish.topic);
    if (problem !== undefined) {
      c.problem(topicAt, 'MQFLOW_PUBLISH_TOPIC', `${formatPath(topicAt)}: ${problem} (got ${c.quote(topicAt, publish.topic)})`);
      return undefined;
    }
    return {
      onError: {
        kind: 'publish',
        ...(publish.connection === undefined ? {} : { connection: publish.connection }),
        topic: publish.topic,
        qos: publish.qos ?? 1,
        retain: publish.retain ?? false,
      },
    };
  },
};

/** What an error route receives: published as JSON, or the payload of the error service. */
export interface FailureReport {
  /** `kind`: whether the failure was transient or deterministic (failure-kind.ts). */
  readonly error: { readonly message: string; readonly code: string; readonly kind: FailureKind; readonly step?: string; readonly at?: string };
  readonly message: MessageContext;
  readonly trigger: string;
  readonly attempts: number;
  readonly failedAt: string;
}

/** What sending along a route needs from the message host. */
export interface RouteSender {
  /** Publishes the report; resolves once the broker acknowledged it (QoS 1/2) or it was written. */
  publish(route: Extract<ErrorRoute, { kind: 'publish' }>, payload: string): Promise<void>;
  /** Runs the error service with the report; resolves once it is done (its own publishes settled). */
  runService(name: string, report: FailureReport): Promise<void>;
}

/** Sends the report along `route`; returns why it failed, or undefined. */
export async function sendAlongRoute(route: Exclude<ErrorRoute, { kind: 'suspend' }>, report: FailureReport, sender: RouteSender): Promise<string | undefined> {
  try {
    if (route.kind === 'publish') await sender.publish(route, JSON.stringify(report));
    else await sender.runService(route.service, report);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
