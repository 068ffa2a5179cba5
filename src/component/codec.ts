/**
 * The codec a trigger's `payload:` or a publish step's `codec:` names (docs/codecs.md): a name
 * (`json`, `cbor`, `sparkplugB`, …) or a map with the codec's settings (`protobuf: { file, type }`,
 * `sparkplugB: { store, rebirth, sequence }`), compiled once at load.
 */
import { createHash } from 'node:crypto';
import { cbor } from '../codecs/cbor.js';
import type { PayloadCodec } from '../codecs/codec.js';
import { compileProtobuf } from '../codecs/protobuf.js';
import type { SparkplugSettings } from '../codecs/sparkplug/session.js';
import { DURATION_PATTERN, durationMs } from '../util/duration.js';
import type { JsonSchema } from '../util/json-schema.js';
import { formatPath, type ValuePath } from '../util/path.js';
import type { ComponentCompiler } from './compiler.js';

export const CODEC_NAMES = ['json', 'text', 'binary', 'cbor', 'protobuf', 'sparkplugB'] as const;
export type CodecName = (typeof CODEC_NAMES)[number];

/** A compiled codec setting: the name, and what the name alone does not say. */
export interface CodecSetting {
  readonly name: CodecName;
  /** cbor and protobuf: the codec itself. */
  readonly codec?: PayloadCodec;
  /** sparkplugB on a trigger. */
  readonly sparkplug?: SparkplugSettings;
}

const REBIRTH_DEFAULT_MS = 30_000;
/** A duration, or off. */
export const REBIRTH_PATTERN = `^\\s*off\\s*$|${DURATION_PATTERN}`;

const protobufSchema: JsonSchema = {
  type: 'object',
  description: 'Protocol Buffers: the message type of a .proto file, compiled at load.',
  required: ['file', 'type'],
  additionalProperties: false,
  properties: {
    file: { type: 'string', minLength: 1, description: 'The .proto file, relative to the flow file. Its imports are read relative to it.', examples: ['proto/telemetry.proto'] },
    type: { type: 'string', minLength: 1, description: 'The fully qualified message type.', examples: ['acme.telemetry.Reading'] },
  },
};

const sparkplugSchema: JsonSchema = {
  type: 'object',
  description: 'Sparkplug B: where the alias tables are kept, when to ask for a rebirth, whether seq is checked.',
  additionalProperties: false,
  properties: {
    store: { type: 'string', minLength: 1, description: 'The state store the alias tables are kept in: disk to keep them across restarts, redis to share them between replicas. Default: memory.' },
    rebirth: {
      description: 'At most one Node Control/Rebirth request per edge node per this duration, on a sequence gap, DATA before BIRTH or an unknown alias; off: never. Default: 30s.',
      anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: REBIRTH_PATTERN }],
      examples: ['30s', 'off'],
    },
    sequence: { enum: ['check', 'ignore'], description: 'check: a seq that is not the previous + 1 (mod 256) is reported; ignore: not checked (replicas on a shared subscription). Default: check.' },
  },
};

/** The schema of `payload:` (decoding: sparkplugB takes settings) or `codec:` (encoding). */
export function codecSchema(role: 'decode' | 'encode', description: string): JsonSchema {
  const names = CODEC_NAMES.filter((n) => n !== 'protobuf');
  // One map branch (not one per codec): a mistake inside it is reported at its own key.
  const settings: JsonSchema = {
    type: 'object',
    description: 'A codec with settings: one key, the codec.',
    minProperties: 1,
    maxProperties: 1,
    additionalProperties: false,
    properties: { protobuf: protobufSchema, ...(role === 'decode' ? { sparkplugB: sparkplugSchema } : {}) },
  };
  return { description, anyOf: [{ enum: names }, settings] };
}

/** Compiles the codec value at `path` (schema-valid). Undefined when a problem was reported. */
export function compileCodec(value: unknown, path: ValuePath, c: ComponentCompiler, role: 'decode' | 'encode'): CodecSetting | undefined {
  if (value === undefined) return { name: 'json' };
  if (typeof value === 'string') {
    const name = value as CodecName;
    if (name === 'cbor') return { name, codec: cbor };
    if (name === 'sparkplugB' && role === 'decode') return { name, sparkplug: sparkplugSettings({}) };
    return { name };
  }
  const map = value as { protobuf?: { file: string; type: string }; sparkplugB?: Record<string, unknown> };
  if (map.sparkplugB !== undefined) {
    if (map.sparkplugB.store !== undefined) c.refer('store', map.sparkplugB.store as string, [...path, 'sparkplugB', 'store']);
    return { name: 'sparkplugB', sparkplug: sparkplugSettings(map.sparkplugB) };
  }
  const { file, type } = map.protobuf!;
  const filePath = [...path, 'protobuf', 'file'];
  const digest = createHash('sha256');
  const readFile = (p: string): string => {
    const text = c.read(p);
    digest.update(p).update('\0').update(text).update('\0');
    return text;
  };
  const compiled = compileProtobuf({ file: c.resolvePath(file), type, readFile });
  if ('problem' in compiled) {
    const { problem } = compiled;
    const typePath = [...path, 'protobuf', 'type'];
    if (problem.line !== undefined) c.problemInFile(problem.file, problem.line, problem.column ?? 1, 'MQFLOW_PROTOBUF', problem.message, problem.hint ?? `fix the .proto file (named at ${formatPath(filePath)})`);
    else if (/defines no message type/.test(problem.message)) c.problem(typePath, 'MQFLOW_PROTOBUF', `${formatPath(typePath)}: ${problem.message}`, problem.hint);
    else if (problem.file === c.resolvePath(file) && problem.message.startsWith('cannot read')) {
      const reason = /ENOENT/.test(problem.message) ? 'no such file' : problem.message.replace(/^cannot read [^:]*: /, '');
      c.problem(filePath, 'MQFLOW_PROTOBUF', `${formatPath(filePath)}: cannot read ${c.quote(filePath, file)}: ${reason}`, 'the path is relative to the flow file');
    } else c.problem(filePath, 'MQFLOW_PROTOBUF', `${formatPath(filePath)}: ${problem.message}`, problem.hint);
    return undefined;
  }
  const { codec } = compiled;
  const source = digest.digest('hex').slice(0, 16);
  return { name: 'protobuf', codec: { label: codec.label, source, decode: (bytes) => codec.decode(bytes), encode: (value) => codec.encode(value) } };
}

function sparkplugSettings(value: Readonly<Record<string, unknown>>): SparkplugSettings {
  const rebirth = value.rebirth as string | number | undefined;
  return {
    store: (value.store as string | undefined) ?? 'memory',
    rebirthMs: typeof rebirth === 'string' && rebirth.trim() === 'off' ? undefined : rebirth === undefined ? REBIRTH_DEFAULT_MS : durationMs(rebirth),
    sequence: (value.sequence as 'check' | 'ignore' | undefined) ?? 'check',
  };
}
