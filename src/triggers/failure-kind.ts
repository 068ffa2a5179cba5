/**
 * Failure kinds: every code a message can fail with is **transient** (the same message, tried
 * again unchanged, may succeed: a broker, the network, a store, a timeout, an HTTP 5xx) or
 * **deterministic** (it fails the same way every time: the payload, a schema, an expression, a
 * value a codec or a store cannot take). `retry.failures` says which kinds a trigger retries
 * (docs/flow-language.md, "Failure kinds"); the error report carries the kind (`error.kind`).
 *
 * One table, so a code is classified once: test/unit/triggers/failure-kind.test.ts finds every
 * code mqflow fails a message with in src/ and fails when one is missing here.
 */
import type { DocTable } from '../component/spec.js';

export type FailureKind = 'transient' | 'deterministic';

export interface FailureCode {
  readonly kind: FailureKind;
  /** What fails with this code, for the reference table. */
  readonly doc: string;
  /** For a transient code: when a failure of it is deterministic after all (the failure says so, `permanent`). */
  readonly deterministicWhen?: string;
}

const transient = (doc: string, deterministicWhen?: string): FailureCode => ({ kind: 'transient', doc, ...(deterministicWhen === undefined ? {} : { deterministicWhen }) });
const deterministic = (doc: string): FailureCode => ({ kind: 'deterministic', doc });

/** Every `MQFLOW_…` code a message can fail with, by kind; in the order of the reference table. */
export const FAILURE_CODES: ReadonlyMap<string, FailureCode> = new Map([
  // The payload as it came: decoding it again gives the same answer.
  ['MQFLOW_PAYLOAD_JSON', deterministic('The payload is not JSON (or is empty).')],
  ['MQFLOW_PAYLOAD_ENCODING', deterministic('The payload is not UTF-8 text.')],
  ['MQFLOW_PAYLOAD_TOO_LARGE', deterministic('The payload is over `maxPayloadBytes`.')],
  ['MQFLOW_PAYLOAD_CBOR', deterministic('The payload is not CBOR.')],
  ['MQFLOW_PAYLOAD_PROTOBUF', deterministic('The payload is not the Protocol Buffers message.')],
  ['MQFLOW_PAYLOAD_SPARKPLUG', deterministic('The payload or topic is not Sparkplug B.')],
  // Schemas and expressions: the same data fails the same way.
  ['MQFLOW_INPUT', deterministic('The payload does not match the service\'s `input` schema.')],
  ['MQFLOW_VALIDATE', deterministic('The payload does not match a `validate` step\'s schema.')],
  ['MQFLOW_EXPRESSION', deterministic('An expression failed without a JSONata code.')],
  ['MQFLOW_EXPRESSION_LIMIT', deterministic('An expression built more than the expression bounds allow.')],
  ['MQFLOW_UNKNOWN_SERVICE', deterministic('The service to run does not exist.')],
  // What a step was asked to send or keep: the same value is refused again.
  ['MQFLOW_PUBLISH_EMPTY', deterministic('The payload to publish evaluated to nothing.')],
  ['MQFLOW_PUBLISH_TOPIC', deterministic('A topic filled from the message is not a valid topic.')],
  ['MQFLOW_PUBLISH_TOO_LARGE', deterministic('The publish is over the broker\'s maximum packet size.')],
  ['MQFLOW_PUBLISH_NO_CONNECTION', deterministic('The connection to publish through is not running (disabled or not defined).')],
  ['MQFLOW_PUBLISH_REFUSED', deterministic('The broker refused the publish (MQTT 5 reason code 0x80 or more: not authorized, topic or payload invalid, …).')],
  ['MQFLOW_ENCODE_TEXT', deterministic('The value cannot be sent with codec `text`.')],
  ['MQFLOW_ENCODE_BINARY', deterministic('The value cannot be sent with codec `binary`.')],
  ['MQFLOW_ENCODE_CBOR', deterministic('The value cannot be encoded as CBOR.')],
  ['MQFLOW_ENCODE_PROTOBUF', deterministic('The value does not fit the Protocol Buffers message.')],
  ['MQFLOW_ENCODE_SPARKPLUG', deterministic('The value or topic cannot be sent as Sparkplug B.')],
  ['MQFLOW_REPLY_TOPIC', deterministic('A `reply` step\'s response topic is outside `allow`.')],
  ['MQFLOW_REQUEST_PROTOCOL', deterministic('A `request` step\'s connection speaks MQTT 3.1.1.')],
  ['MQFLOW_REQUEST_NO_REPLY', deterministic('Nothing answers requests here (`mqflow invoke`, `mqflow test`).')],
  ['MQFLOW_REQUEST_DRY_RUN', deterministic('`mqflow invoke` sends no request without `--live`.')],
  ['MQFLOW_INVOKE_EMPTY_LEVEL', deterministic('`mqflow invoke --live`: a publish topic has an empty level where a wildcard was not filled.')],
  ['MQFLOW_HTTP_URL', deterministic('A URL value is `.` or `..`.')],
  ['MQFLOW_HTTP_HEADER', deterministic('A header value holds a line break or NUL.')],
  ['MQFLOW_HTTP_RESPONSE', deterministic('The response says JSON and is not.')],
  ['MQFLOW_HTTP_RESPONSE_TOO_LARGE', deterministic('The response is over `maxResponseBytes`.')],
  ['MQFLOW_HTTP_DRY_RUN', deterministic('`mqflow invoke` sends no such request without `--live`.')],
  ['MQFLOW_STATE_LIMIT', deterministic('A state key or value is over its store\'s limits.')],
  ['MQFLOW_STATE_VALUE', deterministic('A state key or value cannot be stored.')],
  ['MQFLOW_WINDOW', deterministic('No window of that name is open here.')],
  ['MQFLOW_WINDOW_KEY', deterministic('A window\'s key or id is neither text nor a number.')],
  ['MQFLOW_WINDOW_TIME', deterministic('A window\'s event time is not a time.')],
  ['MQFLOW_WINDOW_LATE', deterministic('Every window the event time falls in has closed.')],
  ['MQFLOW_WINDOW_LIMIT', deterministic('A window would open beyond `maxOpen`.')],
  // Something outside the message: the broker, the network, a store, a server.
  ['MQFLOW_PUBLISH_QUEUE_FULL', transient('The connection is down and its offline queue is full.')],
  ['MQFLOW_PUBLISH_STOPPED', transient('The connection is stopping.')],
  ['MQFLOW_PUBLISH_FAILED', transient('A publish failed (the connection was lost while it waited).')],
  ['MQFLOW_PUBLISH_TIMEOUT', transient('No acknowledgement within `publishTimeout`.')],
  ['MQFLOW_REQUEST_TIMEOUT', transient('No reply within a `request` step\'s `timeout`.')],
  ['MQFLOW_REQUEST_FAILED', transient('A `request` step failed otherwise.')],
  ['MQFLOW_HTTP_TIMEOUT', transient('No response within an `http` step\'s `timeout`.')],
  ['MQFLOW_HTTP_CONNECT', transient('The request could not be sent (refused, reset, DNS, TLS).', 'when no HTTP client is there (a stub missing in `mqflow test`)')],
  ['MQFLOW_HTTP_STATUS', transient('The server answered 5xx, 408, 425 or 429.', 'for any other status the step does not allow (a 3xx or 4xx)')],
  ['MQFLOW_STATE_UNAVAILABLE', transient('A store did not answer (or is not open).')],
  ['MQFLOW_STATE_BUSY', transient('A state key was held too long by another message or replica.')],
  ['MQFLOW_LOOKUP_MISSING', transient('A `lookup` with `required: true` found nothing (another message may store it).')],
  ['MQFLOW_FAILED', transient('An error mqflow has no code for: retried, as it may pass.')],
]);

/** JSONata's own codes (T2001, D3137 from `$error()`, D1012 a time limit …): the expression does not fit the data. */
const JSONATA_CODE = /^[DSTU]\d{4}$/;

/**
 * The kind of a failure: deterministic when the failure says it would fail again (`permanent`,
 * e.g. an HTTP 404), else by its code; JSONata's codes are deterministic, and a code mqflow does
 * not know (a library's error passed through) transient, as a retry may get past it.
 */
export function failureKind(failure: { readonly code: string; readonly permanent?: boolean }): FailureKind {
  if (failure.permanent === true) return 'deterministic';
  const known = FAILURE_CODES.get(failure.code);
  if (known !== undefined) return known.kind;
  return JSONATA_CODE.test(failure.code) ? 'deterministic' : 'transient';
}

/** The reference table of docs/flow-language.md ("Failure kinds"). */
export const FAILURE_KIND_TABLE: DocTable = {
  id: 'failure-kinds',
  header: ['Code', 'Kind', 'Fails when'],
  rows: [
    ...[...FAILURE_CODES].map(([code, f]) => [`\`${code}\``, f.deterministicWhen === undefined ? f.kind : `${f.kind}; deterministic ${f.deterministicWhen}`, f.doc]),
    ['JSONata\'s codes (`T2001`, `D3137`, …)', 'deterministic', 'An expression raised an error: a type error, `$error()`, a time or depth limit.'],
    ['any other code', 'transient', 'An error passed through from a library, with its own code.'],
  ],
};
