/**
 * The Sparkplug B payload codec against Eclipse Tahu's JS codec (sparkplug-payload) as the
 * independent reference: payloads Tahu encodes read as the documented JSON, and what writePayload
 * encodes Tahu decodes to the same values.
 */
import Long from 'long';
import sparkplug from 'sparkplug-payload';
import tahuProto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exactInteger } from '../../../src/codecs/codec.js';
import {
  bdSeqOf, birthAliases, readPayload, toJson, writePayload, type AliasKey, type AliasTarget, type SparkplugJson,
} from '../../../src/codecs/sparkplug/payload.js';
import { MessageFailure } from '../../../src/pipeline/execution.js';

const tahu = sparkplug.get('spBv1.0')!;
const TahuPayload = tahuProto.org.eclipse.tahu.protobuf.Payload;

function read(bytes: Uint8Array, table: ReadonlyMap<AliasKey, AliasTarget> = new Map()): { value: SparkplugJson; unknownAliases: AliasKey[] } {
  return toJson(readPayload(Buffer.from(bytes)), (alias) => table.get(alias));
}

/** How we read one metric Tahu encoded. */
function readTahuMetric(metric: UMetric): SparkplugJson['metrics'][number] {
  return read(tahu.encodePayload({ timestamp: 1, metrics: [metric] })).value.metrics[0]!;
}

/**
 * Tahu's decoded values with Longs as decimal strings. (This install of sparkplug-payload has its
 * own copy of long, so its `instanceof Long` checks fail and it hands back raw unsigned Longs.)
 */
function plain(value: unknown, signed = true): unknown {
  if (Long.isLong(value)) return (signed ? value.toSigned() : value.toUnsigned()).toString();
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map((v) => plain(v, signed));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, signed)]));
  return value;
}

function failureOf(fn: () => unknown): MessageFailure {
  try {
    fn();
  } catch (error) {
    if (error instanceof MessageFailure) return error;
    throw error;
  }
  throw new Error('expected a MessageFailure');
}

describe('reading what Eclipse Tahu encodes', () => {
  it.each([
    ['Int8', -5, -5],
    ['Int8', -128, -128],
    ['Int8', 127, 127],
    ['Int16', -32768, -32768],
    ['Int32', -2147483648, -2147483648],
    ['Int32', 2147483647, 2147483647],
    ['UInt8', 255, 255],
    ['UInt16', 65535, 65535],
    ['UInt32', 4294967295, 4294967295], // Tahu puts UInt32 in long_value
    ['Int64', -1, -1],
    ['Int64', Long.fromString('-9223372036854775808'), '-9223372036854775808'],
    ['Int64', Long.fromString('9223372036854775807'), '9223372036854775807'],
    ['Int64', Long.fromString('-9007199254740991'), -9007199254740991],
    ['UInt64', Long.fromString('18446744073709551615', true), '18446744073709551615'],
    ['UInt64', Long.fromString('9007199254740993', true), '9007199254740993'],
    ['UInt64', Long.fromString('9007199254740991', true), 9007199254740991],
    ['DateTime', 1700000000123, 1700000000123],
    ['Float', 1.23, 1.23],
    ['Float', -0.5, -0.5],
    ['Float', 3.4028234663852886e38, 3.4028235e38],
    ['Double', 0.1, 0.1],
    ['Double', -1e300, -1e300],
    ['Boolean', true, true],
    ['Boolean', false, false],
    ['String', 'héllo ✓', 'héllo ✓'],
    ['Text', 'a\nb', 'a\nb'],
    ['UUID', '0f8fad5b-d9cb-469f-a165-70867728950e', '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['Bytes', new Uint8Array([0, 255, 1]), 'AP8B'],
    ['File', new Uint8Array([104, 105]), 'aGk='],
  ] as const)('%s %s reads as %j', (type, value, expected) => {
    expect(readTahuMetric({ name: 'm', type, value })).toEqual({ name: 'm', datatype: type, value: expected });
  });

  it('reads the payload fields and the metric flags, timestamp and metadata', () => {
    const bytes = tahu.encodePayload({
      timestamp: 1700000000000, seq: 7, uuid: 'u-1', body: new Uint8Array([1, 2, 3]),
      metrics: [{
        name: 'file', type: 'String', value: 'x', timestamp: 1700000000001, isHistorical: true, isTransient: true,
        metadata: { isMultiPart: false, contentType: 'text/plain', size: 12, seq: 2, fileName: 'a.txt', fileType: 'txt', md5: 'abc', description: 'd' },
      }],
    });
    expect(read(bytes).value).toEqual({
      timestamp: 1700000000000, seq: 7, uuid: 'u-1', body: 'AQID',
      metrics: [{
        name: 'file', timestamp: 1700000000001, datatype: 'String', value: 'x', isHistorical: true, isTransient: true,
        metadata: { isMultiPart: false, contentType: 'text/plain', size: 12, seq: 2, fileName: 'a.txt', fileType: 'txt', md5: 'abc', description: 'd' },
      }],
    });
  });

  it('reads a null metric as value null with isNull', () => {
    expect(readTahuMetric({ name: 'm', type: 'Int32', value: null })).toEqual({ name: 'm', datatype: 'Int32', value: null, isNull: true });
  });

  it('reads an empty buffer as an empty payload', () => {
    expect(read(Buffer.alloc(0))).toEqual({ value: { metrics: [] }, unknownAliases: [] });
  });

  it('reads a DataSet with values typed per column', () => {
    const metric = readTahuMetric({
      name: 'table', type: 'DataSet',
      value: {
        numOfColumns: 5, columns: ['i64', 'u32', 'd', 'b', 's'], types: ['Int64', 'UInt32', 'Double', 'Boolean', 'String'],
        rows: [[Long.fromString('-9223372036854775808'), 4000000000, 0.25, true, 'a'], [-3, 0, -1.5, false, '']],
      },
    });
    expect(metric).toEqual({
      name: 'table', datatype: 'DataSet',
      value: {
        columns: ['i64', 'u32', 'd', 'b', 's'], types: ['Int64', 'UInt32', 'Double', 'Boolean', 'String'],
        rows: [['-9223372036854775808', 4000000000, 0.25, true, 'a'], [-3, 0, -1.5, false, '']],
      },
    });
  });

  it('reads templates, nested templates and parameters', () => {
    const metric = readTahuMetric({
      name: 'Motor 1', type: 'Template',
      value: {
        version: 'v1', templateRef: 'Motor', isDefinition: false,
        metrics: [
          { name: 'rpm', type: 'Int16', value: -1200 },
          { name: 'Bearing', type: 'Template', value: { templateRef: 'Bearing', metrics: [{ name: 'temp', type: 'Float', value: 41.5 }] } },
        ],
        parameters: [{ name: 'serial', type: 'String', value: 'SN-1' }, { name: 'poles', type: 'Int64', value: 4 }],
      },
    });
    expect(metric).toEqual({
      name: 'Motor 1', datatype: 'Template',
      value: {
        version: 'v1', templateRef: 'Motor', isDefinition: false,
        metrics: [
          { name: 'rpm', datatype: 'Int16', value: -1200 },
          { name: 'Bearing', datatype: 'Template', value: { templateRef: 'Bearing', metrics: [{ name: 'temp', datatype: 'Float', value: 41.5 }] } },
        ],
        parameters: [{ name: 'serial', type: 'String', value: 'SN-1' }, { name: 'poles', type: 'Int64', value: 4 }],
      },
    });
  });

  it('reads property sets, nested property sets, property set lists and null properties', () => {
    const metric = readTahuMetric({
      name: 'temp', type: 'Double', value: 21.5,
      properties: {
        engUnit: { type: 'String', value: '°C' },
        Quality: { type: 'Int32', value: 192 },
        offset: { type: 'Int8', value: -3 },
        limits: { type: 'PropertySet', value: { hi: { type: 'Double', value: 90.5 }, lo: { type: 'Int64', value: -40 } } },
        history: { type: 'PropertySetList', value: [{ at: { type: 'DateTime', value: 1700000000000 } }, { at: { type: 'DateTime', value: 5 } }] },
        note: { type: 'String', value: null },
      },
    });
    expect(metric).toEqual({
      name: 'temp', datatype: 'Double', value: 21.5,
      properties: { engUnit: '°C', Quality: 192, offset: -3, limits: { hi: 90.5, lo: -40 }, history: [{ at: 1700000000000 }, { at: 5 }], note: null },
    });
  });
});

describe('aliases', () => {
  const birth = tahu.encodePayload({
    timestamp: 1, seq: 0,
    metrics: [
      { name: 'bdSeq', type: 'UInt64', value: 3 },
      { name: 'temp', alias: 1, type: 'Int8', value: 20 },
      { name: 'count', alias: Long.fromString('18446744073709551615', true), type: 'UInt64', value: 0 },
    ],
  });

  it('lists what a BIRTH declares and its bdSeq', () => {
    const raw = readPayload(Buffer.from(birth));
    expect(birthAliases(raw)).toEqual([{ alias: 1, name: 'temp', datatype: 1 }, { alias: '18446744073709551615', name: 'count', datatype: 8 }]);
    expect(bdSeqOf(raw)).toBe(3);
    expect(raw.seq).toBe(0);
  });

  it('names DATA metrics sent by alias only, with the datatype of their BIRTH', () => {
    const table = new Map(birthAliases(readPayload(Buffer.from(birth))).map((a) => [a.alias, { name: a.name, datatype: a.datatype }]));
    // Sparkplug DATA: alias only, no name, no datatype (built with Tahu's generated protobuf classes).
    const data = TahuPayload.encode({
      seq: 1,
      metrics: [
        { alias: 1, timestamp: 5, intValue: 0xfffffffb },
        { alias: Long.fromString('18446744073709551615', true), longValue: Long.fromString('18446744073709551615', true) },
        { alias: 9, intValue: 7 },
        { alias: 9, intValue: 8, isHistorical: true },
        { name: 'named', alias: 10, datatype: 3, intValue: 1 },
      ],
    }).finish();
    expect(read(data, table)).toEqual({
      value: {
        seq: 1,
        metrics: [
          { name: 'temp', alias: 1, timestamp: 5, datatype: 'Int8', value: -5 },
          { name: 'count', alias: '18446744073709551615', datatype: 'UInt64', value: '18446744073709551615' },
          { alias: 9, value: 7 },
          { alias: 9, value: 8, isHistorical: true },
          { name: 'named', alias: 10, datatype: 'Int32', value: 1 },
        ],
      },
      unknownAliases: [9],
    });
  });

  it('reads a value without any datatype by its protobuf field, integers unsigned', () => {
    const bytes = TahuPayload.encode({
      metrics: [
        { name: 'a', intValue: 0xffffffff }, { name: 'b', longValue: Long.fromString('18446744073709551615', true) },
        { name: 'c', doubleValue: 1.5 }, { name: 'd', stringValue: 's' }, { name: 'e', bytesValue: new Uint8Array([9]) },
      ],
    }).finish();
    expect(read(bytes).value.metrics).toEqual([
      { name: 'a', value: 4294967295 }, { name: 'b', value: '18446744073709551615' },
      { name: 'c', value: 1.5 }, { name: 'd', value: 's' }, { name: 'e', value: 'CQ==' },
    ]);
  });

  it('has no bdSeq when the BIRTH carries none', () => {
    expect(bdSeqOf(readPayload(Buffer.from(tahu.encodePayload({ metrics: [{ name: 'x', type: 'Int32', value: 1 }] }))))).toBeUndefined();
  });
});

describe('writing payloads Eclipse Tahu reads', () => {
  const json = {
    timestamp: 1700000000000, seq: 4, uuid: 'u', body: 'AQID',
    metrics: [
      { name: 'i8', datatype: 'Int8', value: -5 },
      { name: 'i16', datatype: 'Int16', value: -300 },
      { name: 'i32', datatype: 'Int32', value: -70000 },
      { name: 'i64', datatype: 'Int64', value: '-9223372036854775808' },
      { name: 'u8', datatype: 'UInt8', value: 200 },
      { name: 'u16', datatype: 'UInt16', value: 60000 },
      { name: 'u32', datatype: 'UInt32', value: 123456 },
      { name: 'u64', datatype: 'UInt64', value: '18446744073709551615' },
      { name: 'f', datatype: 'Float', value: 1.23 },
      { name: 'd', datatype: 'Double', value: 2.5 },
      { name: 'b', datatype: 'Boolean', value: false },
      { name: 's', datatype: 'String', value: 'x' },
      { name: 'dt', datatype: 'DateTime', value: 1700000000123 },
      { name: 'bytes', datatype: 'Bytes', value: 'AQID' },
      { name: 'n', alias: 3, timestamp: 9, datatype: 'Int32', value: null, isNull: true, isHistorical: true, isTransient: true },
    ],
  } as const;

  it('encodes every scalar datatype as Tahu decodes it', () => {
    const decoded = tahu.decodePayload(writePayload(json, {}));
    const values = decoded.metrics!.map((m) => [m.name, m.type, plain(m.value, m.type === 'Int64')]);
    expect(values).toEqual([
      ['i8', 'Int8', -5], ['i16', 'Int16', -300], ['i32', 'Int32', -70000], ['i64', 'Int64', '-9223372036854775808'],
      ['u8', 'UInt8', 200], ['u16', 'UInt16', 60000], ['u32', 'UInt32', '123456'], ['u64', 'UInt64', '18446744073709551615'],
      ['f', 'Float', Math.fround(1.23)], ['d', 'Double', 2.5], ['b', 'Boolean', false], ['s', 'String', 'x'],
      ['dt', 'DateTime', '1700000000123'], ['bytes', 'Bytes', [1, 2, 3]], ['n', 'Int32', null],
    ]);
    expect(decoded.metrics![14]).toMatchObject({ alias: Long.fromNumber(3, true), isHistorical: true, isTransient: true });
    expect(Long.fromValue(decoded.timestamp!).toNumber()).toBe(1700000000000);
    expect(decoded.uuid).toBe('u');
  });

  it('writes the same bytes as Tahu for the same payload', () => {
    const ours = writePayload({
      timestamp: 1700000000000, seq: 4,
      metrics: [
        { name: 'i8', alias: 1, datatype: 'Int8', value: -5, timestamp: 1700000000001 },
        { name: 'i64', datatype: 'Int64', value: -2 },
        { name: 'u32', datatype: 'UInt32', value: 4000000000 },
        { name: 'u64', datatype: 'UInt64', value: '18446744073709551615' },
        { name: 'f', datatype: 'Float', value: 1.5 },
        { name: 'n', datatype: 'String', value: null },
        { name: 't', datatype: 'DataSet', value: { columns: ['a', 'b'], types: ['Int32', 'String'], rows: [[1, 'x']] }, properties: { Quality: 192, engUnit: 'm' } },
      ],
    }, {});
    const theirs = tahu.encodePayload({
      timestamp: 1700000000000, seq: 4,
      metrics: [
        { name: 'i8', alias: 1, type: 'Int8', value: -5, timestamp: 1700000000001 },
        { name: 'i64', type: 'Int64', value: -2 },
        { name: 'u32', type: 'UInt32', value: 4000000000 },
        { name: 'u64', type: 'UInt64', value: Long.fromString('18446744073709551615', true) },
        { name: 'f', type: 'Float', value: 1.5 },
        { name: 'n', type: 'String', value: null },
        { name: 't', type: 'DataSet', value: { numOfColumns: 2, columns: ['a', 'b'], types: ['Int32', 'String'], rows: [[1, 'x']] }, properties: { Quality: { type: 'Int32', value: 192 }, engUnit: { type: 'String', value: 'm' } } },
      ],
    });
    expect(ours.toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
  });

  it('reads back exactly what it wrote', () => {
    expect(read(writePayload(json, {})).value).toEqual(json);
  });

  it('writes negatives in two\'s complement and UInt32 in long_value, as Tahu does', () => {
    const raw = TahuPayload.decode(writePayload({ metrics: [{ name: 'a', datatype: 'Int8', value: -1 }, { name: 'b', datatype: 'UInt32', value: 4294967295 }] }, {}));
    expect(raw.metrics[0]!.intValue).toBe(0xffffffff);
    expect(raw.metrics[1]!.longValue).toEqual(Long.fromString('4294967295', true));
    expect(Object.hasOwn(raw.metrics[1]!, 'intValue')).toBe(false);
  });

  it('infers Int64, Double, String, Boolean and DataSet for metrics without a datatype', () => {
    const bytes = writePayload({ metrics: [
      { name: 'i', value: 42 }, { name: 'd', value: 0.5 }, { name: 's', value: 'x' }, { name: 'b', value: true },
      { name: 't', value: { columns: ['n', 'x'], rows: [[1, 'a'], [null, 'b']] } },
    ] }, {});
    expect(read(bytes).value.metrics).toEqual([
      { name: 'i', datatype: 'Int64', value: 42 }, { name: 'd', datatype: 'Double', value: 0.5 },
      { name: 's', datatype: 'String', value: 'x' }, { name: 'b', datatype: 'Boolean', value: true },
      { name: 't', datatype: 'DataSet', value: { columns: ['n', 'x'], types: ['Int64', 'String'], rows: [[1, 'a'], [null, 'b']] } },
    ]);
  });

  it('takes seq and timestamp from the defaults only when the value has none', () => {
    expect(read(writePayload({ metrics: [] }, { seq: 5, timestamp: 77 })).value).toEqual({ timestamp: 77, seq: 5, metrics: [] });
    expect(read(writePayload({ seq: 1, timestamp: 2, metrics: [] }, { seq: 5, timestamp: 77 })).value).toEqual({ timestamp: 2, seq: 1, metrics: [] });
  });

  it('accepts a decoded message (with its topic fields) for publishing again', () => {
    const decoded = { group: 'g', messageType: 'NDATA', edgeNode: 'e', device: 'd', seq: 3, metrics: [{ alias: 1, value: 5, datatype: 'Int32' }] };
    expect(read(writePayload(decoded, {})).value).toEqual({ seq: 3, metrics: [{ alias: 1, value: 5, datatype: 'Int32' }] });
  });

  it('encodes a DataSet Tahu decodes', () => {
    const value = {
      columns: ['i64', 'u32', 'd', 'b', 's'], types: ['Int64', 'UInt32', 'Double', 'Boolean', 'String'],
      rows: [['-9223372036854775808', 4000000000, 0.25, true, 'a'], [7, 1, 2, false, 'b']],
    };
    const bytes = writePayload({ metrics: [{ name: 't', datatype: 'DataSet', value }] }, {});
    expect(plain(tahu.decodePayload(bytes).metrics![0]!.value)).toEqual({
      numOfColumns: '5', columns: ['i64', 'u32', 'd', 'b', 's'], types: ['Int64', 'UInt32', 'Double', 'Boolean', 'String'],
      rows: [['-9223372036854775808', '4000000000', 0.25, true, 'a'], ['7', '1', 2, false, 'b']],
    });
    expect(read(bytes).value.metrics[0]!.value).toEqual(value);
  });

  it('writes a null DataSet cell as an element without a value', () => {
    const value = { columns: ['n'], types: ['Int32'], rows: [[null], [1]] };
    const bytes = writePayload({ metrics: [{ name: 't', datatype: 'DataSet', value }] }, {});
    expect(TahuPayload.decode(bytes).metrics[0]!.datasetValue!.rows![0]!.elements).toEqual([{}]);
    expect(read(bytes).value.metrics[0]!.value).toEqual(value);
  });

  it('encodes templates with parameters and properties Tahu decodes', () => {
    const value = {
      version: 'v1', templateRef: 'Motor', isDefinition: false,
      metrics: [{ name: 'rpm', datatype: 'Int16', value: -1200 }, { name: 'inner', datatype: 'Template', value: { isDefinition: true, metrics: [{ name: 'x', datatype: 'String', value: 'y' }] } }],
      parameters: [{ name: 'serial', type: 'String', value: 'SN-1' }, { name: 'poles', type: 'Int64', value: 4 }],
    };
    const properties = { engUnit: '°C', Quality: 192, big: 2 ** 40, ratio: 0.5, on: true, limits: { hi: 90 }, history: [{ at: 1 }], none: null };
    const bytes = writePayload({ metrics: [{ name: 'Motor 1', datatype: 'Template', value, properties }] }, {});
    const decoded = tahu.decodePayload(bytes).metrics![0]!;
    expect(plain(decoded.properties)).toEqual({
      engUnit: { type: 'String', value: '°C' }, Quality: { type: 'Int32', value: 192 }, big: { type: 'Int64', value: String(2 ** 40) },
      ratio: { type: 'Double', value: 0.5 }, on: { type: 'Boolean', value: true }, limits: { type: 'PropertySet', value: { hi: { type: 'Int32', value: 90 } } },
      history: { type: 'PropertySetList', value: [{ at: { type: 'Int32', value: 1 } }] }, none: { type: 'String', value: null },
    });
    const template = decoded.value as { templateRef: string; metrics: { name: string; value: unknown }[]; parameters: { name: string; value: unknown }[] };
    expect(template.templateRef).toBe('Motor');
    expect(template.metrics.map((m) => m.name)).toEqual(['rpm', 'inner']);
    expect(template.parameters[0]).toEqual({ name: 'serial', type: 'String', value: 'SN-1' });
    expect(read(bytes).value.metrics[0]).toEqual({ name: 'Motor 1', datatype: 'Template', value, properties });
  });

  it('round-trips every integer datatype over its whole range', () => {
    const ranges = [['Int8', 8, true], ['Int16', 16, true], ['Int32', 32, true], ['Int64', 64, true], ['UInt8', 8, false], ['UInt16', 16, false], ['UInt32', 32, false], ['UInt64', 64, false], ['DateTime', 64, true]] as const;
    for (const [datatype, bits, signed] of ranges) {
      const min = signed ? -(2n ** BigInt(bits - 1)) : 0n;
      const max = signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n;
      fc.assert(fc.property(fc.bigInt({ min, max }), (n) => {
        const metric = { name: 'm', datatype, value: exactInteger(n) };
        expect(read(writePayload({ metrics: [metric] }, {})).value.metrics).toEqual([metric]);
      }), { numRuns: 200, examples: [[min], [max]] });
    }
  });
});

describe('refusing values that do not fit', () => {
  it.each([
    [{ name: 'm', datatype: 'Int8', value: 300 }, 'metrics[0] ("m"): Int8 needs an integer from -128 to 127, not 300'],
    [{ name: 'm', datatype: 'Int32', value: 1.5 }, 'metrics[0] ("m"): Int32 needs an integer from -2147483648 to 2147483647, not 1.5'],
    [{ name: 'm', datatype: 'Int64', value: '12abc' }, 'metrics[0] ("m"): Int64 needs an integer from -9223372036854775808 to 9223372036854775807, not \'12abc\''],
    [{ name: 'm', datatype: 'UInt64', value: -1 }, 'metrics[0] ("m"): UInt64 needs an integer from 0 to 18446744073709551615, not -1'],
    [{ name: 'm', datatype: 'UInt64', value: 2 ** 60 }, 'metrics[0] ("m"): UInt64 1152921504606847000 is beyond ±(2^53−1), where JSON numbers are not exact; give it as a decimal string'],
    [{ name: 'm', datatype: 'Float', value: 1e39 }, 'metrics[0] ("m"): Float needs a number, not 1e+39'],
    [{ name: 'm', datatype: 'Boolean', value: 'yes' }, 'metrics[0] ("m"): Boolean needs true or false, not \'yes\''],
    [{ name: 'm', datatype: 'Bytes', value: 'not base64!' }, 'metrics[0] ("m"): Bytes needs a base64 string, not \'not base64!\''],
    [{ name: 'm', datatype: 'Int33', value: 1 }, 'metrics[0] ("m"): unknown datatype \'Int33\': use a Sparkplug B DataType name (Int32, Double, String, DataSet, …) or number 0–34'],
    [{ name: 'm', value: [1, 2] }, 'metrics[0] ("m"): cannot tell the datatype of [1,2]; give the metric a datatype (Int32, Double, StringArray, …)'],
    [{ name: 'm', datatype: 'PropertySet', value: {} }, 'metrics[0] ("m"): datatype PropertySet cannot hold a value here'],
    [{ value: 1 }, 'metrics[0]: a metric needs a name or an alias'],
    [{ name: 'm', valeu: 1 }, 'metrics[0] ("m"): unknown field \'valeu\': a metric has name, alias, timestamp, datatype, value, isHistorical, isTransient, isNull, properties, metadata'],
    [{ name: 'm', isNull: true, value: 5 }, 'metrics[0] ("m"): isNull is true but value is 5'],
    [{ name: 'm', datatype: 'DataSet', value: { columns: ['a'], types: ['Int32'], rows: [[1, 2]] } }, 'metrics[0] ("m"): rows[0] has 2 values for 1 columns'],
    [{ name: 'm', datatype: 'DataSet', value: { columns: ['a'], types: ['Bytes'], rows: [] } }, 'metrics[0] ("m"): types[0] cannot be Bytes: only Int8 … UUID (no Bytes, arrays, DataSet or Template)'],
    [{ name: 'm', datatype: 'DataSet', value: { columns: ['a'], types: ['Int8'], rows: [[1000]] } }, 'metrics[0] ("m") > rows[0][0]: Int8 needs an integer from -128 to 127, not 1000'],
    [{ name: 't', datatype: 'Template', value: { metrics: [{ name: 'x', datatype: 'UInt8', value: -1 }] } }, 'metrics[0] ("t") > metrics[0] ("x"): UInt8 needs an integer from 0 to 255, not -1'],
    [{ name: 't', datatype: 'Template', value: { metrics: [], parameters: [{ name: 'p', type: 'Int16', value: 'x' }] } }, 'metrics[0] ("t") > parameters[0]: Int16 needs an integer from -32768 to 32767, not \'x\''],
    [{ name: 'm', value: 1, properties: { q: [1] } }, 'metrics[0] ("m") > property "q": a property set must be an object, not 1'],
    [{ name: 'm', value: 1, metadata: { sise: 1 } }, 'metrics[0] ("m"): unknown metadata field \'sise\': metadata has isMultiPart, contentType, size, seq, fileName, fileType, md5, description'],
  ])('%j', (metric, problem) => {
    const failure = failureOf(() => writePayload({ metrics: [metric] }, {}));
    expect(failure.code).toBe('MQFLOW_ENCODE_SPARKPLUG');
    expect(failure.message).toBe(`cannot encode a Sparkplug B payload: ${problem}`);
  });

  it.each([
    [42, 'a Sparkplug B payload must be an object, not 42'],
    [{ metrics: {} }, 'metrics must be an array, not {}'],
    [{ metric: [] }, 'unknown field \'metric\': a Sparkplug B payload has metrics, timestamp, seq, uuid and body'],
    [{ seq: -1, metrics: [] }, 'seq: UInt64 needs an integer from 0 to 18446744073709551615, not -1'],
  ])('payload %j', (payload, problem) => {
    expect(failureOf(() => writePayload(payload, {})).message).toBe(`cannot encode a Sparkplug B payload: ${problem}`);
  });
});

describe('reading values that do not fit their datatype', () => {
  it('names the metric and the mismatch', () => {
    const bytes = TahuPayload.encode({ metrics: [{ name: 'ok', datatype: 3, intValue: 1 }, { name: 'm', datatype: 3, stringValue: 'x' }] }).finish();
    const failure = failureOf(() => read(bytes));
    expect(failure.code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
    expect(failure.message).toBe('the Sparkplug B payload cannot be read: metrics[1] ("m"): datatype Int32 belongs in int_value, but the value is in string_value');
  });

  it('names the dataset cell', () => {
    const bytes = TahuPayload.encode({ metrics: [{ name: 't', datatype: 16, datasetValue: { columns: ['a'], types: [12], rows: [{ elements: [{ stringValue: 'x' }] }, { elements: [{ intValue: 1 }] }] } }] }).finish();
    expect(failureOf(() => read(bytes)).message).toBe('the Sparkplug B payload cannot be read: metrics[0] ("t") > row 1 column 0: datatype String belongs in string_value, but the value is in int_value');
  });
});

