/**
 * reply: answers an MQTT 5 request — publishes to the request's response topic with its
 * correlation data, so the requester matches the reply to its request. The response topic is the
 * requester's to choose; `allow` bounds where that may be (docs/architecture.md, invariant 52).
 * On MQTT 3.1.1, which has neither, `topic` names where replies go (a field of the request).
 */
import { fieldRows, objectSchema, type FieldSpec } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import { compileTemplate, type Template } from '../expr/template.js';
import type { QoS } from '../mqtt/message.js';
import { topicFilterProblem, topicMatches, topicNameProblem } from '../mqtt/topic-filter.js';
import { encodePayload, evaluate, render } from '../pipeline/evaluate.js';
import { MessageFailure, type Execution, type Outcome } from '../pipeline/execution.js';
import type { StepRuntime } from '../pipeline/step.js';
import { after, type Maybe } from '../util/maybe.js';
import { formatPath } from '../util/path.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';
import { shortQuote } from './publish-topic.js';

export interface ReplyStep extends StepData {
  readonly kind: 'reply';
  readonly payload?: Expression;
  readonly qos: QoS;
  /** Where a request without a response topic (MQTT 3.1.1) is answered. */
  readonly topic?: Template;
  readonly allow: string;
  readonly connection?: string;
}

interface ReplyValue {
  payload?: string;
  qos?: QoS;
  topic?: string;
  allow?: string;
  connection?: string;
}

const FIELDS: Readonly<Record<string, FieldSpec>> = {
  payload: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the reply. Default: the current payload.', examples: ['{ "ok": true, "speed": speed }'] }, type: 'JSONata expression', default: 'the payload', doc: 'The reply.' },
  qos: { schema: { enum: [0, 1, 2], description: 'Quality of service of the reply. Default: 1.' }, type: '`0`, `1`, `2`', default: '`1`', doc: 'Quality of service of the reply; with 1 or 2 the request is acknowledged once the reply is.' },
  allow: {
    schema: { type: 'string', minLength: 1, description: 'A topic filter the response topic must match (the requester chooses it). Default: # (any topic not starting with $).', examples: ['replies/#'] },
    type: 'topic filter',
    default: '`#`',
    doc: 'A topic filter the response topic must match: the requester chooses the topic, so this bounds where a reply may go. Another topic fails the message (`MQFLOW_REPLY_TOPIC`, not retried). By default any topic not starting with `$`.',
  },
  topic: { schema: { type: 'string', minLength: 1, description: 'MQTT 3.1.1: where to reply when the request carries no response topic, e.g. {{ replyTo }}.', examples: ['{{ replyTo }}'] }, type: 'template', default: 'none', doc: 'Where to reply when the request carries no response topic (MQTT 3.1.1, which has none): a template, usually a field of the request (`{{ replyTo }}`); `allow` applies to it too.' },
  connection: { schema: { type: 'string', minLength: 1, description: 'The connection to reply through. Default: the trigger\'s.', examples: ['plant'] }, type: 'string', default: 'the trigger\'s connection', doc: 'The connection to reply through.' },
};

export const reply: StepKind<ReplyValue, ReplyStep> = {
  kind: 'reply',
  description: 'Answer an MQTT 5 request: publish to its response topic with its correlation data.',
  schema: objectSchema('Answer the MQTT 5 request being processed.', FIELDS),
  summary: { does: 'answers an MQTT 5 request (its response topic, its correlation data)', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `services:
  read-setpoint:
    steps:
      - reply:
          payload: '{ "device": $wildcards[0], "setpoint": 72.5 }'
          allow: plant/replies/#
`,
  compile(value, header, path, c) {
    if (value.connection !== undefined) c.refer('connection', value.connection, [...path, 'connection']);
    const allow = value.allow ?? '#';
    const allowProblem = topicFilterProblem(allow);
    if (allowProblem !== undefined) {
      c.problem([...path, 'allow'], 'MQFLOW_TOPIC_FILTER', `${formatPath([...path, 'allow'])}: ${allowProblem}`);
      return undefined;
    }
    const payload = value.payload === undefined ? undefined : c.expression(value.payload, [...path, 'payload']);
    const topic = value.topic === undefined ? undefined : c.template(value.topic, [...path, 'topic']);
    if ((value.payload !== undefined && payload === undefined) || (value.topic !== undefined && topic === undefined)) return undefined;
    return { kind: 'reply', ...header, ...(payload === undefined ? {} : { payload }), qos: value.qos ?? 1, ...(topic === undefined ? {} : { topic }), allow, ...(value.connection === undefined ? {} : { connection: value.connection }) };
  },
  run(step, exec, runtime) {
    const properties = exec.message.properties;
    const responseTopic = typeof properties?.responseTopic === 'string' ? properties.responseTopic : undefined;
    return after(responseTopic ?? fallbackTopic(step, exec), (topic) => {
      const fail = (why: string): never => {
        throw new MessageFailure(`${step.path}: not replied: ${why}`, 'MQFLOW_REPLY_TOPIC', { path: step.path, at: step.at }, { permanent: true });
      };
      if (topic === undefined) fail('the request has no response topic (an MQTT 5 request carries one; on MQTT 3.1.1 set topic:)');
      const problem = topicNameProblem(topic!);
      if (problem !== undefined) fail(`the response topic ${shortQuote(topic!, 200)}: ${problem}`);
      if (!topicMatches(step.allow, topic!)) fail(`the response topic ${shortQuote(topic!, 200)} is not under allow: ${step.allow}`);
      const correlation = typeof properties?.correlationData === 'string' ? Buffer.from(properties.correlationData, 'base64') : undefined;
      return send(step, exec, runtime, topic!, correlation);
    });
  },
  // The response topic is the requester's: drawn as the allowed filter, or the 3.1.1 topic template.
  uses: (step) => [{ kind: 'publish', label: 'reply', topic: step.topic ?? literalTemplate(step.allow), ...(step.connection === undefined ? {} : { connection: step.connection }) }],
};

/** A template that is only text, for the graph. */
function literalTemplate(text: string): Template {
  return compileTemplate(text, [{ text, isExpression: false, offset: 0 }], () => undefined)!;
}

function fallbackTopic(step: ReplyStep, exec: Execution): Maybe<string | undefined> {
  return step.topic === undefined ? undefined : render(step.topic, exec, step);
}

function send(step: ReplyStep, exec: Execution, { effects }: StepRuntime, topic: string, correlationData: Buffer | undefined): Maybe<Outcome> {
  return after(step.payload === undefined ? exec.payload : evaluate(step.payload, exec.payload, exec, step), (value) => {
    const payload = encodePayload(value, step, exec);
    try {
      effects.publish(
        {
          ...(step.connection === undefined ? {} : { connection: step.connection }),
          topic,
          payload,
          qos: step.qos,
          retain: false,
          ...(typeof value === 'string' || Buffer.isBuffer(value) ? {} : { contentType: 'application/json' }),
          ...(correlationData === undefined ? {} : { correlationData }),
        },
        exec,
      );
    } catch (error) {
      const e = error as { message?: unknown; code?: unknown };
      throw new MessageFailure(`${step.path}: ${String(e.message)}`, typeof e.code === 'string' ? e.code : 'MQFLOW_PUBLISH_FAILED', { path: step.path, at: step.at }, { cause: error });
    }
    return CONTINUE;
  });
}
