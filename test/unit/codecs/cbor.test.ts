/**
 * The cbor codec: what a service sees of a CBOR payload (plain JSON data), what a publish sends,
 * and that no payload, however hostile, gets past MQFLOW_PAYLOAD_CBOR.
 */
import { Encoder, Tag, encode as cborxEncode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { cbor } from '../../../src/codecs/cbor.js';
import { MessageFailure } from '../../../src/pipeline/execution.js';

function failure(run: () => unknown): MessageFailure {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MessageFailure);
    return error as MessageFailure;
  }
  throw new Error('expected a MessageFailure');
}

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s/g, ''), 'hex');
const text = (s: string): Buffer => {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([0x78, bytes.length]), bytes]);
};
const invalid = (bytes: Buffer): string => {
  const f = failure(() => cbor.decode(bytes));
  expect(f.code).toBe('MQFLOW_PAYLOAD_CBOR');
  return f.message;
};

describe('cbor: round trips', () => {
  it('gives back nested objects, arrays, unicode, floats, booleans and null', () => {
    const value = {
      device: 'ofen-3 ✓ 😀',
      readings: [1, -1, 0, 23, 24, 255, 65536, -4294967296, 4294967296, 9007199254740991, -9007199254740991, 1.5, -0.25, 1e300, 3.141592653589793],
      nested: { deeper: { deepest: [[], {}, [null, true, false]] } },
      empty: '',
      '': 'empty key',
    };
    expect(cbor.decode(cbor.encode(value))).toEqual(value);
  });

  it('keeps 64-bit integers above 2^53 exact: as decimal strings one way, as text the other', () => {
    expect(cbor.decode(cborxEncode(2n ** 53n + 1n))).toBe('9007199254740993');
    expect(cbor.decode(cborxEncode(-(2n ** 63n)))).toBe('-9223372036854775808');
    expect(cbor.decode(cborxEncode(2n ** 64n - 1n))).toBe('18446744073709551615');
    expect(cbor.decode(hex('1b 001fffffffffffff'))).toBe(9007199254740991); // 64-bit header, exact value: a number
    expect(cbor.decode(hex('c2 49 010000000000000000'))).toBe('18446744073709551616'); // bignum (RFC 8949 appendix A)
    expect(cbor.decode(hex('c3 49 010000000000000000'))).toBe('-18446744073709551617');
    // A string stays a text string: what went out as "9007199254740993" comes back as it.
    const sent = cbor.encode({ total: '9007199254740993', big: 2n ** 64n - 1n });
    expect(cbor.decode(sent)).toEqual({ total: '9007199254740993', big: '18446744073709551615' });
  });

  it('sends bytes as a byte string and reads every byte string as base64', () => {
    const bytes = cbor.encode({ raw: Buffer.from([0, 1, 2, 255]), view: new Uint8Array([9, 8]) });
    expect(bytes.includes(hex('44 000102ff'))).toBe(true);
    expect(bytes.includes(hex('42 0908'))).toBe(true); // no tag 64 for a Uint8Array
    expect(cbor.decode(bytes)).toEqual({ raw: 'AAEC/w==', view: 'CQg=' });
  });

  it('writes the smallest map headers, and a string as a text string', () => {
    expect(cbor.encode({ a: 1 })).toEqual(hex('a1 6161 01'));
    expect(cbor.encode('9007199254740993')[0]! >> 5).toBe(3);
    expect(cbor.encode([1.5, 'x', null, true])).toEqual(hex('84 fb3ff8000000000000 6178 f6 f5'));
  });
});

describe('cbor: what other encoders send', () => {
  it('reads what cbor-x encodes by default', () => {
    const sent = cborxEncode({
      when: new Date('2024-05-01T12:00:00.500Z'),
      tags: new Set(['a', 'b']),
      map: new Map<unknown, unknown>([[1, 'one'], [true, 'yes'], [null, 'nothing'], [[1, 2], 'pair']]),
      bytes: new Uint8Array([1, 2, 3]), // cbor-x tags a Uint8Array 64 in Node
      floats: new Float32Array([1.5, Number.NaN]),
      words: new Uint16Array([1, 65535]),
      longs: new BigInt64Array([-5n, 2n ** 62n]),
      missing: undefined,
      notNumbers: [Number.NaN, Number.POSITIVE_INFINITY],
      unknownTag: new Tag({ inside: 1 }, 99),
    });
    expect(cbor.decode(sent)).toEqual({
      when: '2024-05-01T12:00:00.500Z',
      tags: ['a', 'b'],
      map: { 1: 'one', true: 'yes', null: 'nothing', '[1,2]': 'pair' },
      bytes: 'AQID',
      floats: [1.5, null],
      words: [1, 65535],
      longs: [-5, '4611686018427387904'],
      missing: null,
      notNumbers: [null, null],
      unknownTag: { inside: 1 },
    });
  });

  it('reads the examples of RFC 8949 appendix A', () => {
    expect(cbor.decode(hex('c0 74 323031332d30332d32315432303a30343a30305a'))).toBe('2013-03-21T20:04:00.000Z');
    expect(cbor.decode(hex('c1 1a 514b67b0'))).toBe('2013-03-21T20:04:00.000Z');
    expect(cbor.decode(hex('c1 fb 41d452d9ec200000'))).toBe('2013-03-21T20:04:00.500Z');
    expect(cbor.decode(hex('d8 20 76 687474703a2f2f7777772e6578616d706c652e636f6d'))).toBe('http://www.example.com');
    expect(cbor.decode(hex('bf 6161 01 6162 9f 02 03 ff ff'))).toEqual({ a: 1, b: [2, 3] });
    expect(cbor.decode(hex('f9 3c00'))).toBe(1);
    expect(cbor.decode(hex('f9 7c00'))).toBeNull(); // Infinity has no JSON form
    expect(cbor.decode(hex('f7'))).toBeNull(); // undefined
    expect(cbor.decode(hex('d9 d9f7 83 01 02 03'))).toEqual([1, 2, 3]); // self-described CBOR
  });

  it('carries nothing from one message to the next', () => {
    const first = cbor.decode(cborxEncode([{ a: 1, b: 2 }, { a: 3, b: 4 }]));
    expect(first).toEqual([{ a: 1, b: 2 }, { a: 3, b: 4 }]);
    expect(cbor.decode(cborxEncode({ a: 5 }))).toEqual({ a: 5 });
    // cbor-x records are a stateful extension: refused rather than remembered
    const records = new Encoder({ useRecords: true }).encode([{ a: 1 }, { a: 2 }]);
    expect(invalid(records)).toMatch(/^the payload is not valid CBOR: tag 5734[0-9] is not supported \(at byte \d+\)$/);
  });
});

describe('cbor: a __proto__ key is data', () => {
  it('decodes it as an own property, leaving the prototype alone', () => {
    const payload = Buffer.concat([hex('a2'), text('__proto__'), hex('a1'), text('polluted'), hex('f5'), hex('6161 01')]);
    const value = cbor.decode(payload) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true });
    expect((value as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('encodes an own __proto__ key and gets it back', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as unknown;
    const back = cbor.decode(cbor.encode(value)) as object;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ x: 1 });
    expect(back).toEqual(value);
  });
});

describe('cbor: hostile payloads end in MQFLOW_PAYLOAD_CBOR', () => {
  it('refuses an empty payload', () => {
    expect(invalid(Buffer.alloc(0))).toBe('the payload is empty, and the trigger expects CBOR');
  });

  it('refuses every truncation of a valid payload', () => {
    const whole = cbor.encode({ id: 'sensor-1', values: [1.5, 2.5, 300000], raw: Buffer.from('abc'), nested: { ok: true } });
    for (let end = 1; end < whole.length; end++) expect(invalid(whole.subarray(0, end)), `first ${end} bytes`).toMatch(/^the payload is not valid CBOR: /);
    expect(invalid(hex('62 61'))).toBe('the payload is not valid CBOR: a text string of 2 bytes at byte 0 runs past the end of the data (2 bytes)');
    expect(invalid(hex('19 01'))).toBe('the payload is not valid CBOR: the data ends in the middle of an item (2 bytes)');
    expect(invalid(hex('82 01'))).toBe('the payload is not valid CBOR: an array of 2 items at byte 0 cannot fit in the 1 byte after it');
    expect(invalid(hex('83 8100 00'))).toBe('the payload is not valid CBOR: the data ends in the middle of an item (4 bytes)');
  });

  it('refuses lengths of 2^32 and 2^64 in a 10-byte payload before allocating anything', () => {
    expect(invalid(hex('9b 0000000100000000 00'))).toBe('the payload is not valid CBOR: an array of 4294967296 items at byte 0 cannot fit in the 1 byte after it');
    expect(invalid(hex('9b ffffffffffffffff 00'))).toBe('the payload is not valid CBOR: an array of 1.845e+19 items at byte 0 cannot fit in the 1 byte after it');
    expect(invalid(hex('bb 0000000100000000 00'))).toBe('the payload is not valid CBOR: a map of 4294967296 items at byte 0 cannot fit in the 1 byte after it');
    expect(invalid(hex('7b 0000000100000000 00'))).toBe('the payload is not valid CBOR: a text string of 4294967296 bytes at byte 0 runs past the end of the data (10 bytes)');
    expect(invalid(hex('5b ffffffffffffffff 00'))).toBe('the payload is not valid CBOR: a byte string of 1.845e+19 bytes at byte 0 runs past the end of the data (10 bytes)');
    expect(invalid(hex('9a ffffffff 0000000000'))).toBe('the payload is not valid CBOR: an array of 4294967295 items at byte 0 cannot fit in the 5 bytes after it');
    expect(invalid(hex('84 84 84 84 00'))).toBe('the payload is not valid CBOR: an array of 4 items at byte 1 cannot fit in the 3 bytes after it');
  });

  it('refuses 100,000 levels of nesting, and more than 64, but reads 64', () => {
    const deep = (levels: number, open: number, close: Buffer): Buffer => Buffer.concat([Buffer.alloc(levels, open), close]);
    expect(invalid(deep(100_000, 0x81, hex('80')))).toBe('the payload is not valid CBOR: more than 64 nested arrays, maps or tags (at byte 64)');
    expect(invalid(deep(100_000, 0x9f, Buffer.alloc(100_000, 0xff)))).toMatch(/more than 64 nested arrays, maps or tags/);
    expect(invalid(deep(100_000, 0xc7, hex('00')))).toMatch(/more than 64 nested arrays, maps or tags/); // tag 7, unassigned
    expect(invalid(Buffer.concat([Buffer.from('a10a'.repeat(100_000), 'hex'), hex('00')]))).toMatch(/more than 64 nested arrays, maps or tags/);
    expect(invalid(deep(65, 0x81, hex('80')))).toMatch(/more than 64 nested/);
    let expected: unknown = [];
    for (let i = 0; i < 63; i++) expected = [expected];
    expect(cbor.decode(deep(63, 0x81, hex('80')))).toEqual(expected);
  });

  it('refuses invalid UTF-8 in text strings and map keys, short or long', () => {
    expect(invalid(hex('62 c328'))).toBe('the payload is not valid CBOR: the text string at byte 0 is not valid UTF-8');
    expect(invalid(hex('63 eda080'))).toMatch(/not valid UTF-8/); // an encoded surrogate
    expect(invalid(Buffer.concat([hex('78 50'), Buffer.alloc(79, 0x61), hex('ff')]))).toMatch(/the text string at byte 0 is not valid UTF-8/);
    expect(invalid(hex('a1 61ff 01'))).toBe('the payload is not valid CBOR: the text string at byte 1 is not valid UTF-8');
    expect(invalid(hex('c0 62c328'))).toMatch(/not valid UTF-8/);
  });

  it('refuses bytes after the first item: a payload is one item', () => {
    expect(invalid(hex('01 02'))).toBe('the payload is not valid CBOR: 1 byte after the first item, which ends at byte 1; a payload is one CBOR item');
    expect(invalid(Buffer.concat([cbor.encode({ a: 1 }), cbor.encode({ b: 2 })]))).toMatch(/4 bytes after the first item/);
  });

  it('refuses what is not well-formed or has no meaning here', () => {
    expect(invalid(hex('1c'))).toBe('the payload is not valid CBOR: reserved additional information 28 at byte 0');
    expect(invalid(hex('ff'))).toBe('the payload is not valid CBOR: a break (0xff) outside an indefinite-length array or map at byte 0');
    expect(invalid(hex('bf 6161 ff'))).toBe('the payload is not valid CBOR: a break (0xff) between a key and its value at byte 3');
    expect(invalid(hex('5f 4101 ff'))).toBe('the payload is not valid CBOR: indefinite-length strings are not supported at byte 0');
    expect(invalid(hex('f0'))).toBe('the payload is not valid CBOR: unassigned simple value 16 at byte 0');
    expect(invalid(hex('f8 ff'))).toBe('the payload is not valid CBOR: unassigned simple value 255 at byte 0');
    expect(invalid(hex('d8 1c 81 d8 1d 00'))).toBe('the payload is not valid CBOR: tag 28 is not supported (at byte 0)'); // value sharing
    expect(invalid(hex('c0 01'))).toBe('the payload is not valid CBOR: tag 0 (date) must hold a text string (at byte 0)');
    expect(invalid(hex('c0 63 616263'))).toBe('the payload is not valid CBOR: a date (tag 0 or 1) is not a valid date');
    expect(invalid(hex('c1 fb 7fefffffffffffff'))).toMatch(/not a valid date/);
    expect(invalid(hex('c2 01'))).toBe('the payload is not valid CBOR: tag 2 must hold a byte string (at byte 0)');
    expect(invalid(hex('d8 46 63 616263'))).toMatch(/tag 70 must hold a byte string/);
  });

  it('refuses a bignum over 64 bytes, which cbor-x would build in quadratic time', () => {
    expect(cbor.decode(Buffer.concat([hex('c2 5840'), Buffer.alloc(64, 0xff)]))).toBe((2n ** 512n - 1n).toString());
    expect(invalid(Buffer.concat([hex('c2 5a00100000'), Buffer.alloc(0x100000, 0xff)]))).toBe('the payload is not valid CBOR: a bignum (tag 2) over 64 bytes (at byte 0)');
  });
});

describe('cbor: encode', () => {
  const unfit = (value: unknown): string => {
    const f = failure(() => cbor.encode(value));
    expect(f.code).toBe('MQFLOW_ENCODE_CBOR');
    return f.message;
  };

  it('leaves out undefined members and sends undefined items as null, as JSON does', () => {
    expect(cbor.decode(cbor.encode({ a: undefined, b: [undefined, 1], c: 2 }))).toEqual({ b: [null, 1], c: 2 });
  });

  it('sends a lone surrogate as U+FFFD, keeping the text valid UTF-8', () => {
    expect(cbor.decode(cbor.encode({ ['k\uDC00']: 'x\uD800', long: `${'a'.repeat(100)}\uD800` }))).toEqual({ 'k\uFFFD': 'x\uFFFD', long: `${'a'.repeat(100)}\uFFFD` });
  });

  it('refuses what is not JSON data, naming where it is', () => {
    expect(unfit(undefined)).toBe('there is no value to encode as CBOR');
    expect(unfit({ a: { b: () => 1 } })).toBe('a.b is a function, which cannot be encoded as CBOR (JSON data only)');
    expect(unfit({ when: new Date(0) })).toBe('when is a Date, which cannot be encoded as CBOR (JSON data only)');
    expect(unfit([new Map()])).toBe('[0] is a Map, which cannot be encoded as CBOR (JSON data only)');
    expect(unfit(Symbol('s'))).toBe('the value is a symbol, which cannot be encoded as CBOR (JSON data only)');
  });

  it('refuses a value that refers to itself or nests over 64 levels, and sends 64', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(unfit(loop)).toMatch(/^self\.self\.self.*… is nested more than 64 levels deep \(or refers to itself\) and cannot be encoded as CBOR$/);
    let deep: unknown = 1;
    for (let i = 0; i < 64; i++) deep = [deep];
    expect(cbor.decode(cbor.encode(deep))).toEqual(deep);
    expect(unfit([deep])).toMatch(/nested more than 64 levels deep/);
  });

  it('gives each message bytes of its own', () => {
    const first = cbor.encode({ n: 1 });
    const copy = Buffer.from(first);
    for (let i = 0; i < 1000; i++) cbor.encode({ n: i, padding: 'x'.repeat(100) });
    expect(first).toEqual(copy);
  });

  it('is labelled cbor', () => {
    expect(cbor.label).toBe('cbor');
  });
});
