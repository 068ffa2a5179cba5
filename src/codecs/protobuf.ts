/**
 * The protobuf codec: a .proto file (and what it imports) compiled once at load with protobufjs,
 * then one message type decoded to and encoded from the proto3 JSON form.
 */
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import protobuf from 'protobufjs';
import { MessageFailure } from '../pipeline/execution.js';
import type { PayloadCodec } from './codec.js';

export interface ProtobufProblem { file: string; line?: number; column?: number; message: string; hint?: string }

export type CompiledProtobuf = { codec: PayloadCodec; files: readonly string[] } | { problem: ProtobufProblem };

export interface ProtobufOptions {
  /** Absolute path of the .proto file; its folder bounds what it may import. */
  file: string;
  /** The fully qualified message type, e.g. `acme.Telemetry`. */
  type: string;
  readFile: (absolutePath: string) => string;
}

/**
 * The proto3 JSON mapping, as protobufjs writes it: 64-bit integers as decimal strings, enums as
 * names, bytes as base64, absent fields as their defaults ([] and {} for repeated and map fields,
 * null for messages), NaN and Infinity as strings. Field names are protobufjs' camelCase, the
 * proto3 JSON name of a lower_snake_case name (but `a_1` stays `a_1`, and json_name is not read).
 * No `oneofs: true`: proto3 JSON has no such key, and each proto3 `optional` field would gain
 * one (`_name: "name"`); which member of a oneof is set shows by which one is present.
 */
const JSON_FORM: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: true, json: true };

export function compileProtobuf(options: ProtobufOptions): CompiledProtobuf {
  const root = new protobuf.Root();
  const loaded = load(root, options);
  if ('problem' in loaded) return loaded;
  try {
    root.resolveAll();
  } catch (error) {
    const field = allTypes(root).flatMap((t) => t.fieldsArray).find((f) => { try { f.resolve(); return false; } catch { return true; } });
    return { problem: { file: field?.filename ?? options.file, message: messageOf(error), hint: 'check the spelling and package of the type, and that its file is imported' } };
  }
  const types = allTypes(root);
  const type = types.find((t) => t.fullName === `.${options.type.replace(/^\./, '')}`);
  if (type === undefined) {
    const simple = options.type.slice(options.type.lastIndexOf('.') + 1);
    const names = types.map((t) => t.fullName.slice(1)).filter((n) => !n.startsWith('google.protobuf.'));
    names.sort((a, b) => Number(b.endsWith(`.${simple}`) || b === simple) - Number(a.endsWith(`.${simple}`) || a === simple));
    const more = names.length > 10 ? `, … (${names.length} in all)` : '';
    return { problem: { file: options.file, message: `${path.basename(options.file)} (with its imports) defines no message type ${options.type}`, hint: names.length === 0 ? 'it defines no message types' : `message types it defines: ${names.slice(0, 10).join(', ')}${more}` } };
  }
  const unsupported = unsupportedMap(type, new Set());
  if (unsupported !== undefined) return { problem: { file: unsupported.filename ?? options.file, message: `${unsupported.fullName.slice(1)}: map<${unsupported.keyType}, …> is not supported (protobufjs ${unsupported.keyType === 'bool' ? 'encodes the key "false" as true' : 'decodes such keys as binary hashes'})`, hint: 'use string keys, or a repeated message of key and value' } };
  return { codec: protobufCodec(type), files: loaded.files };
}

/** Parses the file and, breadth first, what it imports: google/protobuf/* from protobufjs' bundle, the rest from its folder tree. */
function load(root: protobuf.Root, options: ProtobufOptions): { files: string[] } | { problem: ProtobufProblem } {
  const folder = path.dirname(options.file);
  const queue: { file: string; source: string }[] = [];
  try {
    queue.push({ file: options.file, source: options.readFile(options.file) });
  } catch (error) {
    return { problem: { file: options.file, message: `cannot read ${options.file}: ${messageOf(error)}` } };
  }
  const seen = new Set([options.file]);
  for (let i = 0; i < queue.length; i++) {
    const { file, source } = queue[i]!;
    let parsed: protobuf.IParserResult;
    const parser = protobuf.parse as unknown as { filename: string | null };
    parser.filename = file; // protobufjs names the file of each type it defines from this
    try {
      parsed = protobuf.parse(source, root, { keepCase: false });
    } catch (error) {
      const text = messageOf(error);
      const at = /\s*\((?:.*, )?line (\d+)\)$/.exec(text);
      return { problem: at === null ? { file, message: text } : { file, line: Number(at[1]), message: text.slice(0, at.index) } };
    } finally {
      parser.filename = null;
    }
    for (const spec of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      if (seen.has(spec)) continue;
      const bundled = protobuf.common.get(spec);
      if (bundled !== null) {
        seen.add(spec);
        root.addJSON(bundled.nested ?? {});
        continue;
      }
      const found = readImport(spec, file, source, folder, (f) => (seen.has(f) ? undefined : options.readFile(f)));
      if ('problem' in found) return found;
      if (found.source !== undefined) queue.push({ file: found.file, source: found.source });
      seen.add(found.file);
    }
  }
  return { files: queue.map((q) => q.file) };
}

/**
 * An import beside the importing file, else from the top folder (protoc's include-path style);
 * never outside that folder. `readFile` gives undefined for a file already read.
 */
function readImport(spec: string, importer: string, source: string, folder: string, readFile: (p: string) => string | undefined): { file: string; source?: string } | { problem: ProtobufProblem } {
  const line = source.split('\n').findIndex((l) => /^\s*import\b/.test(l) && (l.includes(`"${spec}"`) || l.includes(`'${spec}'`))) + 1;
  const where = { file: importer, ...(line > 0 ? { line } : {}) };
  const inside = [...new Set([path.resolve(path.dirname(importer), spec), path.resolve(folder, spec)])].filter((f) => {
    const relative = path.relative(folder, f);
    return relative !== '' && relative.split(path.sep)[0] !== '..' && !path.isAbsolute(relative);
  });
  if (inside.length === 0) return { problem: { ...where, message: `import "${spec}" leads outside ${folder}`, hint: `a .proto file may import only files in its own folder tree (${folder})` } };
  let first: unknown;
  for (const file of inside) {
    try {
      return { file, source: readFile(file) };
    } catch (error) {
      first ??= error;
    }
  }
  return { problem: { ...where, message: `import "${spec}" cannot be read: ${messageOf(first)}`, hint: `looked for ${inside.join(' and ')}` } };
}

function allTypes(namespace: protobuf.NamespaceBase, into: protobuf.Type[] = []): protobuf.Type[] {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) into.push(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) allTypes(nested, into);
  }
  return into;
}

/** A map field reachable from `type` whose keys protobufjs gets wrong: 64-bit integers and bools. */
function unsupportedMap(type: protobuf.Type, visited: Set<protobuf.Type>): protobuf.MapField | undefined {
  visited.add(type);
  for (const field of type.fieldsArray) {
    if (field instanceof protobuf.MapField && /^(bool|u?int64|sint64|s?fixed64)$/.test(field.keyType)) return field;
    if (field.resolvedType instanceof protobuf.Type && !visited.has(field.resolvedType)) {
      const found = unsupportedMap(field.resolvedType, visited);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * protobufjs' BufferReader reads a string whose length runs past the data as the bytes there are;
 * this one fails instead (as it does for bytes fields), and refuses invalid UTF-8 as proto3 does.
 */
class StrictReader extends protobuf.BufferReader {
  override string(): string {
    const bytes = this.bytes();
    if (!isUtf8(bytes)) throw new Error(`the string ending at byte ${this.pos} is not valid UTF-8`);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }
}

function protobufCodec(type: protobuf.Type): PayloadCodec {
  const name = type.fullName.slice(1);
  return {
    label: `protobuf ${name}`,
    decode(bytes) {
      try {
        // protobufjs stops at 100 nested messages (Reader.recursionLimit); with StrictReader, every length is checked.
        checkWireTypes(type, new StrictReader(bytes), bytes.length, 0);
        return type.toObject(type.decode(new StrictReader(bytes)), JSON_FORM);
      } catch (error) {
        const deep = messageOf(error) === 'maximum nesting depth exceeded' ? ` (more than ${protobuf.Reader.recursionLimit} messages deep)` : '';
        throw new MessageFailure(`the payload is not a valid ${name}: ${messageOf(error)}${deep}`, 'MQFLOW_PAYLOAD_PROTOBUF', undefined, { cause: error, permanent: true });
      }
    },
    encode(value) {
      // fromObject coerces whatever it is given ("abc" → 0 for an int32) and skips unknown keys: check first.
      const misfit = messageProblem(value, type, '', 0);
      if (misfit !== undefined) throw new MessageFailure(`the value does not fit ${name}: ${misfit}`, 'MQFLOW_ENCODE_PROTOBUF');
      try {
        const bytes = type.encode(type.fromObject(value as Record<string, unknown>)).finish();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (error) {
        throw new MessageFailure(`the value cannot be encoded as ${name}: ${messageOf(error)}`, 'MQFLOW_ENCODE_PROTOBUF', undefined, { cause: error });
      }
    },
  };
}

/** The wire type of each scalar type (0 varint, 1 64-bit, 5 32-bit, 2 length-delimited). */
const WIRE_TYPES: Readonly<Record<string, number>> = { double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5, int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2 };

/**
 * protobufjs reads a known field by its declared type whatever wire type the tag says (a varint
 * becomes a string): every field of the bytes, and of the messages inside, must come with its
 * type's wire type (a repeated scalar packed, or not). Unknown fields are skipped, as decode does.
 */
function checkWireTypes(type: protobuf.Type, reader: protobuf.Reader, end: number, depth: number): void {
  if (depth > protobuf.util.recursionLimit) throw new Error('maximum nesting depth exceeded');
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    const field = type.fieldsById[tag >>> 3];
    if (field === undefined) {
      reader.skipType(wire);
      continue;
    }
    const message = field.resolvedType instanceof protobuf.Type;
    const expected = field.map || message ? 2 : field.resolvedType instanceof protobuf.Enum ? 0 : WIRE_TYPES[field.type];
    if (wire !== expected && !(field.repeated && wire === 2)) throw new Error(`field ${field.name} (${field.type}) comes with wire type ${wire}, not ${String(expected)}`);
    if (message && !field.map) {
      const length = reader.uint32();
      const stop = reader.pos + length;
      if (stop > end) throw new Error(`field ${field.name} is ${length} bytes long, past the end of its message`);
      checkWireTypes(field.resolvedType as protobuf.Type, reader, stop, depth + 1);
      reader.pos = stop;
    } else reader.skipType(wire);
  }
}

/** Why `value` is not the proto3 JSON form of `type` (prefixed with where); undefined when it is. */
function messageProblem(value: unknown, type: protobuf.Type, at: string, depth: number): string | undefined {
  const name = type.fullName.slice(1);
  if (!isPlainObject(value)) return `${at === '' ? '' : `${at}: `}an object (${name}) expected, got ${describe(value)}`;
  if (depth > protobuf.util.recursionLimit) return `${at}: nested more than ${protobuf.util.recursionLimit} messages deep`;
  for (const [key, item] of Object.entries(value)) {
    const where = at === '' ? key : `${at}.${key}`;
    const field = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined;
    if (field === undefined) return `${where}: ${name} has no field ${key} (fields: ${Object.keys(type.fields).slice(0, 20).join(', ')})`;
    if (item === null || item === undefined) continue;
    let problem: string | undefined;
    if (field instanceof protobuf.MapField) {
      if (!isPlainObject(item)) return `${where}: an object (map<${field.keyType}, ${field.type}>) expected, got ${describe(item)}`;
      for (const [k, v] of Object.entries(item)) {
        const keyProblem = field.keyType === 'string' ? undefined : scalarProblem(field.keyType, k);
        problem = keyProblem === undefined ? valueProblem(field, v, `${where}[${JSON.stringify(k)}]`, depth) : `${where}: key ${JSON.stringify(k)}: ${keyProblem}`;
        if (problem !== undefined) break;
      }
    } else if (field.repeated) {
      if (!Array.isArray(item)) return `${where}: an array expected, got ${describe(item)}`;
      for (let i = 0; i < item.length && problem === undefined; i++) problem = valueProblem(field, item[i], `${where}[${i}]`, depth);
    } else {
      problem = valueProblem(field, item, where, depth);
    }
    if (problem !== undefined) return problem;
  }
  const present = (member: string): boolean => Object.hasOwn(value, member) && value[member] !== null && value[member] !== undefined;
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter(present);
    if (set.length > 1) return `${at === '' ? '' : `${at}: `}${set.join(' and ')} are members of oneof ${oneof.name}; set one at most`;
  }
  const missing = type.fieldsArray.find((f) => f.required && !present(f.name));
  return missing === undefined ? undefined : `${at === '' ? '' : `${at}: `}the required field ${missing.name} is missing`;
}

function valueProblem(field: protobuf.FieldBase, value: unknown, at: string, depth: number): string | undefined {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return messageProblem(value, resolved, at, depth + 1);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string' ? Object.hasOwn(resolved.values, value) : scalarProblem('int32', value) === undefined) return undefined;
    return `${at}: one of ${Object.keys(resolved.values).slice(0, 20).join(', ')} (enum ${resolved.fullName.slice(1)}) or its number expected, got ${describe(value)}`;
  }
  const problem = scalarProblem(field.type, value);
  return problem === undefined ? undefined : `${at}: ${problem}`;
}

const INT32: readonly [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const INT64: readonly [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const INTEGER_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: INT32, sint32: INT32, sfixed32: INT32, uint32: [0n, 2n ** 32n - 1n], fixed32: [0n, 2n ** 32n - 1n],
  int64: INT64, sint64: INT64, sfixed64: INT64, uint64: [0n, 2n ** 64n - 1n], fixed64: [0n, 2n ** 64n - 1n],
};
const FLOAT_TEXT = /^(?:-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|-?Infinity)$/;
const FLOAT_MAX = 3.4028234663852886e38;

/** Why `value` is not a proto3 JSON value of scalar type `type` (numbers may come as decimal strings). */
function scalarProblem(type: string, value: unknown): string | undefined {
  const got = `, got ${describe(value)}`;
  if (type === 'string') return typeof value === 'string' ? undefined : `a string expected${got}`;
  if (type === 'bool') return typeof value === 'boolean' ? undefined : `true or false expected${got}`;
  if (type === 'bytes') return (typeof value === 'string' && protobuf.util.base64.test(value)) || value instanceof Uint8Array ? undefined : `base64 text expected${got}`;
  if (type === 'double' || type === 'float') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && FLOAT_TEXT.test(value) ? Number(value) : undefined;
    if (n === undefined) return `a number expected${got}`;
    return type === 'float' && Math.abs(n) > FLOAT_MAX && Number.isFinite(n) ? `${n} is out of range for float` : undefined;
  }
  const range = INTEGER_RANGES[type];
  if (range === undefined) return `a value of type ${type} expected`; // every scalar type is named above
  // At most 20 digits (an int64's): BigInt of a long digit string is not free.
  const n = typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : typeof value === 'string' && /^-?\d{1,20}$/.test(value) ? BigInt(value) : undefined;
  if (n === undefined) return `an integer (${type}) expected${got}`;
  return n < range[0] || n > range[1] ? `${String(value)} is out of range for ${type}` : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  // Objects compiled expressions build have a prototype without one of its own (src/expr/compiler): data too.
  return prototype === Object.prototype || prototype === null || Object.getPrototypeOf(prototype) === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
