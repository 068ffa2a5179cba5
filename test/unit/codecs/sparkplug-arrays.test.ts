/**
 * Sparkplug 3.0 array types (§6.4.17). sparkplug-payload 1.x cannot encode them, so the expected
 * bytes_value comes from the specification's examples, and Tahu's generated protobuf classes carry
 * them. Where the spec's examples contradict its own text they are corrected here: FloatArray and
 * DoubleArray are printed big-endian and DateTimeArray lacks its zero bytes, though the text (and
 * Tahu's Java encoder) says little-endian, 8 bytes each; Int8Array prints −23 as EF (it is E9).
 */
import tahuProto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import { describe, expect, it } from 'vitest';
import { readPayload, toJson, writePayload } from '../../../src/codecs/sparkplug/payload.js';
import { MessageFailure } from '../../../src/pipeline/execution.js';

const TahuPayload = tahuProto.org.eclipse.tahu.protobuf.Payload;
const DATATYPE = { Int8Array: 22, Int16Array: 23, Int32Array: 24, Int64Array: 25, UInt8Array: 26, UInt16Array: 27, UInt32Array: 28, UInt64Array: 29, FloatArray: 30, DoubleArray: 31, BooleanArray: 32, StringArray: 33, DateTimeArray: 34 } as const;

function readValue(bytes: Uint8Array): unknown {
  return toJson(readPayload(Buffer.from(bytes)), () => undefined).value.metrics[0]!.value;
}

/** A metric of `datatype` whose bytes_value is `hex`, encoded by Tahu's protobuf classes. */
function tahuArray(datatype: keyof typeof DATATYPE, hex: string): Uint8Array {
  return TahuPayload.encode({ metrics: [{ name: 'a', datatype: DATATYPE[datatype], bytesValue: Buffer.from(hex.replace(/ /g, ''), 'hex') }] }).finish();
}

const bytesValueOf = (payload: Buffer) => Buffer.from(TahuPayload.decode(payload).metrics[0]!.bytesValue!).toString('hex');

describe('Sparkplug array types', () => {
  it.each([
    ['Int8Array', [-23, 123], 'e9 7b'], // the spec prints EF 7B, but −23 is E9
    ['Int16Array', [-30000, 30000], 'd0 8a 30 75'],
    ['Int32Array', [-1, 315338746], 'ff ff ff ff fa af cb 12'],
    ['Int64Array', ['-4270929666821191986', '-3601064768563266876'], 'ce 06 72 ac 18 9c ba c4 c4 ba 9c 18 ac 72 06 ce'],
    ['UInt8Array', [23, 250], '17 fa'],
    ['UInt16Array', [30, 52360], '1e 00 88 cc'],
    ['UInt32Array', [52, 3293969225], '34 00 00 00 49 fb 55 c4'],
    ['UInt64Array', [52, '16444743074749521625'], '34 00 00 00 00 00 00 00 d9 9e 02 d1 b2 76 37 e4'],
    ['FloatArray', [1.23, 89.341], 'a4 70 9d 3f 98 ae b2 42'],
    ['DoubleArray', [12.354213, 1022.9123213], 'd7 a2 05 68 5b b5 28 40 8e 17 1c 6f 4c f7 8f 40'],
    ['BooleanArray', [false, false, true, true, false, true, false, false, true, true, false, true], '0c 00 00 00 34 d0'],
    ['StringArray', ['ABC', 'hello'], '41 42 43 00 68 65 6c 6c 6f 00'],
    ['DateTimeArray', [1256102875335, 1656107875000], 'c7 d0 90 75 24 01 00 00 b8 ba b8 97 81 01 00 00'],
    ['StringArray', ['', 'é', ''], '00 c3 a9 00 00'],
    ['BooleanArray', [], '00 00 00 00'],
    ['Int64Array', [], ''],
    ['UInt64Array', ['18446744073709551615', 9007199254740991, '9007199254740993'], 'ff ff ff ff ff ff ff ff ff ff ff ff ff ff 1f 00 01 00 00 00 00 00 20 00'],
  ] as const)('%s %j is %s', (datatype, values, hex) => {
    expect(readValue(tahuArray(datatype, hex))).toEqual(values);
    const written = writePayload({ metrics: [{ name: 'a', datatype, value: values }] }, {});
    expect(bytesValueOf(written)).toBe(hex.replace(/ /g, ''));
    expect(TahuPayload.decode(written).metrics[0]!.datatype).toBe(DATATYPE[datatype]);
  });

  it('ignores the padding bits of a BooleanArray', () => {
    expect(readValue(tahuArray('BooleanArray', '0c 00 00 00 34 df'))).toEqual([false, false, true, true, false, true, false, false, true, true, false, true]);
  });

  it('takes an unterminated last string of a StringArray as it is', () => {
    expect(readValue(tahuArray('StringArray', '41 00 42 43'))).toEqual(['A', 'BC']);
  });

  it.each([
    ['Int32Array', '01 02 03 04 05', 'Int32Array of 5 bytes is not a whole number of 4-byte elements'],
    ['Int64Array', '01', 'Int64Array of 1 bytes is not a whole number of 8-byte elements'],
    ['BooleanArray', '0c 00', 'a BooleanArray needs its 4-byte count'],
    ['BooleanArray', 'ff ff ff ff 00', 'a BooleanArray of 4294967295 needs 536870916 bytes, not 5'],
  ] as const)('refuses a %s of bytes %s', (datatype, hex, problem) => {
    const error = (() => {
      try {
        readValue(tahuArray(datatype, hex));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(MessageFailure);
    expect((error as MessageFailure).code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
    expect((error as MessageFailure).message).toBe(`the Sparkplug B payload cannot be read: metrics[0] ("a"): ${problem}`);
  });

  it.each([
    ['Int8Array', [1, 200], 'Int8Array element 1: Int8 needs an integer from -128 to 127, not 200'],
    ['UInt64Array', [-1], 'UInt64Array element 0: UInt64 needs an integer from 0 to 18446744073709551615, not -1'],
    ['FloatArray', ['x'], "FloatArray element 0: Float needs a number, not 'x'"],
    ['BooleanArray', [true, 1], 'BooleanArray element 1 must be a boolean, not 1'],
    ['StringArray', ['a\0b'], "StringArray element 0 must be a string without NUL, not 'a\0b'"],
    ['StringArray', 'abc', "StringArray needs an array, not 'abc'"],
  ] as const)('refuses to write a %s of %j', (datatype, value, problem) => {
    expect(() => writePayload({ metrics: [{ name: 'a', datatype, value }] }, {})).toThrow(`cannot encode a Sparkplug B payload: metrics[0] ("a"): ${problem}`);
  });

  it('writes DateTimeArray elements given as ISO dates', () => {
    const written = writePayload({ metrics: [{ name: 'a', datatype: 'DateTimeArray', value: ['2009-10-21T05:27:55.335Z'] }] }, {});
    expect(readValue(written)).toEqual([1256102875335]);
  });
});
