/**
 * The registry of connection options, in the order of the reference table. A connection is
 * compiled by merging what each option compiles; adding an option is its module and one line here.
 */
import { commonFields } from '../component/definition.js';
import type { DefinitionOption } from '../component/option.js';
import { fieldTable, objectSchema, type DocTable, type FieldSpec } from '../component/spec.js';
import type { JsonSchema } from '../util/json-schema.js';
import { identity } from './identity.js';
import { lifecycle, MESSAGE_FIELDS } from './lifecycle.js';
import { offlineQueue } from './offline-queue.js';
import { publishLimits } from './publish-limits.js';
import { session } from './session.js';
import { timing } from './timing.js';
import { tls, TLS_FIELDS } from './tls.js';
import { url } from './url.js';

export const CONNECTION_OPTIONS: readonly DefinitionOption<object>[] = [url, identity, session, timing, offlineQueue, publishLimits, tls, lifecycle];

export const CONNECTION_FIELDS: Readonly<Record<string, FieldSpec>> = Object.assign({}, ...CONNECTION_OPTIONS.map((o) => o.fields), commonFields('connection')) as Record<string, FieldSpec>;

export function connectionSchema(nameRule: string): JsonSchema {
  return objectSchema(`A named connection to an MQTT broker. ${nameRule}`, CONNECTION_FIELDS, CONNECTION_OPTIONS.flatMap((o) => o.required ?? []));
}

export const CONNECTION_TABLES: readonly DocTable[] = [fieldTable('connections', CONNECTION_FIELDS), fieldTable('connection-tls', TLS_FIELDS), fieldTable('connection-message', MESSAGE_FIELDS)];
