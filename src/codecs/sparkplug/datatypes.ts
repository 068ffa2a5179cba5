/**
 * Sparkplug B datatypes: the DataType enum (Sparkplug 3.0, "Payloads" → "Data Types") and how a value of each type
 * sits in the protobuf `value` oneof. Wire quirks this module owns:
 * - Int8/16/32 travel as uint32 and Int64 as uint64: negatives are two's complement.
 * - 64-bit values beyond 2^53 become decimal strings (exactInteger) so JSON keeps them exact.
 * - Float decodes to the shortest decimal that is the same float32 (1.23, not 1.2300000190734863).
 * - NaN and ±Infinity, which JSON has no numbers for, are the strings 'NaN', 'Infinity', '-Infinity'.
 * - Array types (3.0) are packed little-endian in bytes_value; see decodeArray for booleans/strings.
 */
import { exactInteger } from '../codec.js';

export const DataType = {
  Unknown: 0, Int8: 1, Int16: 2, Int32: 3, Int64: 4, UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8,
  Float: 9, Double: 10, Boolean: 11, String: 12, DateTime: 13, Text: 14, UUID: 15, DataSet: 16,
  Bytes: 17, File: 18, Template: 19, PropertySet: 20, PropertySetList: 21, Int8Array: 22,
  Int16Array: 23, Int32Array: 24, Int64Array: 25, UInt8Array: 26, UInt16Array: 27, UInt32Array: 28,
  UInt64Array: 29, FloatArray: 30, DoubleArray: 31, BooleanArray: 32, StringArray: 33, DateTimeArray: 34,
} as const;
export type DatatypeName = keyof typeof DataType;

const NAMES = Object.keys(DataType) as DatatypeName[];
const BY_NAME = new Map(NAMES.map((name, n) => [name.toLowerCase(), n]));

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The oneof members a plain (non-message) value can sit in. */
export type ValueField = 'intValue' | 'longValue' | 'floatValue' | 'doubleValue' | 'booleanValue' | 'stringValue' | 'bytesValue';
/** A uint64 as protobufjs writes it (LongBits.from reads low/high). */
export interface LongBits { low: number; high: number; unsigned: true }
export interface WireValue { field: ValueField; value: number | boolean | string | Uint8Array | LongBits }

export function datatypeName(datatype: number): DatatypeName | undefined {
  return NAMES[datatype];
}

/** A datatype given as its name (any case) or number; undefined when it is neither. */
export function datatypeOf(given: unknown): number | undefined {
  if (typeof given === 'string') return BY_NAME.get(given.toLowerCase());
  return Number.isInteger(given) && (given as number) >= 0 && (given as number) < NAMES.length ? (given as number) : undefined;
}

const wireName = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The oneof member the specification puts a datatype's value in. */
function expectedField(datatype: number): string | undefined {
  if (datatype >= DataType.Int8Array) return 'bytesValue';
  switch (datatype) {
    case DataType.Int64: case DataType.UInt64: case DataType.DateTime: return 'longValue';
    case DataType.Float: return 'floatValue';
    case DataType.Double: return 'doubleValue';
    case DataType.Boolean: return 'booleanValue';
    case DataType.String: case DataType.Text: case DataType.UUID: return 'stringValue';
    case DataType.DataSet: return 'datasetValue';
    case DataType.Bytes: case DataType.File: return 'bytesValue';
    case DataType.Template: return 'templateValue';
    case DataType.PropertySet: return 'propertysetValue';
    case DataType.PropertySetList: return 'propertysetsValue';
    case DataType.Unknown: return undefined;
    default: return 'intValue';
  }
}

/**
 * Throws when a value sits in a oneof member its datatype does not use. UInt32 may be in either:
 * the spec ("Datatype Details") says uint32, but Eclipse Tahu's Java, C and JS encoders write long_value, and
 * we write it there too, since Tahu's JS decoder (Node-RED's Sparkplug nodes) reads only long_value.
 */
export function checkField(datatype: number, field: string): void {
  const expected = expectedField(datatype);
  if (expected === undefined || field === expected || (datatype === DataType.UInt32 && field === 'longValue')) return;
  throw new Error(`datatype ${NAMES[datatype]} belongs in ${wireName(expected)}, but the value is in ${wireName(field)}`);
}

/** A protobufjs uint64 — a Long as decoded, or a decimal string after toObject with longs: String — as a bigint. */
export function uint64(raw: unknown): bigint {
  if (typeof raw === 'object' && raw !== null && 'low' in raw && 'high' in raw) {
    const { low, high } = raw as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  if (typeof raw === 'string' || typeof raw === 'number') return BigInt(raw);
  throw new Error(`expected a 64-bit integer, got ${typeof raw}`);
}

const nonFinite = (x: number): number | string => (Number.isFinite(x) ? x : String(x));

function shortestFloat(x: number): number | string {
  if (!Number.isFinite(x)) return String(x);
  // Fewest significant digits that read back as the same float32 (9 always do): a digit count that
  // does means every larger one does too, so search (3–4 tries, not up to 9).
  let low = 1;
  let high = 9;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (Math.fround(Number(x.toPrecision(mid))) === x) high = mid;
    else low = mid + 1;
  }
  return high === 9 ? x : Number(x.toPrecision(high));
}

function int32(raw: unknown): number {
  if (typeof raw !== 'number') throw new Error(`expected a 32-bit integer, got ${typeof raw}`);
  return raw >>> 0;
}

/**
 * The JSON value of a plain oneof member, read as `datatype` (known and checked with checkField)
 * or, when the datatype is unknown, as what the member holds (integers unsigned).
 */
export function decodeValue(datatype: number | undefined, field: ValueField, raw: unknown): JsonValue {
  switch (datatype) {
    case DataType.Int8: return (int32(raw) << 24) >> 24;
    case DataType.Int16: return (int32(raw) << 16) >> 16;
    case DataType.Int32: return int32(raw) | 0;
    case DataType.Int64: case DataType.DateTime: return exactInteger(BigInt.asIntN(64, uint64(raw)));
    case DataType.UInt32: return field === 'longValue' ? exactInteger(uint64(raw)) : int32(raw);
  }
  if (datatype !== undefined && datatype >= DataType.Int8Array) return decodeArray(datatype, bytes(raw));
  switch (field) {
    case 'intValue': return int32(raw);
    case 'longValue': return exactInteger(uint64(raw));
    case 'floatValue': return shortestFloat(Number(raw));
    case 'doubleValue': return nonFinite(Number(raw));
    case 'booleanValue': return raw === true;
    case 'stringValue': return String(raw);
    case 'bytesValue': return Buffer.from(bytes(raw)).toString('base64');
  }
}

function bytes(raw: unknown): Uint8Array {
  if (raw instanceof Uint8Array) return raw;
  throw new Error('expected bytes');
}

/** Element datatype, byte size and signedness of the fixed-width array types. */
function elementOf(datatype: number): { element: number; size: number; signed: boolean } {
  const element = datatype === DataType.DateTimeArray ? DataType.DateTime : datatype - 21;
  const size = [0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 0, 0, 8][element] ?? 0;
  return { element, size, signed: INTEGERS.get(element)?.[1] ?? true };
}

/**
 * Sparkplug 3.0 specification, "Payloads" → "Datatype Details" → "Array Types"
 * (specification/src/main/asciidoc/chapters/Sparkplug_6_Payloads.adoc in eclipse-sparkplug/sparkplug):
 * BooleanArray is a 4-byte little-endian count, then the booleans bit-packed from the most
 * significant bit of each byte ([F,F,T,T,F,T,F,F,T,T,F,T] → 0C 00 00 00 34 DX), as Eclipse Tahu's
 * Java SparkplugBPayloadEncoder/Decoder do (`128 >> bit`). StringArray is UTF-8 strings each
 * followed by a NUL ([ABC, hello] → 41 42 43 00 68 65 6C 6C 6F 00), as Tahu's Java does. (Tahu's
 * Python array_packer.py differs from both: booleans from the least significant bit, strings hex-encoded.)
 */
function decodeArray(datatype: number, data: Uint8Array): JsonValue[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (datatype === DataType.BooleanArray) {
    if (data.length < 4) throw new Error('a BooleanArray needs its 4-byte count');
    const count = buf.readUInt32LE(0);
    if (data.length < 4 + Math.ceil(count / 8)) throw new Error(`a BooleanArray of ${count} needs ${4 + Math.ceil(count / 8)} bytes, not ${data.length}`);
    return Array.from({ length: count }, (_, i) => (data[4 + (i >> 3)]! & (0x80 >> (i & 7))) !== 0);
  }
  if (datatype === DataType.StringArray) {
    const strings = buf.toString('utf8').split('\0');
    if (data.length === 0 || data[data.length - 1] === 0) strings.pop(); // the last NUL ends, not separates
    return strings;
  }
  const { element, size, signed } = elementOf(datatype);
  if (size === 0 || data.length % size !== 0) throw new Error(`${NAMES[datatype]} of ${data.length} bytes is not a whole number of ${size}-byte elements`);
  const out = new Array<JsonValue>(data.length / size);
  for (let i = 0, at = 0; at < data.length; i++, at += size) {
    if (element === DataType.Float) out[i] = shortestFloat(buf.readFloatLE(at));
    else if (element === DataType.Double) out[i] = nonFinite(buf.readDoubleLE(at));
    else if (size === 8) out[i] = exactInteger(signed ? buf.readBigInt64LE(at) : buf.readBigUInt64LE(at));
    else out[i] = signed ? buf.readIntLE(at, size) : buf.readUIntLE(at, size);
  }
  return out;
}

/** A value as an error message quotes it, cut short. */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? typeof value);
  } catch {
    text = typeof value; // a bigint or a cycle
  }
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** Bits and signedness of the integer datatypes. */
const INTEGERS = new Map<number, [bits: bigint, signed: boolean]>([
  [DataType.Int8, [8n, true]], [DataType.Int16, [16n, true]], [DataType.Int32, [32n, true]], [DataType.Int64, [64n, true]],
  [DataType.UInt8, [8n, false]], [DataType.UInt16, [16n, false]], [DataType.UInt32, [32n, false]], [DataType.UInt64, [64n, false]],
  [DataType.DateTime, [64n, true]],
]);

/** Inclusive integer range of an integer datatype. */
function rangeOf(datatype: number): [bigint, bigint] | undefined {
  const integer = INTEGERS.get(datatype);
  if (integer === undefined) return undefined;
  const [bits, signed] = integer;
  return signed ? [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n] : [0n, 2n ** bits - 1n];
}

/** An integer given as a JSON number or a decimal string (or, for DateTime, an ISO date string). */
function integer(value: unknown, datatype: number, [min, max]: [bigint, bigint]): bigint {
  let n: bigint | undefined;
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    // Such a number may already be rounded (9007199254740993 reads as …992): exact needs a string.
    throw new Error(`${NAMES[datatype]} ${value} is beyond ±(2^53−1), where JSON numbers are not exact; give it as a decimal string`);
  }
  if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) n = BigInt(value);
  else if (typeof value === 'string' && datatype === DataType.DateTime && !Number.isNaN(Date.parse(value))) n = BigInt(Date.parse(value));
  if (n === undefined || n < min || n > max) {
    throw new Error(`${NAMES[datatype]} needs an integer from ${min} to ${max}${datatype === DataType.DateTime ? ' (ms since 1970) or an ISO date' : ''}, not ${describeValue(value)}`);
  }
  return n;
}

function float(value: unknown, datatype: number): number {
  const x = typeof value === 'string' && /^(NaN|-?Infinity)$/.test(value) ? Number(value) : value;
  const inRange = typeof x === 'number' && (datatype === DataType.Double || !Number.isFinite(x) || Number.isFinite(Math.fround(x)));
  if (!inRange) throw new Error(`${NAMES[datatype]} needs a number, not ${describeValue(value)}`);
  return x;
}

export function longBits(n: bigint): LongBits {
  const u = BigInt.asUintN(64, n);
  return { low: Number(u & 0xffffffffn), high: Number(u >> 32n), unsigned: true };
}

/** The oneof member and wire value for a plain value of `datatype`; throws a readable Error. */
export function encodeValue(datatype: number, value: unknown): WireValue {
  const range = rangeOf(datatype);
  if (range !== undefined) {
    const n = integer(value, datatype, range);
    const wide = datatype === DataType.Int64 || datatype === DataType.UInt64 || datatype === DataType.DateTime || datatype === DataType.UInt32;
    return wide ? { field: 'longValue', value: longBits(n) } : { field: 'intValue', value: Number(BigInt.asUintN(32, n)) };
  }
  const field = expectedField(datatype) as ValueField;
  const name = NAMES[datatype] ?? String(datatype);
  switch (datatype) {
    case DataType.Float: case DataType.Double: return { field, value: float(value, datatype) };
    case DataType.Bytes: case DataType.File: return { field, value: base64(value, datatype) };
    case DataType.Boolean:
      if (typeof value === 'boolean') return { field, value };
      throw new Error(`Boolean needs true or false, not ${describeValue(value)}`);
    case DataType.String: case DataType.Text: case DataType.UUID:
      if (typeof value === 'string') return { field, value };
      throw new Error(`${name} needs a string, not ${describeValue(value)}`);
  }
  if (datatype < DataType.Int8Array) throw new Error(`datatype ${name} cannot hold a value here`);
  if (Array.isArray(value)) return { field: 'bytesValue', value: encodeArray(datatype, value) };
  throw new Error(`${name} needs an array, not ${describeValue(value)}`);
}

function base64(value: unknown, datatype: number): Buffer {
  if (typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return Buffer.from(value, 'base64');
  throw new Error(`${NAMES[datatype]} needs a base64 string, not ${describeValue(value)}`);
}

function encodeArray(datatype: number, values: unknown[]): Uint8Array {
  if (datatype === DataType.BooleanArray) {
    const out = Buffer.alloc(4 + Math.ceil(values.length / 8));
    out.writeUInt32LE(values.length, 0);
    values.forEach((v, i) => {
      if (typeof v !== 'boolean') throw new Error(`BooleanArray element ${i} must be a boolean, not ${describeValue(v)}`);
      if (v) out[4 + (i >> 3)]! |= 0x80 >> (i & 7);
    });
    return out;
  }
  if (datatype === DataType.StringArray) {
    return Buffer.concat(values.map((v, i) => {
      if (typeof v !== 'string' || v.includes('\0')) throw new Error(`StringArray element ${i} must be a string without NUL, not ${describeValue(v)}`);
      return Buffer.from(`${v}\0`, 'utf8');
    }));
  }
  const { element, size } = elementOf(datatype);
  const out = Buffer.alloc(values.length * size);
  const range = rangeOf(element);
  values.forEach((v, i) => {
    try {
      if (element === DataType.Float) out.writeFloatLE(float(v, element), i * size);
      else if (element === DataType.Double) out.writeDoubleLE(float(v, element), i * size);
      else if (size === 8) out.writeBigUInt64LE(BigInt.asUintN(64, integer(v, element, range!)), i * size);
      else out.writeUIntLE(Number(BigInt.asUintN(size * 8, integer(v, element, range!))), i * size, size);
    } catch (e) {
      throw new Error(`${NAMES[datatype]} element ${i}: ${(e as Error).message}`);
    }
  });
  return out;
}

/** The datatype for a metric value written without one. */
export function inferDatatype(value: unknown): number {
  if (typeof value === 'boolean') return DataType.Boolean;
  if (typeof value === 'string') return DataType.String;
  if (typeof value === 'number' && Number.isInteger(value)) return DataType.Int64;
  if (typeof value === 'number' && Number.isFinite(value)) return DataType.Double;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if ('columns' in value && 'rows' in value) return DataType.DataSet;
    if ('metrics' in value) return DataType.Template;
  }
  throw new Error(`cannot tell the datatype of ${describeValue(value)}; give the metric a datatype (Int32, Double, StringArray, …)`);
}
