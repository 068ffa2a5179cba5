/**
 * request: MQTT 5 request/response from a service — publishes a request with mqflow's response
 * topic and a correlation data of its own, and waits for the reply matched to it (many requests
 * may be in flight at once). The reply becomes the payload, or the variable named by `as`. No
 * reply within `timeout` is a transient failure: retried per the trigger's `retry`
 * (docs/architecture.md, invariant 51).
 */
import { fieldRows, objectSchema, type FieldSpec } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import type { Template } from '../expr/template.js';
import type { QoS } from '../mqtt/message.js';
import { topicNameProblem } from '../mqtt/topic-filter.js';
import type { ReplyMessage } from '../mqtt/request-inbox.js';
import { encodePayload, evaluate, render } from '../pipeline/evaluate.js';
import { MessageFailure, type Execution, type Outcome } from '../pipeline/execution.js';
import type { StepRuntime } from '../pipeline/step.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { after, type Maybe } from '../util/maybe.js';
import { formatPath } from '../util/path.js';
import { CONTINUE, variableNameProblem, type StepData, type StepKind } from './kind.js';
import { checkedTopic, renderedTopicProblem, shortQuote } from './publish-topic.js';

export interface RequestStep extends StepData {
  readonly kind: 'request';
  readonly topic: Template;
  readonly payload?: Expression;
  readonly qos: QoS;
  readonly timeoutMs: number;
  readonly as?: string;
  readonly connection?: string;
}

interface RequestValue {
  topic: string;
  payload?: string;
  qos?: QoS;
  timeout?: number | string;
  as?: string;
  connection?: string;
}


const FIELDS: Readonly<Record<string, FieldSpec>> = {
  topic: { schema: { type: 'string', minLength: 1, description: 'The topic of the request: text with optional {{ JSONata }} parts (each fills one level).', examples: ['plant/{{ device }}/commands/read-setpoint'] }, type: 'template', default: 'required', doc: 'The topic of the request, as a `publish` topic (each `{{ }}` value fills one level).' },
  payload: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the request. Default: the current payload.' }, type: 'JSONata expression', default: 'the payload', doc: 'The request.' },
  qos: { schema: { enum: [0, 1, 2], description: 'Quality of service of the request. Default: 1.' }, type: '`0`, `1`, `2`', default: '`1`', doc: 'Quality of service of the request.' },
  timeout: { schema: durationSchema('How long to wait for the reply. Default: 10s.', ['2s']), type: 'duration', default: '`10s`', doc: 'How long to wait for the reply; then the message fails (`MQFLOW_REQUEST_TIMEOUT`, retried per the trigger\'s `retry`). A reply that comes later is dropped (counted).' },
  as: { schema: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Keep the reply as a variable ($name: payload, topic, properties) and leave the payload unchanged. Default: the payload becomes the reply.' }, type: 'string', default: 'none', doc: 'Keep the reply in a variable, `$name` = `{ payload, topic, properties }`, and leave the payload as it is. Without `as`, the payload becomes the reply (JSON when it parses, else text).' },
  connection: { schema: { type: 'string', minLength: 1, description: 'The connection (MQTT 5) to send the request through. Default: the trigger\'s.', examples: ['plant'] }, type: 'string', default: 'the trigger\'s connection', doc: 'The connection to send the request through and receive the reply on; it must speak MQTT 5 (`protocolVersion: 5`).' },
};

export const request: StepKind<RequestValue, RequestStep> = {
  kind: 'request',
  description: 'Send an MQTT 5 request and wait for its reply (response topic and correlation data).',
  schema: objectSchema('Send an MQTT 5 request and wait for its reply.', FIELDS, ['topic']),
  summary: { does: 'sends an MQTT 5 request and waits for the reply matched to it', changesPayload: 'without `as`' },
  table: fieldRows(FIELDS),
  example: `services:
  check-setpoint:
    steps:
      - request:
          topic: plant/{{ device }}/commands/read-setpoint
          payload: '{ "device": device }'
          timeout: 2s
          as: setpoint
      - publish:
          topic: plant/{{ device }}/setpoint
          payload: $setpoint.payload
`,
  compile(value, header, path, c) {
    if (value.connection !== undefined) c.refer('connection', value.connection, [...path, 'connection']);
    const topicPath = [...path, 'topic'];
    const topic = c.template(value.topic, topicPath);
    let ok = topic !== undefined;
    if (topic !== undefined) {
      const problem = topic.literal !== undefined ? topicNameProblem(topic.literal) : topic.parts.reduce<string | undefined>((found, p) => found ?? (p.isExpression ? undefined : topicNameProblem(p.text)), undefined);
      if (problem !== undefined) {
        c.problem(topicPath, 'MQFLOW_PUBLISH_TOPIC', `${formatPath(topicPath)}: ${problem} (got ${c.quote(topicPath, value.topic)})`);
        ok = false;
      }
    }
    const asProblem = value.as === undefined ? undefined : variableNameProblem(value.as);
    if (asProblem !== undefined) {
      c.problem([...path, 'as'], 'MQFLOW_VARIABLE_NAME', `${formatPath([...path, 'as'])}: ${asProblem}`, 'choose another name');
      ok = false;
    }
    const payload = value.payload === undefined ? undefined : c.expression(value.payload, [...path, 'payload']);
    if (!ok || topic === undefined || (value.payload !== undefined && payload === undefined)) return undefined;
    return {
      kind: 'request',
      ...header,
      topic: checkedTopic(topic, 'one', header),
      ...(payload === undefined ? {} : { payload }),
      qos: value.qos ?? 1,
      timeoutMs: value.timeout === undefined ? 10_000 : durationMs(value.timeout),
      ...(value.as === undefined ? {} : { as: value.as }),
      ...(value.connection === undefined ? {} : { connection: value.connection }),
    };
  },
  run(step, exec, runtime) {
    return after(step.topic.literal ?? renderTopic(step, exec), (topic) => {
      const problem = renderedTopicProblem(topic);
      if (problem !== undefined) throw new MessageFailure(`${step.path}: not sent: ${problem} (topic ${shortQuote(topic, 200)})`, 'MQFLOW_PUBLISH_TOPIC', { path: step.path, at: step.at });
      return after(step.payload === undefined ? exec.payload : evaluate(step.payload, exec.payload, exec, step), (value) => ask(step, exec, runtime, topic, value));
    });
  },
  uses: (step) => [{ kind: 'publish', label: 'request', topic: step.topic, ...(step.connection === undefined ? {} : { connection: step.connection }) }],
};

function renderTopic(step: RequestStep, exec: Execution): Maybe<string> {
  const own = (error: unknown): never => {
    throw error instanceof MessageFailure && error.cause instanceof MessageFailure ? error.cause : error;
  };
  try {
    const topic = render(step.topic, exec, step);
    return topic instanceof Promise ? topic.catch(own) : topic;
  } catch (error) {
    return own(error);
  }
}

function ask(step: RequestStep, exec: Execution, { effects }: StepRuntime, topic: string, value: unknown): Promise<Outcome> {
  const payload = encodePayload(value, step, exec);
  const contentType = typeof value === 'string' || Buffer.isBuffer(value) ? undefined : 'application/json';
  let reply: Promise<ReplyMessage>;
  try {
    reply = effects.request({ ...(step.connection === undefined ? {} : { connection: step.connection }), topic, payload, qos: step.qos, retain: false, ...(contentType === undefined ? {} : { contentType }) }, step.timeoutMs, exec);
  } catch (error) {
    return Promise.reject(failure(step, error));
  }
  return reply.then(
    (r) => {
      const text = r.payload.toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        // Not JSON: the reply is its text.
      }
      if (step.as === undefined) exec.payload = body;
      else exec.set(step.as, { payload: body, topic: r.topic, properties: readable(r.properties) });
      return CONTINUE;
    },
    (error: unknown) => {
      throw failure(step, error);
    },
  );
}

function readable(properties: ReplyMessage['properties']): Record<string, unknown> {
  const out: Record<string, unknown> = { ...properties };
  if (Buffer.isBuffer(properties?.correlationData)) out.correlationData = properties.correlationData.toString('base64');
  return out;
}

function failure(step: RequestStep, error: unknown): MessageFailure {
  if (error instanceof MessageFailure) return error;
  const e = error as { message?: unknown; code?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'MQFLOW_REQUEST_FAILED';
  // A request the connection cannot make would fail again; a missing reply may come next time.
  return new MessageFailure(`${step.path}: ${String(e.message)}`, code, { path: step.path, at: step.at }, { cause: error, permanent: code === 'MQFLOW_REQUEST_PROTOCOL' || code === 'MQFLOW_PUBLISH_TOO_LARGE' });
}
