/**
 * endpoints: HTTP triggers. Each binds a method and a path of a listener to a service; a request
 * is a message of its own trigger runner (retries, error route, queue bound), answered once the
 * work is done (docs/architecture.md, invariant 47).
 */
import { commonFields } from '../component/definition.js';
import type { DefinitionOption } from '../component/option.js';
import { fieldTable, objectSchema, type DocTable, type FieldSpec } from '../component/spec.js';
import { HTTP_METHODS } from '../steps/http.js';
import { onError } from '../triggers/on-error.js';
import { payload } from '../triggers/payload.js';
import { processing } from '../triggers/processing.js';
import { retry } from '../triggers/retry.js';
import type { JsonSchema } from '../util/json-schema.js';
import { formatPath } from '../util/path.js';

export interface Route {
  readonly listener: string;
  readonly method: (typeof HTTP_METHODS)[number];
  /** `/hooks/doors/{door}`: `{name}` is one segment, a last `{name*}` the rest. */
  readonly path: string;
  readonly service: string;
  /** The connection publishes without one go through; undefined: the folder's only connection. */
  readonly connection?: string;
  readonly queueSize: number;
}

export const route: DefinitionOption<Route> = {
  name: 'route',
  fields: {
    listener: { schema: { type: 'string', minLength: 1, description: 'The listener (under listeners:) that takes the requests.', examples: ['webhooks'] }, type: 'string', default: 'required', doc: 'The listener (under `listeners:`) that takes the requests.' },
    method: { schema: { enum: [...HTTP_METHODS], description: 'The HTTP method. Default: POST.' }, type: HTTP_METHODS.map((m) => `\`${m}\``).join(', '), default: '`POST`', doc: 'The HTTP method; another method on the same path gets 405.' },
    path: {
      schema: { type: 'string', pattern: '^/', description: 'The path: literal segments, {name} for one segment, and a last {name*} for the rest.', examples: ['/hooks/doors/{door}'] },
      type: 'string',
      default: 'required',
      doc: 'The path: literal segments, `{name}` for one segment and a last `{name*}` for the rest. Services read the values as `$message.http.params.name`, and in order as `$wildcards`.',
    },
    service: { schema: { type: 'string', minLength: 1, description: 'The service to run for each request.', examples: ['door-to-mqtt'] }, type: 'string', default: 'required', doc: 'The service to run for each request.' },
    connection: { schema: { type: 'string', minLength: 1, description: 'The connection publish steps without one use. Default: the only connection of the folder.', examples: ['plant'] }, type: 'string', default: 'the folder\'s only connection', doc: 'The connection that `publish` steps naming none go through.' },
    queueSize: { schema: { type: 'integer', minimum: 1, maximum: 100_000, description: 'The most requests held at once (running or waiting); more get 503. Default: 100.' }, type: 'integer', default: '`100`', doc: 'The most requests the endpoint holds at once, running or waiting their turn; more get 503 with `Retry-After`.' },
  },
  required: ['listener', 'path', 'service'],
  example: `listeners:
  door-hooks:
    port: 8081
endpoints:
  door-opened:
    listener: door-hooks
    path: /hooks/doors/{door}
    service: door-opened
services:
  door-opened:
    steps:
      - publish:
          connection: plant
          topic: plant/doors/{{ $message.http.params.door }}/opened
      - respond:
          status: 202
`,
  compile(value, path, c) {
    if (typeof value.listener === 'string') c.refer('listener', value.listener, [...path, 'listener']);
    if (typeof value.service === 'string') c.refer('service', value.service, [...path, 'service']);
    if (typeof value.connection === 'string') c.refer('connection', value.connection, [...path, 'connection']);
    const routePath = value.path as string;
    const at = [...path, 'path'];
    const segments = routePath.split('/').slice(1);
    const names = new Set<string>();
    for (const [i, segment] of segments.entries()) {
      if (!segment.includes('{') && !segment.includes('}')) continue;
      const param = /^\{([A-Za-z_][A-Za-z0-9_]*)(\*?)\}$/.exec(segment);
      const problem =
        param === null
          ? `segment "${segment}" must be literal text, or a whole {name}`
          : param[2] === '*' && i !== segments.length - 1
            ? `{${param[1]}*} must be the last segment`
            : names.has(param[1]!)
              ? `{${param[1]}} is named twice`
              : undefined;
      if (problem !== undefined) {
        c.problem(at, 'MQFLOW_ENDPOINT_PATH', `${formatPath(at)}: ${problem} (got ${c.quote(at, routePath)})`, 'e.g. /hooks/doors/{door}');
        return undefined;
      }
      names.add(param![1]!);
    }
    return {
      listener: value.listener as string,
      method: (value.method as Route['method'] | undefined) ?? 'POST',
      path: routePath,
      service: value.service as string,
      ...(value.connection === undefined ? {} : { connection: value.connection as string }),
      queueSize: (value.queueSize as number | undefined) ?? 100,
    };
  },
};

export const ENDPOINT_OPTIONS: readonly DefinitionOption<object>[] = [route, processing, payload, retry, onError];

function endpointFields(): Record<string, FieldSpec> {
  const all: Record<string, FieldSpec> = {};
  for (const option of ENDPOINT_OPTIONS) Object.assign(all, option.fields);
  return { ...all, ...commonFields('trigger') };
}

export const ENDPOINT_FIELDS: Readonly<Record<string, FieldSpec>> = endpointFields();

export function endpointSchema(description: string): JsonSchema {
  return objectSchema(description, ENDPOINT_FIELDS, ENDPOINT_OPTIONS.flatMap((o) => o.required ?? []));
}

export const ENDPOINT_TABLE: DocTable = fieldTable('endpoint', ENDPOINT_FIELDS);
