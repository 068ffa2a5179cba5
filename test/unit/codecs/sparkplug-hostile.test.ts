/** Bytes a broker may carry that are not a well-behaved Sparkplug B payload. */
import sparkplug from 'sparkplug-payload';
import tahuProto from 'sparkplug-payload/lib/sparkplugPayloadProto.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readPayload, toJson, writePayload } from '../../../src/codecs/sparkplug/payload.js';
import { MessageFailure } from '../../../src/pipeline/execution.js';

const tahu = sparkplug.get('spBv1.0')!;
const TahuPayload = tahuProto.org.eclipse.tahu.protobuf.Payload;

function read(bytes: Uint8Array, resolve: (alias: number | string) => { name: string; datatype: number } | undefined = () => undefined) {
  return toJson(readPayload(Buffer.from(bytes)), resolve);
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

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

/**
 * `levels` wrappings of `innermost`, each given as the bytes that precede its inner part (a
 * function of that part's length). Built inside out and joined once, so 10,000 levels stay cheap.
 */
function nest(levels: number, innermost: number[], prefix: (innerLength: number) => number[]): Buffer {
  const prefixes: number[][] = [];
  let length = innermost.length;
  for (let i = 0; i < levels; i++) {
    const p = prefix(length);
    prefixes.push(p);
    length += p.length;
  }
  return Buffer.from([...prefixes.reverse().flat(), ...innermost]);
}

/** Payload.metrics[0] = a Template metric named "t" whose template holds one such metric, `depth` templates deep. */
function nestedTemplates(depth: number): Buffer {
  const metricHead = [0x0a, 0x01, 0x74, 0x20, 19]; // name "t", datatype Template
  const emptyTemplateMetric = [...metricHead, 0x92, 0x01, 0x00]; // template_value (18) of length 0
  const template = (len: number) => [0x12, ...varint(len)]; // Template.metrics (2)
  const metric = (len: number) => [...metricHead, 0x92, 0x01, ...varint(len)]; // Metric.template_value (18)
  const inner = nest(depth - 1, emptyTemplateMetric, (len) => {
    const t = template(len);
    return [...metric(t.length + len), ...t];
  });
  return Buffer.from([0x12, ...varint(inner.length), ...inner]);
}

/** One metric "p" whose property "k" is a PropertySet holding "k" again, `depth` sets deep. */
function nestedPropertySets(depth: number): Buffer {
  const set = (len: number) => {
    const value = [0x08, 20, 0x4a, ...varint(len)]; // PropertyValue: type PropertySet, propertyset_value (9)
    return [0x0a, 0x01, 0x6b, 0x12, ...varint(value.length + len), ...value]; // PropertySet: keys "k", values
  };
  const sets = nest(depth, [], set);
  const metric = [0x0a, 0x01, 0x70, 0x4a, ...varint(sets.length), ...sets]; // name "p", properties (9)
  return Buffer.from([0x12, ...varint(metric.length), ...metric]);
}

describe('bytes that are not a Sparkplug B payload', () => {
  it('refuses an invalid wire type', () => {
    const failure = failureOf(() => readPayload(Buffer.from([0x37, 0x01]))); // field 6, wire type 7
    expect(failure.code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
    expect(failure.permanent).toBe(true);
    expect(failure.message).toBe('the payload is not a Sparkplug B protobuf: invalid wire type 7 at offset 1');
  });

  it('refuses a payload cut short inside a metric', () => {
    const bytes = tahu.encodePayload({ timestamp: 1, metrics: [{ name: 'temperature', type: 'String', value: 'twenty degrees' }] });
    const failure = failureOf(() => readPayload(Buffer.from(bytes.subarray(0, bytes.length - 3))));
    expect(failure.code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
    expect(failure.message).toBe('the payload is not a Sparkplug B protobuf: index out of range');
  });

  it('reads every prefix of a real payload either as a payload or as a MessageFailure', () => {
    const bytes = Buffer.from(tahu.encodePayload({
      timestamp: 1700000000000, seq: 1,
      metrics: [
        { name: 'a', alias: 1, type: 'Int64', value: -5, properties: { Quality: { type: 'Int32', value: 192 } } },
        { name: 'ds', type: 'DataSet', value: { numOfColumns: 1, columns: ['x'], types: ['String'], rows: [['y']] } },
        { name: 't', type: 'Template', value: { templateRef: 'T', metrics: [{ name: 'm', type: 'Double', value: 1.5 }] } },
      ],
    }));
    let failures = 0;
    for (let end = 0; end < bytes.length; end++) {
      try {
        JSON.stringify(read(bytes.subarray(0, end)).value);
      } catch (error) {
        expect(error).toBeInstanceOf(MessageFailure);
        expect((error as MessageFailure).code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(bytes.length / 2);
  });

  it('reads random bytes as plain JSON or refuses them with a MessageFailure, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        const { value, unknownAliases } = read(bytes, () => undefined);
        expect(JSON.parse(JSON.stringify({ value, unknownAliases }))).toEqual({ value, unknownAliases });
      } catch (error) {
        expect(error).toBeInstanceOf(MessageFailure);
        expect((error as MessageFailure).code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
      }
    }), { numRuns: 3000 });
  });
});

describe('payloads built to hurt', () => {
  it('reads 100,000 metrics sent by alias', () => {
    const count = 100_000;
    const metrics = Array.from({ length: count }, (_, i) => ({ alias: i, type: 'Int32' as const, value: i - 50_000 }));
    const bytes = tahu.encodePayload({ timestamp: 1, seq: 2, metrics });
    const { value, unknownAliases } = read(bytes, (alias) => (alias === 99_999 ? { name: 'last', datatype: 3 } : undefined));
    expect(value.metrics).toHaveLength(count);
    expect(value.metrics[0]).toEqual({ alias: 0, datatype: 'Int32', value: -50_000 });
    expect(value.metrics[count - 1]).toEqual({ name: 'last', alias: 99_999, datatype: 'Int32', value: 49_999 });
    expect(unknownAliases).toHaveLength(count - 1);
  });

  it('reads templates nested 32 deep', () => {
    let metric = read(nestedTemplates(32)).value.metrics[0]!;
    for (let depth = 1; depth < 32; depth++) metric = (metric.value as unknown as { metrics: (typeof metric)[] }).metrics[0]!;
    expect(metric).toEqual({ name: 't', datatype: 'Template', value: { metrics: [] } });
  });

  it('refuses templates nested 33 deep, saying so', () => {
    const failure = failureOf(() => read(nestedTemplates(33)));
    expect(failure.code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
    expect(failure.message).toBe('the Sparkplug B payload cannot be read: metrics[0] ("t") > metrics[0] ("t") > … > metrics[0] ("t"): templates or property sets are nested more than 32 levels deep; mqflow reads at most 32');
  });

  it('refuses templates nested 10,000 deep with a MessageFailure, not a stack overflow', () => {
    const failure = failureOf(() => read(nestedTemplates(10_000)));
    expect(failure.code).toBe('MQFLOW_PAYLOAD_SPARKPLUG');
    expect(failure.message).toBe('the payload is not a Sparkplug B protobuf: maximum nesting depth exceeded');
  });

  it('refuses property sets nested 40 deep', () => {
    const failure = failureOf(() => read(nestedPropertySets(40)));
    expect(failure.message).toBe('the Sparkplug B payload cannot be read: metrics[0] ("p") > property "k" > … > property "k": templates or property sets are nested more than 32 levels deep; mqflow reads at most 32');
    expect(read(nestedPropertySets(31)).value.metrics[0]!.name).toBe('p');
  });

  it('refuses to write templates nested deeper than 32', () => {
    let value: unknown = { metrics: [] };
    for (let i = 0; i < 40; i++) value = { metrics: [{ name: 't', datatype: 'Template', value }] };
    const failure = failureOf(() => writePayload({ metrics: [{ name: 't', datatype: 'Template', value }] }, {}));
    expect(failure.code).toBe('MQFLOW_ENCODE_SPARKPLUG');
    expect(failure.message).toMatch(/: templates or property sets are nested more than 32 levels deep; mqflow reads at most 32$/);
  });

  it('keeps a property named __proto__ as a plain key', () => {
    const bytes = tahu.encodePayload({ metrics: [{ name: 'm', type: 'Int32', value: 1, properties: { ['__proto__']: { type: 'PropertySet', value: { polluted: { type: 'Boolean', value: true } } } } }] });
    const properties = read(bytes).value.metrics[0]!.properties!;
    expect(Object.getPrototypeOf(properties)).toBe(Object.prototype);
    expect(Object.hasOwn(properties, '__proto__')).toBe(true);
    expect((properties as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('does not pad DataSet rows to a huge column count', () => {
    const columns = Array.from({ length: 10_000 }, (_, i) => `c${i}`);
    const rows = Array.from({ length: 10_000 }, () => ({ elements: [] }));
    const bytes = TahuPayload.encode({ metrics: [{ name: 'd', datatype: 16, datasetValue: { numOfColumns: 10_000, columns, types: [], rows } }] }).finish();
    const ds = read(bytes).value.metrics[0]!.value as { columns: string[]; rows: unknown[][] };
    expect(ds.columns).toHaveLength(10_000);
    expect(ds.rows).toHaveLength(10_000);
    expect(ds.rows.every((row) => row.length === 0)).toBe(true);
  });
});
