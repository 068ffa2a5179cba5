/**
 * What one evaluation may build is bounded, whatever the expression (docs/architecture.md,
 * invariant 28), on both engines: compiled code, and jsonata's evaluator (expressions outside the
 * compiled subset: `$eval`, index `#`, focus `@`). Before these bounds, `$pad("", 1e8, "ab")`
 * aborted the whole process (V8 "invalid size") and `$join([1..1e7].("x"))` ran 8 s and took 2 GB
 * under a 1 s time limit. Also the expression differences issue 15 found.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BUILD_LIMITS } from '../../../src/expr/bounds.js';
import type { Expression } from '../../../src/expr/expression.js';
import { createJsonataEngine } from '../../../src/expr/jsonata-engine.js';

const engine = createJsonataEngine({ timeoutMs: 1000, maxDepth: 500 });

async function outcome(expression: Expression, input: unknown): Promise<{ value?: unknown; code?: string; message?: string; ms: number }> {
  const started = performance.now();
  try {
    const value = await expression.evaluate(input);
    return { value, ms: performance.now() - started };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { code: e.code, message: e.message, ms: performance.now() - started };
  }
}

/** The same expression on both engines: as written (compiled), and behind an index binding (jsonata's evaluator). */
function both(source: string): [Expression, Expression] {
  const compiled = engine.compile(source);
  const interpreted = engine.compile(`[0]#$i.(${source.replace(/\$\$?\b(?=\.)/g, '$$$$')})`);
  expect(compiled.execution?.mode, source).toBe('compiled');
  expect(interpreted.execution?.mode, source).toBe('interpreted');
  return [compiled, interpreted];
}

describe('expression bounds (invariant 28)', () => {
  it('$pad with a huge width fails before it builds anything (it used to abort the process)', async () => {
    for (const e of both('$length($pad("", $$.n, "ab"))')) {
      const o = await outcome(e, { n: 100_000_000 });
      expect(o).toMatchObject({ code: 'MQFLOW_EXPRESSION_LIMIT' });
      expect(o.message).toContain('$pad would build a string of 100000000 characters');
    }
    // $eval reaches the guarded $pad too (its error comes wrapped, as jsonata wraps it).
    const evaluated = await outcome(engine.compile('$eval("$pad(\'\', 100000000, \'ab\')")'), {});
    expect(evaluated.code).toBe('D3121');
    expect(evaluated.message).toContain('$pad would build');
    // Within the limit it is jsonata's $pad.
    expect((await outcome(engine.compile('$pad("x", 5, "ab")'), {})).value).toBe('xabab');
  });

  it('a range and its flattening are bounded in items, long before the time limit', async () => {
    const [compiled, interpreted] = both('$length($join([1..$$.n].("xxxxxxxxxx")))');
    for (const e of [compiled, interpreted]) {
      const o = await outcome(e, { n: 10_000_000 });
      expect(o.code).toBe('D2015');
    }
    // Items multiplied by flattening: each inner range is allowed, what they make together is not.
    const nested = await outcome(engine.compile('$count([1..2000].([1..1000]))'), {});
    expect(nested).toMatchObject({ code: 'D2015' });
    // Ranges of one evaluation, together.
    const many = await outcome(engine.compile('$count([1..100].($count([1..900000])))'), {});
    expect(many).toMatchObject({ code: 'MQFLOW_EXPRESSION_LIMIT' });
    expect(many.message).toContain('ranges (..) of this evaluation');
    expect((await outcome(engine.compile('$count([1..1000000])'), {})).value).toBe(DEFAULT_BUILD_LIMITS.maxSequence);
  });

  it('strings built by $join, &, $replace and $string are bounded', async () => {
    const big = 'x'.repeat(6_000_000);
    for (const source of ['$join([$$.s, $$.s], "")', '$replace($$.s, "x", "xy")', '$string([$$.s, $$.s])']) {
      const [compiled, interpreted] = both(source);
      for (const e of [compiled, interpreted]) {
        const o = await outcome(e, { s: big });
        expect(o.code, source).toBe('MQFLOW_EXPRESSION_LIMIT');
        expect(o.message, source).toMatch(/would build a string of \d+ characters|has built \d+ characters/);
      }
    }
    // & in compiled code (jsonata's evaluator joins two strings as V8 does, a rope, up to V8's own limit).
    const concat = await outcome(engine.compile('$ & $'), big);
    expect(concat.code).toBe('MQFLOW_EXPRESSION_LIMIT');
    // Doubling in a loop stops at the bound, not when memory runs out.
    const doubling = await outcome(engine.compile('$reduce([1..40], function($acc, $x){ $acc & $acc }, "ab")'), {});
    expect(doubling.code).toBe('MQFLOW_EXPRESSION_LIMIT');
  });

  it('$distinct (quadratic in jsonata) stops at the time limit', async () => {
    const fast = createJsonataEngine({ timeoutMs: 200 });
    for (const e of [fast.compile('$count($distinct([1..200000]))'), fast.compile('[0]#$i.($count($distinct([1..200000])))')]) {
      const o = await outcome(e, {});
      expect(o.code).toBe('D1012');
    }
    expect((await outcome(engine.compile('$distinct([1, 2, 1, {"a": 1}, {"a": 1}])'), {})).value).toEqual([1, 2, { a: 1 }]);
  });
});

describe('the engines agree with jsonata (differences issue 15 found)', () => {
  it('a function equals only itself: two lambdas made apart differ, as in jsonata', async () => {
    const defs = '$mk := function(){ function($x){ $x } }';
    expect((await outcome(engine.compile(`(${defs}; $mk() = $mk())`), {})).value).toBe(false);
    expect((await outcome(engine.compile(`(${defs}; $f := $mk(); $f = $f)`), {})).value).toBe(true);
    expect((await outcome(engine.compile(`(${defs}; $count($distinct([$mk(), $mk()])))`), {})).value).toBe(2);
  });

  it('a binding named clone replaces the copy a transform makes, on both engines', async () => {
    const bindings = { clone: () => ({ cloned: true }) };
    const compiled = engine.compile('$ ~> |a|{"b": 1}|');
    const interpreted = engine.compile('[0]#$i.($$ ~> |a|{"b": 1}|)');
    expect(compiled.execution?.mode).toBe('compiled');
    expect(await compiled.evaluate({ a: {} }, bindings)).toEqual({ cloned: true });
    expect(await interpreted.evaluate({ a: {} }, bindings)).toEqual({ cloned: true });
    expect(await compiled.evaluate({ a: {} })).toEqual({ a: { b: 1 } });
  });

  it('grouping 1,000 devices passes the default depth limit on both engines (jsonata counts its concurrent groups as depth)', async () => {
    const input = { readings: Array.from({ length: 1000 }, (_, i) => ({ device: `d${i}`, value: i })) };
    const compiled = engine.compile('readings{device: $average(value)}');
    const interpreted = engine.compile('readings#$i{device: $average(value)}');
    expect(interpreted.execution?.mode).toBe('interpreted');
    expect(Object.keys((await compiled.evaluate(input)) as object)).toHaveLength(1000);
    expect(Object.keys((await interpreted.evaluate(input)) as object)).toHaveLength(1000);
  });

  it('a variable bound inside a constructor: later items see it in compiled code, not on jsonata\'s evaluator (as flow-language.md says)', async () => {
    const [compiled, interpreted] = both('{"a": $v := 5, "b": $v}');
    expect(await compiled.evaluate({})).toEqual({ a: 5, b: 5 });
    expect(await interpreted.evaluate({})).toEqual({ a: 5 });
    const [array, arrayInterpreted] = both('[$v := 5, $v]');
    expect(await array.evaluate({})).toEqual([5, 5]);
    expect(await arrayInterpreted.evaluate({})).toBe(5); // [5], a single item the path around it unwraps
    // Bound first, both agree.
    for (const e of both('($v := 5; {"a": $v, "b": $v})')) expect(await e.evaluate({})).toEqual({ a: 5, b: 5 });
  });
});
