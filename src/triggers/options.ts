/**
 * The registry of trigger options, in the order of the reference table. A trigger is compiled by
 * merging what each option compiles; adding an option is its module and one line here.
 */
import { commonFields } from '../component/definition.js';
import type { DefinitionOption } from '../component/option.js';
import { fieldTable, objectSchema, type DocTable, type FieldSpec } from '../component/spec.js';
import type { JsonSchema } from '../util/json-schema.js';
import { delivery } from './delivery.js';
import { FAILURE_KIND_TABLE } from './failure-kind.js';
import { ON_ERROR_FIELDS, onError } from './on-error.js';
import { payload } from './payload.js';
import { processing } from './processing.js';
import { RETRY_FIELDS, retry } from './retry.js';
import { subscription } from './subscription.js';

export const TRIGGER_OPTIONS: readonly DefinitionOption<object>[] = [subscription, processing, payload, delivery, retry, onError];

/** Every field of a trigger, in the reference table's order. */
function triggerFields(): Record<string, FieldSpec> {
  const all: Record<string, FieldSpec> = {};
  for (const option of TRIGGER_OPTIONS) Object.assign(all, option.fields);
  // The table reads best with connection, topic and service first, then the rest as listed.
  const order = ['connection', 'topic', 'service', 'qos', 'processing', 'maxConcurrency', 'payload', 'maxPayloadBytes', 'ack', 'queueSize', 'share', 'retry', 'onError'];
  const sorted: Record<string, FieldSpec> = {};
  for (const key of [...order, ...Object.keys(all)]) if (all[key] !== undefined) sorted[key] = all[key];
  return { ...sorted, ...commonFields('trigger') };
}

export const TRIGGER_FIELDS: Readonly<Record<string, FieldSpec>> = triggerFields();

export function triggerSchema(nameRule: string): JsonSchema {
  const required = TRIGGER_OPTIONS.flatMap((o) => o.required ?? []);
  return objectSchema(`Subscribes a connection to topic filters and runs a service for each message. ${nameRule}`, TRIGGER_FIELDS, required);
}

export const TRIGGER_TABLES: readonly DocTable[] = [
  fieldTable('triggers', TRIGGER_FIELDS),
  fieldTable('trigger-retry', RETRY_FIELDS),
  FAILURE_KIND_TABLE,
  { id: 'trigger-on-error', header: ['Field', 'Type', 'Description'], rows: Object.entries(ON_ERROR_FIELDS).map(([name, f]) => [`\`${name}\``, f.type, f.doc]) },
];
