/**
 * publish: sends a message to an MQTT topic (the counterpart of webMethods' pub.mqtt:publish). The
 * step hands the message to its connection and goes on; the incoming message is acknowledged only
 * once the broker acknowledged this one (docs/architecture.md, invariant 22).
 */
import type { Expression } from '../expr/expression.js';
import type { Template } from '../expr/template.js';
import type { QoS } from '../mqtt/message.js';
import { topicNameProblem } from '../mqtt/topic-filter.js';
import { encodePayload, evaluate, render } from '../pipeline/evaluate.js';
import { MessageFailure, type Execution, type Outcome, type PublishRequest } from '../pipeline/execution.js';
import { after, type Maybe } from '../util/maybe.js';
import type { StepRuntime } from '../pipeline/step.js';
import { formatPath } from '../util/path.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';
import { codecSchema, compileCodec, type CodecSetting } from '../component/codec.js';
import { decoderOf, encodeWith, CONTENT_TYPES } from './publish-codec.js';
import { checkedTopic, renderedTopicProblem, shortQuote, TOPIC_LEVELS, type TopicLevels } from './publish-topic.js';

export interface PublishStep extends StepData {
  readonly kind: 'publish';
  /** Undefined: the connection of the trigger that delivered the message. */
  readonly connection?: string;
  /** Its `{{ }}` values checked as they are rendered (./publish-topic.ts). */
  readonly topic: Template;
  /** How many topic levels the value of one `{{ }}` part of `topic` may fill. */
  readonly topicLevels: TopicLevels;
  /** Undefined: the current payload. */
  readonly payload?: Expression;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly userProperties: readonly { readonly name: string; readonly value: Template }[];
  readonly contentType?: string;
  /** Undefined: strings as UTF-8 text, anything else as JSON. */
  readonly codec?: CodecSetting;
}

interface PublishValue {
  connection?: string;
  topic: string;
  topicLevels?: TopicLevels;
  payload?: string;
  qos?: QoS;
  retain?: boolean;
  userProperties?: Record<string, string>;
  contentType?: string;
  codec?: unknown;
}

export const publish: StepKind<PublishValue, PublishStep> = {
  kind: 'publish',
  description: 'Publish a message to a topic through a connection.',
  schema: {
    type: 'object',
    description: 'Publish a message. Strings are sent as UTF-8 text (a binary trigger\'s payload is its base64 text), everything else as JSON.',
    required: ['topic'],
    additionalProperties: false,
    properties: {
      connection: { type: 'string', minLength: 1, description: 'The connection to publish through. Default: the connection of the trigger that delivered the message.', examples: ['plant-broker'] },
      topic: {
        type: 'string',
        minLength: 1,
        description: 'The topic: literal text with optional {{ JSONata }} parts evaluated against the payload. Must not contain + or #. The value of each {{ }} part fills one topic level (see topicLevels) and must not start the topic with $ unless the literal text does.',
        examples: ['alerts/temperature', 'plant/{{ $wildcards[0] }}/normalized/{{ device }}'],
      },
      topicLevels: {
        enum: TOPIC_LEVELS,
        description: 'How many topic levels the value of one {{ }} part of topic may fill: one (a value containing / fails the message) or any (it may span levels). Either way a value with +, # or NUL, or one that would start the topic with $, fails the message. Default: one.',
      },
      payload: { type: 'string', minLength: 1, description: 'A JSONata expression for the payload to send. Default: the current payload.', examples: ['{ "device": device, "alarm": true }'] },
      qos: { enum: [0, 1, 2], description: 'Quality of service. Default: 1 (the incoming message is acknowledged only after the broker acknowledged this publish).' },
      retain: { type: 'boolean', description: 'Ask the broker to retain the message. Default: false.' },
      userProperties: {
        type: 'object',
        description: 'MQTT 5 user properties: name → text template with optional {{ JSONata }} parts. Ignored on MQTT 3.1.1 connections.',
        additionalProperties: { type: 'string', description: 'A text template.' },
        examples: [{ source: 'mqflow', site: '{{ $wildcards[0] }}' }],
      },
      contentType: { type: 'string', description: 'MQTT 5 content type. Default: application/json for JSON payloads, application/cbor and application/x-protobuf for those codecs.', examples: ['application/json'] },
      codec: codecSchema('encode', 'How the payload is encoded (docs/codecs.md): json, text, binary (a base64 string sent as its bytes), cbor, { protobuf: { file, type } } or sparkplugB (to a Sparkplug B topic). Default: strings as UTF-8 text, anything else as JSON.'),
    },
  },
  summary: { does: 'publishes a message', changesPayload: 'no' },
  table: {
    header: ['Field', 'Type', 'Default', 'Description'],
    rows: [
      ['`topic`', 'template', 'required', 'The topic: literal text with optional `{{ JSONata }}` parts evaluated against the current payload. Must not contain `+` or `#`. The value of each `{{ }}` part fills one topic level and may not start the topic with `$` ([below](#where-a-message-may-publish)).'],
      ['`topicLevels`', '`one`, `any`', '`one`', 'How many topic levels the value of one `{{ }}` part of `topic` may fill. `one`: a value containing `/` fails the message (`MQFLOW_PUBLISH_TOPIC`). `any`: it may span levels. Either way, a value containing `+`, `#` or NUL, or one that would start the topic with `$` when the literal text does not, fails the message.'],
      ['`payload`', 'JSONata expression', 'the current payload', 'The payload to send.'],
      ['`connection`', 'string', 'the connection of the trigger that delivered the message', 'The connection to publish through.'],
      ['`qos`', '`0`, `1`, `2`', '`1`', 'Quality of service. With 1 or 2, the incoming message is acknowledged only after the broker has acknowledged this publish. The step itself does not wait: the next steps, and the next message, go on meanwhile.'],
      ['`retain`', 'boolean', '`false`', 'Ask the broker to retain the message.'],
      ['`userProperties`', 'map of templates', 'none', 'MQTT 5 user properties: name → text with optional `{{ JSONata }}` parts. Ignored on MQTT 3.1.1 connections.'],
      ['`contentType`', 'string', '`application/json` when the payload is sent as JSON, `application/cbor` and `application/x-protobuf` for those codecs; none for a string', 'MQTT 5 content type. Ignored on MQTT 3.1.1 connections.'],
      ['`codec`', '`json`, `text`, `binary`, `cbor`, `sparkplugB`, or `protobuf: { file, type }`', 'strings as UTF-8 text, anything else as JSON', 'How the payload is encoded ([codecs](codecs.md)). A value the codec cannot encode fails the message (`MQFLOW_ENCODE_<CODEC>`).'],
    ],
  },
  example: `services:
  forward:
    steps:
      - publish:
          topic: plant/forwarded
`,
  compile(value, header, path, compiler) {
    if (value.connection !== undefined) compiler.refer('connection', value.connection, [...path, 'connection']);
    const topicPath = [...path, 'topic'];
    const topic = compiler.template(value.topic, topicPath);
    if (topic !== undefined) {
      // The literal text is checked here, once: per message, only the values of `{{ }}` parts are
      // (its parts are never empty, and checked one by one they are checked together).
      const problem = topic.literal !== undefined
        ? topicNameProblem(topic.literal)
        : topic.parts.reduce<string | undefined>((found, p) => found ?? (p.isExpression ? undefined : topicNameProblem(p.text)), undefined);
      if (problem !== undefined) compiler.problem(topicPath, 'MQFLOW_PUBLISH_TOPIC', `${formatPath(topicPath)}: ${problem} (got ${compiler.quote(topicPath, value.topic)})`);
    }
    const topicLevels = value.topicLevels ?? 'one';
    const payload = value.payload === undefined ? undefined : compiler.expression(value.payload, [...path, 'payload']);
    const userProperties: { name: string; value: Template }[] = [];
    // Anything but a map of strings was reported by the schema already.
    const properties = value.userProperties !== null && typeof value.userProperties === 'object' && !Array.isArray(value.userProperties) ? value.userProperties : {};
    for (const [name, text] of Object.entries(properties)) {
      if (typeof text !== 'string') continue;
      const template = compiler.template(text, [...path, 'userProperties', name]);
      if (template !== undefined) userProperties.push({ name, value: template });
    }
    const codecPath = [...path, 'codec'];
    const codec = value.codec === undefined || compiler.broken(codecPath) ? undefined : compileCodec(value.codec, codecPath, compiler, 'encode');
    if (topic === undefined || (value.payload !== undefined && payload === undefined) || (value.codec !== undefined && codec === undefined)) return undefined;
    return {
      kind: 'publish',
      ...header,
      connection: value.connection,
      topic: checkedTopic(topic, topicLevels, header),
      topicLevels,
      payload,
      qos: value.qos ?? 1,
      retain: value.retain ?? false,
      userProperties,
      contentType: value.contentType,
      ...(codec === undefined ? {} : { codec }),
    };
  },
  run(step, exec, runtime) {
    // A literal topic was checked when the flow was loaded.
    if (step.topic.literal !== undefined) return send(step, exec, runtime, step.topic.literal);
    return after(renderTopic(step, exec), (topic) => {
      const problem = renderedTopicProblem(topic);
      if (problem !== undefined) {
        throw new MessageFailure(`${step.path}: not published: ${problem} (topic ${shortQuote(topic, 200)})`, 'MQFLOW_PUBLISH_TOPIC', { path: step.path, at: step.at });
      }
      return send(step, exec, runtime, topic);
    });
  },
  uses: (step) => [{ kind: 'publish', topic: step.topic, ...(step.connection === undefined ? {} : { connection: step.connection }) }],
};

/**
 * The topic, its `{{ }}` values checked (invariant 32). `render` reports what the template throws as
 * an expression's error; a refused value's own failure is its cause, and is the step's failure.
 */
function renderTopic(step: PublishStep, exec: Execution): Maybe<string> {
  const own = (error: unknown): never => {
    throw error instanceof MessageFailure && error.cause instanceof MessageFailure ? error.cause : error;
  };
  let topic: Maybe<string>;
  try {
    topic = render(step.topic, exec, step);
  } catch (error) {
    return own(error);
  }
  return topic instanceof Promise ? topic.catch(own) : topic;
}

function send(step: PublishStep, exec: Execution, runtime: StepRuntime, topic: string): Maybe<Outcome> {
  const value = step.payload === undefined ? exec.payload : evaluate(step.payload, exec.payload, exec, step);
  return after(value, (v) => (step.userProperties.length === 0 ? hand(step, exec, runtime, topic, v, undefined) : after(renderProperties(step, exec), (p) => hand(step, exec, runtime, topic, v, p))));
}

function renderProperties(step: PublishStep, exec: Execution): Maybe<Record<string, string>> {
  const out: Record<string, string> = {};
  const from = (i: number): Maybe<Record<string, string>> => {
    for (; i < step.userProperties.length; i++) {
      const p = step.userProperties[i]!;
      const text = render(p.value, exec, step);
      if (text instanceof Promise) {
        const next = i + 1;
        return text.then((t) => {
          out[p.name] = t;
          return from(next);
        });
      }
      out[p.name] = text;
    }
    return out;
  };
  return from(0);
}

/** Hands the message to its connection; a refusal (stopped, offline queue full) fails the step. */
function hand(step: PublishStep, exec: Execution, { effects }: StepRuntime, topic: string, value: unknown, userProperties: Record<string, string> | undefined): Outcome {
  const payload = step.codec === undefined ? encodePayload(value, step, exec) : encodeWith(step.codec, value, topic, step, effects);
  // MQTT 5 content type: as given, else application/json for what was encoded as JSON.
  const contentType = step.contentType ?? (step.codec === undefined ? (typeof value === 'string' || Buffer.isBuffer(value) ? undefined : 'application/json') : CONTENT_TYPES[step.codec.name]);
  const request: PublishRequest = { connection: step.connection, topic, payload, qos: step.qos, retain: step.retain, userProperties, contentType, ...(step.codec === undefined ? {} : { decoder: decoderOf(step.codec) }) };
  try {
    effects.publish(request, exec);
  } catch (error) {
    const e = error as { message?: unknown; code?: unknown };
    throw new MessageFailure(`${step.path}: ${String(e.message)}`, typeof e.code === 'string' ? e.code : 'MQFLOW_PUBLISH_FAILED', { path: step.path, at: step.at }, { cause: error });
  }
  return CONTINUE;
}
