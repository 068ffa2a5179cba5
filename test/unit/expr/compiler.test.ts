import { describe, expect, it } from 'vitest';
import type { Expression } from '../../../src/expr/expression.js';
import { createJsonataEngine } from '../../../src/expr/jsonata-engine.js';

const compiled = createJsonataEngine();
const reference = createJsonataEngine({ compile: false });

/** What an evaluation gives: its value, or its error's code and message. */
async function outcome(expression: Expression, input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
  try {
    const value = await expression.evaluate(input, bindings);
    // As JSON: sequences carry flags (`sequence`) that are not part of the value.
    return { value: value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown) };
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return { code, message };
  }
}

/** Evaluates on both engines and expects the same outcome; returns it. */
async function same(source: string, input: unknown, bindings?: Record<string, unknown>): Promise<unknown> {
  const expression = compiled.compile(source);
  expect(expression.execution).toEqual({ mode: 'compiled' });
  const got = await outcome(expression, input, bindings);
  expect(got).toEqual(await outcome(reference.compile(source), input, bindings));
  return got;
}

describe('compiled expressions', () => {
  it('run compiled inside the subset and say why not outside it', () => {
    for (const source of ['{"device": deviceId, "celsius": (temp_f - 32) * 5 / 9}', 'items[price > 10].name', '$map(a, function($v){ $v * 2 })', '$match(s, /a(b)/)', 'a^(>b)', 'a{b: $sum(c)}', '$ ~> |a|{"b": 1}|', '$substring(?, 1)']) {
      expect(compiled.compile(source).execution, source).toEqual({ mode: 'compiled' });
    }
    const reasons = Object.fromEntries(
      ['$eval("1")', 'a@$x.b', 'a#$i', 'a.%.b'].map((source) => {
        const execution = compiled.compile(source).execution;
        return [source, execution?.mode === 'interpreted' ? execution.reason : undefined];
      }),
    );
    expect(reasons).toEqual({
      '$eval("1")': 'uses $eval',
      'a@$x.b': 'uses a focus (@) or index (#) binding',
      'a#$i': 'uses a focus (@) or index (#) binding',
      'a.%.b': 'uses the parent operator (%)',
    });
    expect(createJsonataEngine({ compile: false }).compile('a + 1').execution).toEqual({ mode: 'interpreted', reason: 'compilation is off' });
  });

  it('give jsonata’s sequences: singletons collapse, keep-array keeps, missing paths give nothing', async () => {
    const input = { a: [{ b: 1 }, { b: [2, 3] }, { c: 4 }], one: [{ b: 5 }], s: 'x' };
    expect(await same('a.b', input)).toEqual({ value: [1, 2, 3] });
    expect(await same('one.b', input)).toEqual({ value: 5 });
    expect(await same('one.b[]', input)).toEqual({ value: [5] });
    expect(await same('a[0].b', input)).toEqual({ value: 1 });
    expect(await same('a[-1]', input)).toEqual({ value: { c: 4 } });
    expect(await same('nothing.here', input)).toEqual({ value: undefined });
    expect(await same('nothing + 1', input)).toEqual({ value: undefined });
    expect(await same('[a.b, nothing, [s]]', input)).toEqual({ value: [1, 2, 3, ['x']] });
    expect(await same('$', [1, 2])).toEqual({ value: [1, 2] });
    expect(await same('$[0]', [1, 2])).toEqual({ value: 1 });
  });

  it('raise jsonata’s error codes with jsonata’s messages', async () => {
    expect(await same('1 + s', { s: 'x' })).toEqual({ code: 'T2002', message: 'The right side of the "+" operator must evaluate to a number' });
    expect(await same('a < "b"', { a: 1 })).toMatchObject({ code: 'T2009' });
    expect(await same('$substring("a", "b")', {})).toMatchObject({ code: 'T0410' });
    expect(await same('{ k: 1 }', { k: 2 })).toMatchObject({ code: 'T1003' });
    expect(await same('-s', { s: 'x' })).toMatchObject({ code: 'D1002' });
    expect(await same('$x()', {})).toMatchObject({ code: 'T1006' });
    expect(await same('string(1)', {})).toMatchObject({ code: 'T1005', message: 'Attempted to invoke a non-function. Did you mean $string?' });
    expect(await same('$error("stop")', {})).toEqual({ code: 'D3137', message: 'stop' });
  });

  it('run user-defined and recursive functions, tail calls without growing the stack', async () => {
    expect(await same('($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10))', {})).toEqual({ value: 3628800 });
    // 20,000 mutually tail-recursive calls: the trampoline keeps the JavaScript stack flat.
    const even = '($even := function($n){ $n = 0 ? true : $odd($n - 1) }; $odd := function($n){ $n = 0 ? false : $even($n - 1) }; $even(20000))';
    expect(await outcome(compiled.compile(even), {})).toEqual({ value: true });
    expect(await same('($first2 := $substring(?, 0, 2); $map(names, $first2))', { names: ['alpha', 'beta'] })).toEqual({ value: ['al', 'be'] });
    expect(await same('$ ~> |items[p > 1]|{"big": true}, ["p"]|', { items: [{ p: 1 }, { p: 2 }] })).toEqual({ value: { items: [{ p: 1 }, { big: true }] } });
    expect(await same('$reduce([1, 2, 3, 4], function($acc, $v){ $acc + $v }, 10)', {})).toEqual({ value: 20 });
    expect(await same('$sort(items, function($a, $b){ $a.p > $b.p }).n', { items: [{ n: 'b', p: 2 }, { n: 'a', p: 1 }] })).toEqual({ value: ['a', 'b'] });
  });

  it('apply the depth and time bounds, with jsonata’s codes', async () => {
    const bounded = createJsonataEngine({ maxDepth: 100, timeoutMs: 200 });
    const recursion = bounded.compile('($f := function($n){ $n + $f($n + 1) }; $f(0))');
    expect(recursion.execution).toEqual({ mode: 'compiled' });
    expect(await outcome(recursion, {})).toMatchObject({ code: 'D1011' });
    const forever = bounded.compile('($f := function($n){ $f($n + 1) }; $f(0))');
    expect(forever.execution).toEqual({ mode: 'compiled' });
    expect(await outcome(forever, {})).toMatchObject({ code: 'D1012' });
    const longLoop = createJsonataEngine({ timeoutMs: 5, build: { maxSequence: 10_000_000, maxString: 10_000_000 } }).compile('$count([1..10000000].($ * 2))');
    expect(longLoop.execution).toEqual({ mode: 'compiled' });
    expect(await outcome(longLoop, {})).toMatchObject({ code: 'D1012' });
    // Without functions the tree's height bounds the depth: a tree taller than the limit is jsonata's to run.
    const tall = createJsonataEngine({ maxDepth: 10 }).compile('1' + ' + 1'.repeat(20));
    expect(tall.execution).toEqual({ mode: 'interpreted', reason: 'nested deeper than the depth limit (10)' });
  });

  it('read bindings, which shadow built-ins, and fixed functions', async () => {
    expect(await same('$topic & ":" & $$.a & ":" & $count($levels)', { a: 1 }, { topic: 't/x', levels: ['t', 'x'] })).toEqual({ value: 't/x:1:2' });
    expect(await same('$string(1)', {}, { string: 'not a function' })).toMatchObject({ code: 'T1006' });
    const fixed = createJsonataEngine({ functions: { now: () => '2026-01-01T00:00:00.000Z', millis: () => 5 } });
    expect(await fixed.compile('[$now(), $millis()]').evaluate({})).toEqual(['2026-01-01T00:00:00.000Z', 5]);
    const oneClock = await compiled.compile('[$millis(), $millis(), $toMillis($now())]').evaluate({});
    expect(new Set(oneClock as number[]).size).toBe(1);
    await expect(compiled.compile('$lookup2(1)').evaluate({}, { lookup2: async () => Promise.resolve(1) })).rejects.toThrow(/must be synchronous/);
  });
});
