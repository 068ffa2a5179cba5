/**
 * Codec fuzzer (invariant 53): random bytes, truncated and bit-flipped valid payloads, and valid
 * payloads of hostile values go through CBOR, Protocol Buffers and Sparkplug B triggers with the
 * production decoders, pipeline and error route, in memory (src/testing/harness.ts). Every message
 * ends exactly one way: processed, or failed with its codec's code and dead-lettered; nothing
 * throws, nothing hangs, Object.prototype is never touched. MQFLOW_FUZZ_RUNS / 4 cases per codec.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cbor } from '../../src/codecs/cbor.js';
import { writePayload } from '../../src/codecs/sparkplug/payload.js';
import { runCase } from '../../src/testing/harness.js';
import type { TestCase } from '../../src/testing/test-file.js';
import { buildMemory } from '../unit/flow/helpers.js';

const RUNS = Math.ceil(Number(process.env.MQFLOW_FUZZ_RUNS ?? 10_000) / 4);

const PROTO = `syntax = "proto3";
package fuzz;
message Reading {
  string device = 1;
  double value = 2;
  uint64 total = 3;
  repeated Reading children = 4;
  bytes raw = 5;
  map<string, string> tags = 6;
  oneof extra { int32 code = 7; string note = 8; }
}
`;

const trigger = (name: string, topic: string, payload: string): string => `  ${name}:
    connection: plant
    topic: ${topic}
    payload: ${payload}
    service: handle
    maxPayloadBytes: 4096
    onError:
      publish:
        topic: fuzz/dead-letter
`;

const FLOW = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
${trigger('cbor-in', 'fuzz/cbor/+', 'cbor')}${trigger('protobuf-in', 'fuzz/protobuf/+', '{ protobuf: { file: reading.proto, type: fuzz.Reading } }')}${trigger('sparkplug-in', 'spBv1.0/fuzz/+/+', '{ sparkplugB: { rebirth: "off" } }')}services:
  handle:
    steps:
      - transform: '{ "kind": $type($), "keys": $type($) = "object" ? $keys($) : [] }'
      - publish:
          topic: fuzz/out
`;

const hostile = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 2 ** 53 + 2, -(2 ** 63), 1e308, ''),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 20 }),
    fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
    fc.uint8Array({ maxLength: 16 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const metric = fc.record(
  {
    name: fc.string({ maxLength: 12 }),
    alias: fc.integer({ min: 0, max: 40 }),
    datatype: fc.constantFrom('Int8', 'Int32', 'Int64', 'UInt64', 'Float', 'Double', 'Boolean', 'String', 'DateTime', 'Bytes'),
    value: fc.oneof(fc.integer({ min: -100, max: 100 }), fc.boolean(), fc.constantFrom('AAEC', '18446744073709551615')),
  },
  { requiredKeys: ['value'] },
);

/** A valid Sparkplug payload when writePayload takes the metrics, else random bytes. */
const sparkplugBytes = fc.record({ seq: fc.integer({ min: 0, max: 255 }), metrics: fc.array(metric, { maxLength: 6 }) }).map((json) => {
  try {
    return writePayload(json, {});
  } catch {
    return Buffer.from(JSON.stringify(json));
  }
});

const cborBytes = hostile.map((v) => {
  try {
    return cbor.encode(v);
  } catch {
    return Buffer.from([0xff]);
  }
});

/** Valid bytes of the codec, random bytes, and valid bytes truncated or with a byte changed. */
function damaged(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    valid,
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.tuple(valid, fc.nat()).map(([b, n]) => b.subarray(0, b.length === 0 ? 0 : n % b.length)),
    fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, n, x]) => {
      const copy = Buffer.from(b);
      if (copy.length > 0) copy[n % copy.length] = x;
      return copy;
    }),
  );
}

const protobufBytes = fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b));

const CASES = [
  { trigger: 'cbor-in', topic: (l: string) => `fuzz/cbor/${l}`, bytes: damaged(cborBytes), code: 'MQFLOW_PAYLOAD_CBOR' },
  { trigger: 'protobuf-in', topic: (l: string) => `fuzz/protobuf/${l}`, bytes: damaged(protobufBytes), code: 'MQFLOW_PAYLOAD_PROTOBUF' },
  { trigger: 'sparkplug-in', topic: (l: string) => `spBv1.0/fuzz/NDATA/${l}`, bytes: damaged(sparkplugBytes), code: 'MQFLOW_PAYLOAD_SPARKPLUG' },
] as const;

describe('codec fuzzer', () => {
  const built = buildMemory({ files: { 'fuzz.yaml': FLOW }, extra: { '/flows/reading.proto': PROTO } });
  if (built.model === undefined) throw new Error(built.text.join('\n'));
  const model = built.model;

  it.each(CASES)(`$trigger: every payload ends processed or dead-lettered with $code (${RUNS} runs)`, async ({ trigger, topic, bytes, code }) => {
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(bytes, fc.stringMatching(/^[a-z0-9-]{1,12}$/), async (payload, level) => {
        const testCase: TestCase = {
          name: 'fuzz',
          file: 'fuzz.test.yaml',
          line: 1,
          target: { kind: 'trigger', name: trigger },
          messages: [{ topic: topic(level), payload, qos: 1, retain: false }],
          fixed: {},
          expect: {},
        };
        const observed = await runCase(model, testCase);
        const outputs = observed.published.filter((p) => p.topic === 'fuzz/out');
        const letters = observed.published.filter((p) => p.topic === 'fuzz/dead-letter');
        expect(outputs.length + letters.length).toBe(1);
        const outcome = letters.length === 1 ? (observed.failures[0]?.code ?? '?') : 'processed';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (letters.length === 1) expect([code, 'MQFLOW_PAYLOAD_TOO_LARGE']).toContain(observed.failures[0]!.code);
        else expect(JSON.parse(JSON.stringify(outputs[0]!.json)) as unknown).toEqual(outputs[0]!.json);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    console.log(`codec fuzzer, ${trigger}: ${RUNS} runs: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
    // Both outcomes are reached: the generators make valid payloads and broken ones.
    expect(outcomes.get('processed')).toBeGreaterThan(RUNS / 20);
    expect(outcomes.get(code)).toBeGreaterThan(RUNS / 20);
  }, 600_000);
});
