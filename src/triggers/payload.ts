/** payload and maxPayloadBytes: how a message's bytes become the service's first payload (codecs: docs/codecs.md). */
import { isUtf8 } from 'node:buffer';
import type { PayloadCodec } from '../codecs/codec.js';
import type { SparkplugSettings } from '../codecs/sparkplug/session.js';
import { codecSchema, compileCodec, type CodecName } from '../component/codec.js';
import type { DefinitionOption } from '../component/option.js';
import { formatPath } from '../util/path.js';
import { MessageFailure } from '../pipeline/execution.js';

export type PayloadDecoding = CodecName;

/** A trigger's or endpoint's decoding, as compiled. */
export interface PayloadPart {
  readonly payload: PayloadDecoding;
  /** cbor, protobuf: the codec. */
  readonly codec?: PayloadCodec;
  /** sparkplugB: decoded by the host, which keeps the edge nodes' alias tables. */
  readonly sparkplug?: SparkplugSettings;
  readonly maxPayloadBytes: number;
}

export const payload: DefinitionOption<PayloadPart> = {
  name: 'payload',
  fields: {
    payload: {
      schema: codecSchema('decode', 'How the payload is decoded for the service (docs/codecs.md): json (parsed), text (UTF-8 string), binary (base64 string), cbor, { protobuf: { file, type } }, sparkplugB or { sparkplugB: { store, rebirth, sequence } }. Default: json.'),
      type: '`json`, `text`, `binary`, `cbor`, `sparkplugB`, or a map: `protobuf: { file, type }`, `sparkplugB: { store, rebirth, sequence }`',
      default: '`json`',
      doc: 'How the payload is decoded for the service: parsed JSON, a UTF-8 string, a base64 string, CBOR, Protocol Buffers, or Sparkplug B ([codecs](codecs.md)).',
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
  compile(value, path, c) {
    const at = [...path, 'payload'];
    const setting = c.broken(at) ? undefined : compileCodec(value.payload, at, c, 'decode');
    if (setting === undefined) return undefined;
    if (setting.name === 'sparkplugB' && path[0] === 'endpoints') {
      c.problem(at, 'MQFLOW_PAYLOAD_CODEC', `${formatPath(at)}: sparkplugB decodes MQTT messages (it reads the topic); an HTTP request has none`, 'use json, cbor or protobuf here');
      return undefined;
    }
    return {
      payload: setting.name,
      ...(setting.codec === undefined ? {} : { codec: setting.codec }),
      ...(setting.sparkplug === undefined ? {} : { sparkplug: setting.sparkplug }),
      maxPayloadBytes: (value.maxPayloadBytes as number | undefined) ?? 1_048_576,
    };
  },
};

/** Decodes with every codec but sparkplugB (which the host decodes, see MessageHost.decode). */
export function decodePayload(bytes: Buffer, part: Pick<PayloadPart, 'payload' | 'codec' | 'maxPayloadBytes'>): unknown {
  checkPayloadSize(bytes, part.maxPayloadBytes);
  const decoding = part.payload;
  if (part.codec !== undefined) return part.codec.decode(bytes);
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

export function checkPayloadSize(bytes: Buffer, maxBytes: number): void {
  if (bytes.length > maxBytes) {
    throw new MessageFailure(`the payload is ${bytes.length} bytes, over the trigger's maxPayloadBytes (${maxBytes})`, 'MQFLOW_PAYLOAD_TOO_LARGE');
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
