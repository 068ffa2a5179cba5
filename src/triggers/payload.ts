/** Decodes a message payload as its trigger says: json, text (UTF-8) or binary (base64 text). */
import { isUtf8 } from 'node:buffer';
import type { PayloadDecoding } from '../flow/model.js';
import { MessageFailure } from '../pipeline/execution.js';

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
