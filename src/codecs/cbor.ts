/**
 * The cbor codec (RFC 8949) on cbor-x. cbor-x trusts its input more than a broker's payload
 * deserves (it replaces invalid UTF-8, recurses without limit, honours its own record and
 * value-sharing tags), so each payload is first walked by `scan` below, which needs no recursion
 * and next to no allocation; cbor-x only ever reads well-formed, shallow, plain CBOR.
 */
import { isUtf8 } from 'node:buffer';
import { Decoder, Encoder, Tag } from 'cbor-x';
import { MessageFailure } from '../pipeline/execution.js';
import { exactInteger, type PayloadCodec } from './codec.js';

/** Arrays, maps and tags nested deeper than this fail: well inside what cbor-x's recursion and JSONata handle. */
const MAX_DEPTH = 64;
/** A bignum (tag 2/3) longer than this fails: cbor-x builds it byte by byte, quadratic in its length. */
const MAX_BIGNUM_BYTES = 64;
/** What an indefinite-length container expects next, in `scan`'s stack of open items. */
const ARRAY = -1;
const MAP_KEY = -2;
const MAP_VALUE = -3;

// Maps decode as Map, not objects: cbor-x renames an object key "__proto__" to "__proto_".
// No records and no shared structures, so every message decodes alone.
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false });
// variableMapSize: the smallest map headers; tagUint8Array false: bytes are a plain byte string.
const encoder = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false });

export const cbor: PayloadCodec = {
  label: 'cbor',
  decode(bytes) {
    scan(bytes);
    let value: unknown;
    try {
      // A fresh view: cbor-x caches a DataView as a property of the object it is given.
      value = decoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)) as unknown;
    } catch (error) {
      throw invalid((error as Error).message, error);
    }
    return toJson(value);
  },
  encode(value) {
    if (value === undefined) throw new MessageFailure('there is no value to encode as CBOR', 'MQFLOW_ENCODE_CBOR');
    let clean: boolean;
    try {
      clean = sendable(value, 0);
    } catch (error) {
      if (!(error instanceof NotJson)) throw error;
      const where = error.path.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
      const at = where === '' ? 'the value' : where.length > 60 ? `${where.slice(0, 60)}…` : where;
      throw new MessageFailure(error.message === DEEP ? `${at} is nested more than ${MAX_DEPTH} levels deep (or refers to itself) and cannot be encoded as CBOR` : `${at} is ${error.message}, which cannot be encoded as CBOR (JSON data only)`, 'MQFLOW_ENCODE_CBOR');
    }
    try {
      return encoder.encode(clean ? value : cleaned(value));
    } catch (error) {
      throw new MessageFailure(`the value cannot be encoded as CBOR: ${(error as Error).message}`, 'MQFLOW_ENCODE_CBOR', undefined, { cause: error });
    }
  },
};

function invalid(why: string, cause?: unknown): MessageFailure {
  return new MessageFailure(`the payload is not valid CBOR: ${why}`, 'MQFLOW_PAYLOAD_CBOR', undefined, { cause, permanent: true });
}

/**
 * Checks that the payload is exactly one well-formed CBOR item that cbor-x may read: lengths
 * within the payload, text strings valid UTF-8, at most MAX_DEPTH levels, no cbor-x-specific tags.
 */
function scan(bytes: Buffer): void {
  if (bytes.length === 0) throw new MessageFailure('the payload is empty, and the trigger expects CBOR', 'MQFLOW_PAYLOAD_CBOR', undefined, { permanent: true });
  // Per open array, map or tag: the items it still holds; until a break, ARRAY, or MAP_KEY / MAP_VALUE (what comes next).
  const open: number[] = [];
  const completed = (): void => {
    for (let top = open.length - 1; top >= 0; top = open.length - 1) {
      const items = open[top]!;
      if (items < 0) open[top] = items === MAP_KEY ? MAP_VALUE : items === MAP_VALUE ? MAP_KEY : ARRAY;
      else if (items > 1) open[top] = items - 1;
      if (items !== 1) return;
      open.pop();
    }
  };
  const enter = (items: number, at: number): void => {
    if (open.push(items) > MAX_DEPTH) throw invalid(`more than ${MAX_DEPTH} nested arrays, maps or tags (at byte ${at})`);
  };
  const truncated = (): MessageFailure => invalid(`the data ends in the middle of an item (${bytesText(bytes.length)})`);
  let at = 0;
  do {
    const start = at;
    const initial = bytes[at++];
    if (initial === undefined) throw truncated();
    const major = initial >> 5;
    const info = initial & 31;
    if (initial === 0xff) {
      const items = open[open.length - 1];
      if (items !== ARRAY && items !== MAP_KEY) throw invalid(`a break (0xff) ${items === MAP_VALUE ? 'between a key and its value' : 'outside an indefinite-length array or map'} at byte ${start}`);
      open.pop();
      completed();
      continue;
    }
    if (info === 31) {
      if (major !== 4 && major !== 5) throw invalid(`indefinite-length ${major === 2 || major === 3 ? 'strings are not supported' : `item of major type ${major}`} at byte ${start}`);
      enter(major === 4 ? ARRAY : MAP_KEY, start);
      continue;
    }
    if (info > 27) throw invalid(`reserved additional information ${info} at byte ${start}`);
    const arg = argument(bytes, at, info);
    if (arg < 0) throw truncated();
    at += info < 24 ? 0 : 1 << (info - 24);
    const left = bytes.length - at;
    if (major === 2 || major === 3) {
      if (arg > left) throw invalid(`a ${major === 2 ? 'byte' : 'text'} string of ${bytesText(arg)} at byte ${start} runs past the end of the data (${bytesText(bytes.length)})`);
      if (major === 3 && !utf8(bytes, at, at + arg)) throw invalid(`the text string at byte ${start} is not valid UTF-8`);
      at += arg;
    } else if ((major === 4 || major === 5) && arg > 0) {
      // Every item takes a byte at least: a count beyond what is left can only be a lie.
      if (arg > left) throw invalid(`${major === 4 ? 'an array' : 'a map'} of ${arg < 2 ** 53 ? arg : arg.toExponential(3)} items at byte ${start} cannot fit in the ${bytesText(left)} after it`);
      enter(major === 5 ? arg * 2 : arg, start);
      continue;
    } else if (major === 6) {
      const problem = tagProblem(arg, bytes, at);
      if (problem !== undefined) throw invalid(`${problem} (at byte ${start})`);
      enter(1, start);
      continue;
    } else if (major === 7 && (info < 20 || info === 24)) {
      throw invalid(`unassigned simple value ${arg} at byte ${start}`);
    }
    completed();
  } while (open.length > 0);
  const extra = bytes.length - at;
  if (extra > 0) throw invalid(`${bytesText(extra)} after the first item, which ends at byte ${at}; a payload is one CBOR item`);
}

function bytesText(n: number): string {
  return `${n < 2 ** 53 ? n : n.toExponential(3)} byte${n === 1 ? '' : 's'}`;
}

/** Whether bytes[start, end) are UTF-8; ASCII, the common case, without making a Buffer view. */
function utf8(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return isUtf8(bytes.subarray(i, end));
  return true;
}

/** The argument after an initial byte (additional information `info` < 28), or -1 when the data ends first. */
function argument(bytes: Buffer, at: number, info: number): number {
  if (info < 24) return info;
  const size = 1 << (info - 24);
  if (at + size > bytes.length) return -1;
  if (size === 1) return bytes[at]!;
  if (size === 2) return bytes.readUInt16BE(at);
  if (size === 4) return bytes.readUInt32BE(at);
  return bytes.readUInt32BE(at) * 2 ** 32 + bytes.readUInt32BE(at + 4); // inexact above 2^53: only ever compared
}

/** Why tag `tag`, whose content starts at `at`, is refused; undefined when cbor-x may read it. */
function tagProblem(tag: number, bytes: Buffer, at: number): string | undefined {
  // Records, packed values, shared references, bundled strings: cbor-x's own meanings, stateful or unbounded.
  if (tag === 6 || tag === 28 || tag === 29 || tag === 51 || tag === 105 || tag === 0x53687264 || (tag >= 216 && tag <= 255)
    || (tag >= 27647 && tag <= 32767) || (tag >= 0xdff9 && tag <= 0xdfff) || tag >= 1811939328) {
    return `tag ${tag} is not supported`;
  }
  const initial = bytes[at];
  if (initial === undefined) return undefined; // the scan reports the missing content
  const major = initial >> 5;
  const info = initial & 31;
  if (tag === 0 && major !== 3) return 'tag 0 (date) must hold a text string';
  if (tag === 1 && major > 1 && !(major === 7 && info >= 25 && info <= 27)) return 'tag 1 (epoch date) must hold a number';
  if (tag === 2 || tag === 3 || (tag >= 64 && tag <= 87)) {
    if (major !== 2 || info > 27) return `tag ${tag} must hold a byte string`;
    if (tag < 4 && argument(bytes, at + 1, info) > MAX_BIGNUM_BYTES) return `a bignum (tag ${tag}) over ${MAX_BIGNUM_BYTES} bytes`;
  }
  return undefined;
}

/**
 * cbor-x's value as plain JSON data. Byte strings (and tag 64, a Uint8Array) become base64; the
 * other typed arrays (tags 65–87) arrays of numbers, since their elements are numbers to compute
 * with. NaN and ±Infinity become null, as in JSON.stringify. Recursion is bounded by the scan.
 */
function toJson(value: unknown): unknown {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return exactInteger(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toJson(value[i]); // cbor-x's own fresh array
    return value;
  }
  if (value instanceof Map) {
    const object: Record<string, unknown> = {};
    for (const [k, v] of value as Map<unknown, unknown>) {
      const key = typeof k === 'string' ? k : keyOf(k);
      if (key === '__proto__') Object.defineProperty(object, key, { value: toJson(v), writable: true, enumerable: true, configurable: true });
      else object[key] = toJson(v);
    }
    return object;
  }
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, toJson);
  if (value instanceof Set) return Array.from(value as Set<unknown>, toJson);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalid('a date (tag 0 or 1) is not a valid date');
    return value.toISOString();
  }
  if (value instanceof Tag) return toJson(value.value);
  throw invalid(`cbor-x read a ${Object.prototype.toString.call(value)} that has no JSON form`);
}

/** A map key that is not text as an object key: its JSON text (1 → "1", [1,2] → "[1,2]"). */
function keyOf(key: unknown): string {
  const json = toJson(key);
  return typeof json === 'string' ? json : JSON.stringify(json);
}

const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE, 'g');
const wellFormed = (text: string): boolean => !SURROGATE.test(text) || !LONE_SURROGATE.test(text);
const DEEP = 'deep';

/** What `sendable` found that is not JSON data; the arrays and objects it unwinds through add where. */
class NotJson extends Error {
  readonly path: (string | number)[] = [];
}

/**
 * Whether cbor-x can send `value` as it is (false: it holds undefined or lone surrogates, see
 * `cleaned`); throws NotJson for functions, class instances, cycles. Checks without copying.
 */
function sendable(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return wellFormed(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === null || value instanceof Uint8Array) return true;
  if (typeof value !== 'object') throw new NotJson(`a ${typeof value}`);
  if (depth >= MAX_DEPTH) throw new NotJson(DEEP);
  const array = Array.isArray(value);
  const prototype = Object.getPrototypeOf(value) as unknown;
  // Objects compiled expressions build have a prototype without one of its own (src/expr/compiler): data too.
  if (!array && prototype !== Object.prototype && prototype !== null && Object.getPrototypeOf(prototype) !== null) throw new NotJson(`a ${(value.constructor as { name?: string } | undefined)?.name ?? 'object'}`);
  const keys = array ? undefined : Object.keys(value);
  const length = keys === undefined ? (value as unknown[]).length : keys.length;
  let clean = true;
  for (let i = 0; i < length; i++) {
    const key = keys === undefined ? i : keys[i]!;
    const item = (value as Record<string | number, unknown>)[key];
    try {
      // a hole in an array is an undefined item
      if (item === undefined || !sendable(item, depth + 1) || (typeof key === 'string' && !wellFormed(key))) clean = false;
    } catch (error) {
      if (error instanceof NotJson) error.path.unshift(key);
      throw error;
    }
  }
  return clean;
}

/** The value as JSON.stringify would see it: undefined members left out, undefined items null, lone surrogates U+FFFD (cbor-x would write invalid UTF-8). */
function cleaned(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(LONE_SURROGATES, '\uFFFD');
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return Array.from(value as unknown[], (item) => (item === undefined ? null : cleaned(item)));
  const entries = Object.entries(value).filter(([, item]) => item !== undefined);
  return Object.fromEntries(entries.map(([key, item]) => [key.replace(LONE_SURROGATES, '\uFFFD'), cleaned(item)])); // own properties, __proto__ too
}
