/** payload and maxPayloadBytes: how a message's bytes become the service's first payload. */
import { isUtf8 } from 'node:buffer';
import type { DefinitionOption } from '../component/option.js';
import { MessageFailure } from '../pipeline/execution.js';

export type PayloadDecoding = 'json' | 'text' | 'binary';

export const payload: DefinitionOption<{ payload: PayloadDecoding; maxPayloadBytes: number }> = {
  name: 'payload',
  fields: {
    payload: {
      schema: { enum: ['json', 'text', 'binary'], description: 'How the payload is decoded for the service: json (parsed), text (UTF-8 string) or binary (base64 string). Default: json.' },
      type: '`json`, `text`, `binary`',
      default: '`json`',
      doc: 'How the payload is decoded for the service: parsed JSON, a UTF-8 string, or a base64 string.',
    },
    maxPayloadBytes: {
      schema: { type: 'integer', minimum: 0, description: 'Payloads larger than this fail (to the error route) without being decoded. Default: 1048576 (1 MiB).' },
      type: 'integer, 0 or more',
      default: '`1048576` (1 MiB)',
      doc: 'Larger payloads fail (`MQFLOW_PAYLOAD_TOO_LARGE`) to the error route without being decoded.',
    },
  },
  example: `triggers:
  camera-frames-large:
    connection: plant
    topic: plant/+/cameras/+/frame
    payload: binary
    maxPayloadBytes: 8388608
    service: archive-frame
services:
  archive-frame:
    steps:
      - publish:
          topic: archive/{{ $wildcards[0] }}/{{ $wildcards[1] }}
`,
  compile(value) {
    return { payload: (value.payload as PayloadDecoding | undefined) ?? 'json', maxPayloadBytes: (value.maxPayloadBytes as number | undefined) ?? 1_048_576 };
  },
};

export function decodePayload(bytes: Buffer, decoding: PayloadDecoding, maxBytes: number): unknown {
  if (bytes.length > maxBytes) {
    throw new MessageFailure(`the payload is ${bytes.length} bytes, over the trigger's maxPayloadBytes (${maxBytes})`, 'MQFLOW_PAYLOAD_TOO_LARGE');
  }
  if (decoding === 'binary') return bytes.toString('base64');
  if (!isUtf8(bytes)) throw new MessageFailure(`the payload is not valid UTF-8 text (${decoding} expected)`, 'MQFLOW_PAYLOAD_ENCODING');
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte order mark is not part of the text
  if (decoding === 'text') return text;
  try {
    // JSON.parse keeps a "__proto__" key as plain data; nothing reaches Object.prototype.
    return JSON.parse(text) as unknown;
  } catch (error) {
    if (text.trim() === '') throw new MessageFailure('the payload is empty, and the trigger expects JSON', 'MQFLOW_PAYLOAD_JSON');
    throw new MessageFailure(`the payload is not valid JSON: ${(error as Error).message}`, 'MQFLOW_PAYLOAD_JSON');
  }
}

/** An error report carries at most this much of a payload that could not be decoded. */
const REPORTED_BYTES = 4096;

/**
 * How a payload that failed is carried in an error report: its text when it is UTF-8, else base64;
 * an oversized one only in part, so the report itself stays small enough to publish.
 */
export function payloadForReport(bytes: Buffer): { payload: string; payloadEncoding: 'utf8' | 'base64'; payloadBytes?: number; payloadTruncated?: true } {
  const truncated = bytes.length > REPORTED_BYTES;
  const part = truncated ? bytes.subarray(0, REPORTED_BYTES) : bytes;
  const size = truncated ? { payloadBytes: bytes.length, payloadTruncated: true as const } : {};
  try {
    return { payload: new TextDecoder('utf-8', { fatal: !truncated }).decode(part), payloadEncoding: 'utf8', ...size };
  } catch {
    return { payload: part.toString('base64'), payloadEncoding: 'base64', ...size };
  }
}
