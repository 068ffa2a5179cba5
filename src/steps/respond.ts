/**
 * respond: the answer to a request that came to an endpoint (an HTTP trigger). It is sent when the
 * message is done — its publishes acknowledged, its state committed (docs/architecture.md,
 * invariant 47) — not when the step runs; the last respond of the message wins. A message that did
 * not come over HTTP ignores it, so a service can serve both.
 */
import { fieldRows, objectSchema, type FieldSpec } from '../component/spec.js';
import type { Expression } from '../expr/expression.js';
import type { Template } from '../expr/template.js';
import { evaluate, render } from '../pipeline/evaluate.js';
import { MessageFailure, type Execution } from '../pipeline/execution.js';
import { after, type Maybe } from '../util/maybe.js';
import { formatPath } from '../util/path.js';
import { CONTINUE, type StepData, type StepKind } from './kind.js';

export interface RespondStep extends StepData {
  readonly kind: 'respond';
  readonly status: number;
  /** Undefined: the current payload. */
  readonly body?: Expression;
  readonly headers: readonly { readonly name: string; readonly value: Template }[];
  readonly contentType?: string;
}

interface RespondValue {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  contentType?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const OWN_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'content-type']);

const FIELDS: Readonly<Record<string, FieldSpec>> = {
  status: { schema: { type: 'integer', minimum: 200, maximum: 299, description: 'The status: a success (2xx). Default: 200.' }, type: 'integer, 200–299', default: '`200`', doc: 'The status. Only a success: failures are answered by mqflow (4xx, 5xx) from the message\'s failure.' },
  body: { schema: { type: 'string', minLength: 1, description: 'A JSONata expression for the body. Default: the current payload.', examples: ['{ "accepted": true, "id": id }'] }, type: 'JSONata expression', default: 'the payload', doc: 'The body: text is sent as `text/plain`, anything else as JSON. Nothing (undefined) sends no body.' },
  headers: { schema: { type: 'object', description: 'Response headers: name → text template.', additionalProperties: { type: 'string' }, examples: [{ Location: '/doors/{{ door }}' }] }, type: 'map of templates', default: 'none', doc: 'Response headers: name → text with `{{ }}` parts; a value with a line break fails the message.' },
  contentType: { schema: { type: 'string', minLength: 1, description: 'The Content-Type. Default: application/json, or text/plain for text.' }, type: 'string', default: '`application/json`; `text/plain; charset=utf-8` for text', doc: 'The `Content-Type` of the body.' },
};

export const respond: StepKind<RespondValue, RespondStep> = {
  kind: 'respond',
  description: 'Answer the request an endpoint (HTTP trigger) received; sent once the message is done.',
  schema: objectSchema('The answer to an HTTP request.', FIELDS),
  summary: { does: 'sets the answer to an endpoint\'s request, sent once the message is done', changesPayload: 'no' },
  table: fieldRows(FIELDS),
  example: `services:
  door-to-mqtt:
    steps:
      - publish:
          topic: plant/doors/{{ $message.http.params.door }}/opened
      - respond:
          status: 202
          body: '{ "accepted": true }'
`,
  compile(value, header, path, c) {
    let ok = true;
    const headers: { name: string; value: Template }[] = [];
    for (const [name, text] of Object.entries(value.headers ?? {})) {
      const at = [...path, 'headers', name];
      if (!TOKEN.test(name) || OWN_HEADERS.has(name.toLowerCase())) {
        c.problem(at, 'MQFLOW_HTTP_HEADER', `${formatPath(at)}: ${TOKEN.test(name) ? `the ${name} header is set by mqflow` : `"${name}" is not a header name`}`, name.toLowerCase() === 'content-type' ? 'use contentType' : 'remove it');
        ok = false;
        continue;
      }
      const template = c.template(text, at);
      if (template === undefined) ok = false;
      else headers.push({ name, value: template });
    }
    const body = value.body === undefined ? undefined : c.expression(value.body, [...path, 'body']);
    if (!ok || (value.body !== undefined && body === undefined)) return undefined;
    return { kind: 'respond', ...header, status: value.status ?? 200, ...(body === undefined ? {} : { body }), headers, ...(value.contentType === undefined ? {} : { contentType: value.contentType }) };
  },
  run(step, exec) {
    const answer = exec.respond;
    if (answer === undefined) return CONTINUE;
    return after(step.body === undefined ? exec.payload : evaluate(step.body, exec.payload, exec, step), (value) =>
      after(renderHeaders(step, exec), (headers) => {
        let body: string | Buffer | undefined;
        if (value !== undefined) {
          body = typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value);
          headers['content-type'] = step.contentType ?? (typeof value === 'string' ? 'text/plain; charset=utf-8' : Buffer.isBuffer(value) ? 'application/octet-stream' : 'application/json');
        }
        answer({ status: step.status, headers, ...(body === undefined ? {} : { body }) });
        return CONTINUE;
      }),
    );
  },
};

function renderHeaders(step: RespondStep, exec: Execution): Maybe<Record<string, string>> {
  const out: Record<string, string> = {};
  const from = (i: number): Maybe<Record<string, string>> => {
    for (; i < step.headers.length; i++) {
      const { name, value } = step.headers[i]!;
      const text = render(value, exec, step);
      if (text instanceof Promise) {
        const next = i + 1;
        return text.then((t) => {
          out[name] = checked(step, name, t);
          return from(next);
        });
      }
      out[name] = checked(step, name, text);
    }
    return out;
  };
  return from(0);
}

function checked(step: RespondStep, name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new MessageFailure(`${step.path}: the value of header ${name} contains a line break or NUL`, 'MQFLOW_HTTP_HEADER', { path: step.path, at: step.at }, { permanent: true });
  return value;
}
