/** compile: HTTP listeners and endpoints (src/listeners), and schedules (src/schedules): the triggers that are not MQTT subscriptions. */
import { compileListener } from '../listeners/listener-options.js';
import { ENDPOINT_OPTIONS } from '../listeners/endpoint-options.js';
import { revealSecrets } from '../util/secret.js';
import { definitionHeader, report, type CompileContext, type Located } from './compile-context.js';
import type { ErrorRoute } from '../triggers/on-error.js';
import { compileOptions, componentCompiler } from './component-compiler.js';
import type { Endpoint, Listener, Schedule } from './model.js';
import { SCHEDULE_OPTIONS } from '../schedules/schedule-options.js';

export function compileListenerDefinition(context: CompileContext, def: Located<Record<string, unknown>>): Listener | undefined {
  let failed = false;
  const settings = compileListener(def.value, def.path, componentCompiler(context, def, () => (failed = true)));
  if (settings === undefined || failed || def.broken(def.path)) return undefined;
  // The settings decide "changed" (a changed listener is opened again); secrets count by value, never shown.
  return { ...definitionHeader(def, revealSecrets(settings)), ...settings };
}

/** An endpoint; publishes naming no connection go through its `connection`, or `onlyConnection`. */
export function compileEndpoint(context: CompileContext, def: Located<Record<string, unknown>>, onlyConnection: string | undefined): Endpoint | undefined {
  const parts = compileOptions(context, def, ENDPOINT_OPTIONS) as Omit<Endpoint, 'name' | 'at' | 'enabled' | 'fingerprint'> | undefined;
  if (parts === undefined) return undefined;
  warnSuspend(context, def, parts.onError, 'a failed request is answered 503 (its sender sends it again) and the endpoint goes on');
  const connection = parts.connection ?? onlyConnection;
  return { ...definitionHeader(def, def.value), ...parts, ...(connection === undefined ? {} : { connection }) };
}

/** A schedule: its fires run one at a time, in order, as messages of a serial trigger runner. */
export function compileSchedule(context: CompileContext, def: Located<Record<string, unknown>>, onlyConnection: string | undefined): Schedule | undefined {
  const parts = compileOptions(context, def, SCHEDULE_OPTIONS) as Omit<Schedule, 'name' | 'at' | 'enabled' | 'fingerprint' | 'processing' | 'payload' | 'maxPayloadBytes'> | undefined;
  if (parts === undefined) return undefined;
  warnSuspend(context, def, parts.onError, 'a failed fire is dropped (not kept as done) and the schedule goes on');
  const connection = parts.connection ?? onlyConnection;
  return { ...definitionHeader(def, def.value), ...parts, processing: { mode: 'serial' }, payload: 'json', maxPayloadBytes: Number.MAX_SAFE_INTEGER, ...(connection === undefined ? {} : { connection }) };
}

/** onError: suspend stops an MQTT subscription, which endpoints and schedules do not have. */
function warnSuspend(context: CompileContext, def: Located<Record<string, unknown>>, route: ErrorRoute | undefined, instead: string): void {
  if (route?.kind !== 'suspend') return;
  report(context, def.file, [...def.path, 'onError'], 'MQFLOW_SUSPEND_NOT_MQTT', `${def.path.join('.')}.onError: suspend stops an MQTT subscription; here ${instead}`, 'use publish or service to keep the failures', 'warning');
}
