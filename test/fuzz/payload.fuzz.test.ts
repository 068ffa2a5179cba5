/**
 * Payload fuzzer: random bytes, text, JSON values (with `__proto__` and `constructor` keys, deep
 * nesting, huge strings) go through a trigger with the production decoder, pipeline and error
 * route, in memory (src/testing/harness.ts). Every message ends exactly one way: processed and
 * published, or failed with a known code and dead-lettered. Nothing throws, nothing hangs, and
 * Object.prototype is never touched. MQFLOW_FUZZ_RUNS sets the number of cases (default 10,000).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCase } from '../../src/testing/harness.js';
import type { TestCase } from '../../src/testing/test-file.js';
import { buildMemory } from '../unit/flow/helpers.js';

const RUNS = Number(process.env.MQFLOW_FUZZ_RUNS ?? 10_000);
const MAX_BYTES = 4096;
const KNOWN_CODES = new Set(['MQFLOW_PAYLOAD_ENCODING', 'MQFLOW_PAYLOAD_JSON', 'MQFLOW_PAYLOAD_TOO_LARGE', 'MQFLOW_PUBLISH_EMPTY', 'MQFLOW_EXPRESSION', 'MQFLOW_FAILED']);

const FLOW = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  fuzz-in:
    connection: plant
    topic: fuzz/+
    service: handle
    maxPayloadBytes: ${MAX_BYTES}
    onError:
      publish:
        topic: fuzz/dead-letter
services:
  handle:
    steps:
      - set:
          kind: $type($)
      - transform: '{"kind": $kind, "keys": $type($) = "object" ? $keys($) : [], "seq": seq, "wildcard": $wildcards[0]}'
      - publish:
          topic: fuzz/out/{{ kind }}
`;

/** JSON values with keys that target prototypes, nesting and large strings. */
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, 0, -1, 1e308, -0, ''),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'seq', 'hasOwnProperty'), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** A payload as bytes, in one of several hostile shapes. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 64, unit: 'binary' }).map((s) => Buffer.from(s, 'utf8')),
  hostileJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  // JSON.parse keeps "__proto__" as an own key; these must stay plain data.
  fc.constantFrom('{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '[{"__proto__":[]}]').map((t) => Buffer.from(t)),
  fc.integer({ min: 1, max: 3000 }).map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
  fc.integer({ min: MAX_BYTES - 2, max: MAX_BYTES + 2 }).map((n) => Buffer.alloc(n, 0x61)),
  fc.constantFrom(Buffer.alloc(0), Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80])),
);

describe('payload fuzzer', () => {
  const built = buildMemory({ files: { 'fuzz.yaml': FLOW } });
  if (built.model === undefined) throw new Error(built.text.join('\n'));
  const model = built.model;

  it(`every payload ends processed or dead-lettered with a known code (${RUNS} runs)`, async () => {
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(payload, fc.stringMatching(/^[a-z0-9-]{1,12}$/), async (bytes, level) => {
        const testCase: TestCase = {
          name: 'fuzz',
          file: 'fuzz.test.yaml',
          line: 1,
          target: { kind: 'trigger', name: 'fuzz-in' },
          // A Buffer payload is delivered as exactly these bytes.
          messages: [{ topic: `fuzz/${level}`, payload: bytes, qos: 1, retain: false }],
          fixed: {},
          expect: {},
        };
        const observed = await runCase(model, testCase);
        const outputs = observed.published.filter((p) => p.topic.startsWith('fuzz/out/'));
        const letters = observed.published.filter((p) => p.topic === 'fuzz/dead-letter');
        expect(outputs.length + letters.length).toBe(1);
        const outcome = letters.length === 1 ? (observed.failures[0]?.code ?? '?') : 'processed';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (letters.length === 1) {
          expect(observed.failures).toHaveLength(1);
          expect(KNOWN_CODES.has(observed.failures[0]!.code) || /^[A-Z]\d{4}$/.test(observed.failures[0]!.code)).toBe(true);
          const report = letters[0]!.json as { error: { code: string }; message: { topic: string } };
          expect(report.error.code).toBe(observed.failures[0]!.code);
          expect(report.message.topic).toBe(`fuzz/${level}`);
        } else {
          expect(observed.failures).toHaveLength(0);
          expect(outputs[0]!.json).toMatchObject({ wildcard: level });
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    console.log(`payload fuzzer: ${RUNS} runs (plus shrinking, if any): ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
    // The generators reach both outcomes, and the decoder's failures.
    expect(outcomes.get('processed')).toBeGreaterThan(RUNS / 10);
    for (const code of ['MQFLOW_PAYLOAD_ENCODING', 'MQFLOW_PAYLOAD_JSON', 'MQFLOW_PAYLOAD_TOO_LARGE']) expect(outcomes.get(code), code).toBeGreaterThan(0);
  }, 600_000);
});
