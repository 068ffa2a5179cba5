/**
 * The flow file schema: the contract shared by the validator and editors
 * (schemas/flow.schema.json is written from this object by `mqflow schema`). It is assembled
 * from the components' specs — connection options, trigger options, step kinds — so a component
 * is validated and documented by its own module (docs/architecture.md, "Components").
 */
import { connectionSchema } from '../connections/options.js';
import { storeSchema } from '../stores/store-options.js';
import { windowSchema } from '../windows/window-options.js';
import { STEP_KINDS } from '../steps/kinds.js';
import { triggerSchema } from '../triggers/options.js';
import { endpointSchema } from '../listeners/endpoint-options.js';
import { listenerSchema } from '../listeners/listener-options.js';
import { scheduleSchema } from '../schedules/schedule-options.js';
import type { JsonSchema } from '../util/json-schema.js';

const NAME_DESCRIPTION = 'Names are letters, digits, "_" and "-", unique per kind across the flow folder.';

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
    description: 'A flow file declares named connections, stores, windows, listeners, triggers, endpoints, schedules and services. Every file of a flow folder may hold any of the eight maps.',
    type: 'object',
    additionalProperties: false,
    patternProperties: {
      '^x-': { description: 'Ignored: a place for YAML anchors shared by several definitions (as in docker-compose).' },
    },
    properties: {
      connections: { type: 'object', description: 'Named MQTT connections.', additionalProperties: { $ref: '#/definitions/connection' } },
      windows: { type: 'object', description: 'Named windows: collect steps feed them; their steps run once per key as each window closes.', additionalProperties: { $ref: '#/definitions/window' } },
      stores: { type: 'object', description: 'Named state stores for stateful steps (dedupe, changed, throttle, remember, lookup). A memory store named memory exists unless declared.', additionalProperties: { $ref: '#/definitions/store' } },
      listeners: { type: 'object', description: 'Named HTTP listeners (servers) that endpoints are bound to.', additionalProperties: { $ref: '#/definitions/listener' } },
      triggers: { type: 'object', description: 'Named triggers: subscriptions that run a service per message.', additionalProperties: { $ref: '#/definitions/trigger' } },
      schedules: { type: 'object', description: 'Named schedules: triggers that run a service every interval or at cron times.', additionalProperties: { $ref: '#/definitions/schedule' } },
      endpoints: { type: 'object', description: 'Named HTTP triggers: a method and path of a listener that run a service per request.', additionalProperties: { $ref: '#/definitions/endpoint' } },
      services: { type: 'object', description: 'Named services: pipelines of steps.', additionalProperties: { $ref: '#/definitions/service' } },
    },
    definitions: {
      connection: connectionSchema(NAME_DESCRIPTION),
      store: storeSchema('A state store: memory, disk (LMDB) or redis.'),
      window: windowSchema('A window: tumbling, sliding, count or session, keyed, with running aggregates or the collected values.'),
      listener: listenerSchema(`An HTTP server that endpoints are bound to. ${NAME_DESCRIPTION}`),
      trigger: triggerSchema(NAME_DESCRIPTION),
      schedule: scheduleSchema(`Runs a service every interval or at cron times, with a payload. ${NAME_DESCRIPTION}`),
      endpoint: endpointSchema(`An HTTP trigger: runs a service for each request to a method and path of a listener, and answers when the work is done. ${NAME_DESCRIPTION}`),
      service,
      step: stepSchema(),
      steps: { type: 'array', minItems: 1, description: 'Steps, run in order.', items: { $ref: '#/definitions/step' } },
    },
  };
}

export const FLOW_SCHEMA: JsonSchema = buildFlowSchema();
