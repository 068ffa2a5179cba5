/**
 * The flow file schema: the contract shared by the validator and editors
 * (schemas/flow.schema.json is written from this object by `mqflow schema`). Step schemas come
 * from the step kinds themselves, so a new kind is documented and validated by its own module.
 */
import { STEP_KINDS } from '../steps/kinds.js';
import type { JsonSchema } from '../steps/step.js';
import { durationSchema } from './duration.js';

const NAME_DESCRIPTION = 'Names are letters, digits, "_" and "-", unique per kind across the flow folder.';

const qos = (what: string, fallback: number): JsonSchema => ({
  enum: [0, 1, 2],
  description: `${what} Default: ${fallback}.`,
});

const message = (what: string): JsonSchema => ({
  type: 'object',
  description: what,
  required: ['topic'],
  additionalProperties: false,
  properties: {
    topic: { type: 'string', minLength: 1, description: 'The topic (no wildcards).', examples: ['plant/mqflow/status'] },
    payload: { type: 'string', description: 'The payload, as text. Default: empty.', examples: ['offline'] },
    qos: qos('Quality of service.', 1),
    retain: { type: 'boolean', description: 'Retain the message. Default: true (status messages are usually retained).' },
  },
});

const brokerUrl: JsonSchema = {
  type: 'string',
  minLength: 1,
  description: 'A broker URL: mqtt://, mqtts:// (TLS), ws:// or wss:// (WebSocket), with host and optional port.',
};

const connection: JsonSchema = {
  type: 'object',
  description: `A named connection to an MQTT broker. ${NAME_DESCRIPTION}`,
  required: ['url'],
  additionalProperties: false,
  properties: {
    description: { type: 'string', description: 'What this connection is for.' },
    enabled: { type: 'boolean', description: 'A disabled connection is not opened; triggers on it do not run. Default: true.' },
    url: {
      description: 'The broker URL, or a list of URLs tried in turn (failover).',
      anyOf: [brokerUrl, { type: 'array', minItems: 1, items: brokerUrl }],
      examples: ['mqtt://127.0.0.1:1883', ['mqtts://broker-a:8883', 'mqtts://broker-b:8883']],
    },
    clientId: {
      type: 'string',
      minLength: 1,
      description: 'MQTT client id. Default: derived from the connection name (and the trigger name for trigger clients), stable across restarts.',
      examples: ['plant-gateway-01'],
    },
    username: { type: 'string', description: 'User name. Take it from the environment: ${env:MQTT_USERNAME}.', examples: ['${env:MQTT_USERNAME}'] },
    password: { type: 'string', description: 'Password. Never write it in the file: use ${env:NAME} or ${file:path}.', examples: ['${env:MQTT_PASSWORD}'] },
    protocolVersion: { enum: [4, 5], description: 'MQTT protocol: 4 = MQTT 3.1.1, 5 = MQTT 5.0. Default: 4.' },
    cleanSession: {
      type: 'boolean',
      description: 'Start a fresh session on every connect. Set false (with a stable client id) so QoS 1/2 messages queued while mqflow was down are delivered. Default: true.',
    },
    keepalive: { type: 'integer', minimum: 0, maximum: 65535, description: 'Keep-alive interval in seconds (0 disables it). Default: 60.' },
    connectTimeout: durationSchema('How long to wait for CONNACK. Default: 30s.', ['10s']),
    reconnectPeriod: durationSchema('Base delay before reconnecting; it grows exponentially with jitter. Default: 1s.', ['1s']),
    tls: {
      type: 'object',
      description: 'TLS settings for mqtts:// and wss:// URLs. Certificate verification is on unless rejectUnauthorized is false.',
      additionalProperties: false,
      properties: {
        ca: { type: 'string', minLength: 1, description: 'PEM file of the certificate authority to trust, relative to the flow file.', examples: ['certs/ca.pem'] },
        cert: { type: 'string', minLength: 1, description: 'PEM file of the client certificate, relative to the flow file.', examples: ['certs/client.pem'] },
        key: { type: 'string', minLength: 1, description: 'PEM file of the client private key, relative to the flow file.', examples: ['certs/client.key'] },
        passphrase: { type: 'string', description: 'Passphrase of the private key: use ${env:NAME} or ${file:path}.', examples: ['${env:MQTT_KEY_PASSPHRASE}'] },
        rejectUnauthorized: { type: 'boolean', description: 'Refuse a broker whose certificate does not verify. Default: true.' },
        servername: { type: 'string', minLength: 1, description: 'Server name for SNI and certificate checks. Default: the URL host.', examples: ['broker.example.com'] },
      },
    },
    offlineQueueSize: {
      type: 'integer',
      minimum: 0,
      maximum: 1000000,
      description: 'Publishes that may wait while the connection is down; beyond this the publish fails and its message goes to the error route. Default: 1000.',
    },
    will: message('Last will: published by the broker if this connection is lost without a clean disconnect.'),
    birth: message('Birth message: published by mqflow each time the connection is established.'),
  },
};

const trigger: JsonSchema = {
  type: 'object',
  description: `Subscribes a connection to topic filters and runs a service for each message. ${NAME_DESCRIPTION}`,
  required: ['connection', 'topic', 'service'],
  additionalProperties: false,
  properties: {
    description: { type: 'string', description: 'What this trigger does.' },
    enabled: { type: 'boolean', description: 'A disabled trigger does not subscribe. Default: true.' },
    connection: { type: 'string', minLength: 1, description: 'The connection to subscribe on.', examples: ['plant-broker'] },
    topic: {
      description: 'A topic filter, or a list of them. + matches one level, # the rest (last level only).',
      anyOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { type: 'string' } }],
      examples: ['plant/+/sensors/+/temperature', ['plant/+/alarms', 'plant/+/events/#']],
    },
    qos: qos('Subscription quality of service.', 1),
    service: { type: 'string', minLength: 1, description: 'The service to run for each message.', examples: ['normalize-temperature'] },
    processing: { enum: ['serial', 'concurrent'], description: 'serial: one message at a time, in arrival order. concurrent: up to maxConcurrency at once. Default: serial.' },
    maxConcurrency: { type: 'integer', minimum: 1, maximum: 10000, description: 'Messages processed at once in concurrent mode. Default: 10.' },
    ack: {
      enum: ['afterProcessing', 'onReceipt'],
      description: 'When a QoS 1/2 message is acknowledged: afterProcessing (its service finished and its publishes were acknowledged: at-least-once) or onReceipt (at once: faster, but a crash loses messages in flight). Default: afterProcessing.',
    },
    queueSize: {
      type: 'integer',
      minimum: 1,
      maximum: 65535,
      description: 'Messages the trigger holds at once (waiting plus in processing); when full, mqflow stops reading and the broker holds the rest. Default: 100.',
    },
    maxPayloadBytes: {
      type: 'integer',
      minimum: 0,
      description: 'Payloads larger than this fail (to the error route) without being decoded. Default: 1048576 (1 MiB).',
    },
    payload: { enum: ['json', 'text', 'binary'], description: 'How the payload is decoded for the service: json (parsed), text (UTF-8 string) or binary (base64 string). Default: json.' },
    share: { type: 'string', minLength: 1, description: 'Shared-subscription group: subscribe as $share/<group>/<filter> so replicas split the messages.', examples: ['mqflow'] },
    retry: {
      type: 'object',
      description: 'Retries of a failed message before it goes to onError.',
      additionalProperties: false,
      properties: {
        maxAttempts: { type: 'integer', minimum: 1, maximum: 1000, description: 'Attempts in all, the first included. Default: 1 (no retry).' },
        delay: durationSchema('Delay before the first retry. Default: 1s.', ['500ms']),
        backoff: { enum: ['fixed', 'exponential'], description: 'fixed: the same delay each time; exponential: doubled each time. Default: exponential.' },
        maxDelay: durationSchema('Upper bound of the delay between attempts. Default: 30s.', ['30s']),
      },
    },
    onError: {
      type: 'object',
      description: 'Where a message goes when its service fails after all attempts: publish it with the error, run a service, or suspend the trigger. Give exactly one.',
      additionalProperties: false,
      properties: {
        publish: {
          type: 'object',
          description: 'Publish the original message with its error, trigger, attempt count and time to a dead-letter topic.',
          required: ['topic'],
          additionalProperties: false,
          properties: {
            connection: { type: 'string', minLength: 1, description: 'Connection to publish through. Default: the trigger\'s.' },
            topic: { type: 'string', minLength: 1, description: 'The dead-letter topic (no wildcards).', examples: ['plant/dead-letter'] },
            qos: qos('Quality of service.', 1),
            retain: { type: 'boolean', description: 'Retain the message. Default: false.' },
          },
        },
        service: { type: 'string', minLength: 1, description: 'A service run with { error, message, trigger, attempts, failedAt } as its payload.', examples: ['record-failure'] },
        suspend: {
          type: 'object',
          description: 'Stop the trigger and leave the message unacknowledged; the trigger resumes after resumeAfter and the broker redelivers the message (webMethods "stop trigger").',
          additionalProperties: false,
          properties: {
            resumeAfter: durationSchema('How long the trigger stays suspended. Default: 30s.', ['1m']),
          },
        },
      },
    },
  },
};

const service: JsonSchema = {
  type: 'object',
  description: `A pipeline of steps run for a message. ${NAME_DESCRIPTION}`,
  required: ['steps'],
  additionalProperties: false,
  properties: {
    description: { type: 'string', description: 'What this service does.' },
    input: { type: 'object', description: 'A JSON Schema (draft-07) the payload must meet before the first step.' },
    steps: { type: 'array', minItems: 1, description: 'The steps, run in order.', items: { $ref: '#/definitions/step' } },
  },
};

function stepSchema(): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    name: { type: 'string', minLength: 1, description: 'A name for the step, for readers of the flow (logs and errors name a step by its path).' },
    description: { type: 'string', description: 'What the step does.' },
  };
  for (const kind of STEP_KINDS) {
    const detail = typeof kind.schema.description === 'string' ? ` ${kind.schema.description}` : '';
    properties[kind.kind] = { ...kind.schema, description: `${kind.description}${detail}` };
  }
  return {
    type: 'object',
    description: `One step: exactly one of ${STEP_KINDS.map((k) => k.kind).join(', ')}, with an optional name and description.`,
    minProperties: 1,
    additionalProperties: false,
    properties,
  };
}

export function buildFlowSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://mqflow.dev/schemas/flow.schema.json',
    title: 'mqflow flow file',
    description: 'A flow file declares named connections, triggers and services. Every file of a flow folder may hold any of the three maps.',
    type: 'object',
    additionalProperties: false,
    patternProperties: {
      '^x-': { description: 'Ignored: a place for YAML anchors shared by several definitions (as in docker-compose).' },
    },
    properties: {
      connections: { type: 'object', description: 'Named MQTT connections.', additionalProperties: { $ref: '#/definitions/connection' } },
      triggers: { type: 'object', description: 'Named triggers: subscriptions that run a service per message.', additionalProperties: { $ref: '#/definitions/trigger' } },
      services: { type: 'object', description: 'Named services: pipelines of steps.', additionalProperties: { $ref: '#/definitions/service' } },
    },
    definitions: {
      connection,
      trigger,
      service,
      step: stepSchema(),
      steps: { type: 'array', minItems: 1, description: 'Steps, run in order.', items: { $ref: '#/definitions/step' } },
    },
  };
}

export const FLOW_SCHEMA: JsonSchema = buildFlowSchema();
