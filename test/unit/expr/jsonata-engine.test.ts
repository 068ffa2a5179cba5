import { describe, expect, it } from 'vitest';
import { ExpressionSyntaxError } from '../../../src/expr/expression.js';
import { createJsonataEngine } from '../../../src/expr/jsonata-engine.js';
import { compileTemplate, splitTemplate } from '../../../src/expr/template.js';

const engine = createJsonataEngine();

function syntaxError(source: string): ExpressionSyntaxError {
  try {
    engine.compile(source);
  } catch (error) {
    if (error instanceof ExpressionSyntaxError) return error;
    throw error;
  }
  throw new Error(`${source} compiled`);
}

describe('JSONata engine', () => {
  it('compiles once and evaluates with bindings', async () => {
    const e = engine.compile('{ "device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "site": $site }');
    expect(await e.evaluate({ deviceId: 'oven-3', temp_f: 212 }, { site: 'north' })).toEqual({ device: 'oven-3', celsius: 100, site: 'north' });
    expect(e.source).toContain('deviceId');
  });

  it('points syntax errors at the offending token', () => {
    const bracket = syntaxError('{ "a": b ]');
    expect([bracket.code, bracket.offset, bracket.message]).toEqual(['S0202', 9, 'Expected "}", got "]"']);
    // String tokens are reported without their quotes and escapes: point at the opening quote.
    const quoted = syntaxError('{ "a": 1 "si\\"te": 2 }');
    expect([quoted.code, quoted.offset]).toEqual(['S0202', 9]);
    const unary = syntaxError('a = = b');
    expect([unary.code, unary.offset]).toEqual(['S0211', 4]);
  });

  it('points "ended too early" just after the last character', () => {
    const end = syntaxError('a +   ');
    expect([end.code, end.offset]).toEqual(['S0207', 3]);
  });

  it('enforces the evaluation time limit', async () => {
    const limited = createJsonataEngine({ timeoutMs: 50 });
    const forever = limited.compile('($f := function($n) { $f($n + 1) }; $f(0))');
    await expect(forever.evaluate({})).rejects.toMatchObject({ code: expect.stringMatching(/^(D1012|U1001)$/) as unknown });
  });
});

describe('templates', () => {
  it('splits literal text and {{ expressions }}', () => {
    expect(splitTemplate('plant/{{ site }}/x/{{device}}')).toEqual([
      { text: 'plant/', isExpression: false, offset: 0 },
      { text: ' site ', isExpression: true, offset: 8 },
      { text: '/x/', isExpression: false, offset: 16 },
      { text: 'device', isExpression: true, offset: 21 },
    ]);
    expect(splitTemplate('a/{{ b')).toEqual({ problem: '"{{" is not closed by "}}"', offset: 2 });
    expect(splitTemplate('a/{{  }}')).toEqual({ problem: '"{{ }}" holds no expression', offset: 2 });
  });

  it('renders strings as they are, numbers as text, missing values as empty and objects as JSON', async () => {
    const source = 'out/{{ s }}/{{ n }}/{{ missing }}/{{ o }}';
    const parts = splitTemplate(source);
    if (!Array.isArray(parts)) throw new Error('split failed');
    const t = compileTemplate(source, parts, (p) => engine.compile(p.text))!;
    expect(t.literal).toBeUndefined();
    expect(await t.render({ s: 'a', n: 1.5, o: { k: true } })).toBe('out/a/1.5//{"k":true}');
  });

  it('treats a template without {{ as a literal', async () => {
    const t = compileTemplate('alerts/all', [{ text: 'alerts/all', isExpression: false, offset: 0 }], (p) => engine.compile(p.text))!;
    expect(t.literal).toBe('alerts/all');
    expect(await t.render({})).toBe('alerts/all');
  });
});
