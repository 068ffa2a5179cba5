/**
 * Invariant 32 (docs/architecture.md): a message cannot choose where its outputs go. The pure
 * checks of src/steps/publish-topic.ts, and the publish step that uses them, on the synchronous
 * path (compiled expressions) and the asynchronous one (jsonata's evaluator) alike.
 */
import { describe, expect, it } from 'vitest';
import { createJsonataEngine } from '../../../src/expr/jsonata-engine.js';
import { compileTemplate, splitTemplate, type TemplatePart } from '../../../src/expr/template.js';
import type { MessageContext } from '../../../src/pipeline/context.js';
import { MessageFailure } from '../../../src/pipeline/execution.js';
import { renderedTopicProblem, topicValueMessage, topicValueProblem } from '../../../src/steps/publish-topic.js';
import { buildMemory } from '../flow/helpers.js';
import { runService } from '../host/run-service.js';

describe('topicValueProblem: the value of one {{ }} part', () => {
  it('lets a value that fills one level through, whatever its characters', () => {
    for (const v of ['oven-3', 'a.b_c', '', '..', 'ä€😀', ' spaces ', 'x$y', '$']) expect(topicValueProblem(v, false, 'one'), v).toBeUndefined();
  });

  it('refuses "/" with topicLevels one, and says what to change', () => {
    expect(topicValueProblem('a/../../b', false, 'one')).toBe('contains "/", so it would fill more than one topic level; give the publish topicLevels: any if its values may span levels');
    expect(topicValueProblem('/', false, 'one')).toMatch(/^contains "\/"/);
    expect(topicValueProblem('a/', false, 'one')).toMatch(/^contains "\/"/);
  });

  it('lets "/" through with topicLevels any', () => {
    expect(topicValueProblem('a/b', false, 'any')).toBeUndefined();
    expect(topicValueProblem('a/../../b', false, 'any')).toBeUndefined();
  });

  it('refuses +, #, NUL and lone surrogates whatever topicLevels says', () => {
    for (const levels of ['one', 'any'] as const) {
      expect(topicValueProblem('+', false, levels)).toMatch(/^contains "\+", a wildcard, which a topic to publish to must not contain; no setting allows it/);
      expect(topicValueProblem('a#', false, levels)).toMatch(/^contains "#", a wildcard/);
      expect(topicValueProblem('a\u0000b', false, levels)).toBe('contains the NUL character (U+0000), which a topic must not contain; no setting allows it');
      expect(topicValueProblem('a\uD800', false, levels)).toMatch(/lone surrogate/);
      expect(topicValueProblem('\uDC00a', false, levels)).toMatch(/lone surrogate/);
      expect(topicValueProblem('\uD800x', false, levels)).toMatch(/lone surrogate/);
      expect(topicValueProblem('😀', false, levels)).toBeUndefined();
    }
  });

  it('refuses a value that would start the topic with $, whatever topicLevels says; elsewhere $ is text', () => {
    for (const levels of ['one', 'any'] as const) {
      expect(topicValueProblem('$SYS', true, levels)).toMatch(/^would start the topic with "\$", which only a topic whose literal text starts with "\$" may do/);
      expect(topicValueProblem('$', true, levels)).toMatch(/^would start the topic with "\$"/);
      expect(topicValueProblem('$SYS', false, levels)).toBeUndefined();
      expect(topicValueProblem('', true, levels)).toBeUndefined();
      expect(topicValueProblem('a$', true, levels)).toBeUndefined();
    }
  });

  it('reports the first problem, in character order (the $ at the start first)', () => {
    expect(topicValueProblem('a/+', false, 'one')).toMatch(/^contains "\/"/);
    expect(topicValueProblem('a+/', false, 'one')).toMatch(/^contains "\+"/);
    expect(topicValueProblem('$a/+', true, 'one')).toMatch(/^would start/);
  });

  it('names the part and shows the value, shortened', () => {
    const part: TemplatePart = { text: ' device ', isExpression: true, offset: 2 };
    expect(topicValueMessage(part, 'a/../b', 'contains "/"')).toBe('the value of {{ device }} ("a/../b") contains "/"');
    expect(topicValueMessage(part, 'a\u0000b', 'x')).toBe('the value of {{ device }} ("a\\u0000b") x');
    expect(topicValueMessage({ text: `\n  $lookup(\n  $, "k")\n`, isExpression: true, offset: 2 }, 'x'.repeat(100), 'x')).toBe(`the value of {{ $lookup( $, "k") }} ("${'x'.repeat(60)}"…) x`);
  });
});

describe('renderedTopicProblem: the whole topic', () => {
  it('refuses an empty topic and one over 65535 bytes of UTF-8', () => {
    expect(renderedTopicProblem('')).toBe('a topic must not be empty');
    expect(renderedTopicProblem('a'.repeat(65_535))).toBeUndefined();
    expect(renderedTopicProblem('a'.repeat(65_536))).toBe('a topic is 65536 bytes of UTF-8; at most 65535 are allowed');
    expect(renderedTopicProblem('€'.repeat(21_845))).toBeUndefined();
    expect(renderedTopicProblem('€'.repeat(21_846))).toBe('a topic is 65538 bytes of UTF-8; at most 65535 are allowed');
    expect(renderedTopicProblem('a/b')).toBeUndefined();
  });
});

describe('Template.checked', () => {
  const engine = createJsonataEngine();
  const template = (source: string) => {
    const parts = splitTemplate(source);
    if (!Array.isArray(parts)) throw new Error(parts.problem);
    return compileTemplate(source, parts, (p) => engine.compile(p.text))!;
  };

  it('passes each {{ }} value, its part and the characters before it; never the literal text', () => {
    const seen: unknown[] = [];
    const t = template('a/{{ x }}/{{ y }}{{ z }}').checked((text, part, offset) => {
      seen.push([text, part.text, offset]);
    });
    expect(t.run({ x: 'one', y: 2, z: null })).toBe('a/one/2');
    expect(seen).toEqual([['one', ' x ', 2], ['2', ' y ', 6], ['', ' z ', 7]]);
  });

  it('uses the text a check returns in place of the value (an encoding)', () => {
    const t = template('a/{{ x }}/b').checked((text) => encodeURIComponent(text));
    expect(t.run({ x: 'c/d?e' })).toBe('a/c%2Fd%3Fe/b');
  });

  it('returns a template without {{ }} parts as it is, and leaves the unchecked template alone', () => {
    const literal = template('$aws/things/x');
    expect(literal.checked(() => { throw new Error('never'); })).toBe(literal);
    const t = template('{{ x }}');
    t.checked(() => { throw new Error('refused'); });
    expect(t.run({ x: 'a/b' })).toBe('a/b');
  });

  it('fails the rendering with what the check throws, synchronously or not', async () => {
    const refuse = (text: string): void => {
      if (text.includes('/')) throw new Error(`refused ${text}`);
    };
    expect(() => template('p/{{ x }}').checked(refuse).run({ x: 'a/b' })).toThrow('refused a/b');
    // A part with a $eval runs on jsonata's evaluator: the rendering is a promise.
    const later = template('p/{{ $eval("x") }}').checked(refuse).run({ x: 'a/b' });
    expect(later).toBeInstanceOf(Promise);
    await expect(later).rejects.toThrow('refused a/b');
  });
});

const context: MessageContext = {
  topic: 'in',
  levels: ['in'],
  wildcards: [],
  payload: {},
  qos: 1,
  retain: false,
  dup: false,
  receivedAt: '2026-12-03T10:00:00.000Z',
  trigger: 't',
  connection: 'plant',
};

/** A service `s` of one publish step with `topic` (YAML, single-quoted) and optional more fields. */
function publishing(topic: string, more = ''): string {
  return `connections:
  plant:
    url: mqtt://127.0.0.1:1883
services:
  s:
    steps:
      - publish:
          topic: '${topic}'${more}
`;
}

/** Runs service `s` on `payload`: the topics published, or the failure. */
async function publishOf(yaml: string, payload: unknown): Promise<{ topics: string[]; sync: boolean } | { failure: MessageFailure; sync: boolean; topics: string[] }> {
  const { outcome, thrown, output } = runService(yaml, { ...context, payload });
  if (thrown !== undefined) return { failure: thrown as MessageFailure, sync: true, topics: output.sent.map((s) => s.message.topic) };
  const sync = !(outcome instanceof Promise);
  try {
    await outcome;
  } catch (error) {
    return { failure: error as MessageFailure, sync, topics: output.sent.map((s) => s.message.topic) };
  }
  return { topics: output.sent.map((s) => s.message.topic), sync };
}

describe('the publish step (invariant 32)', () => {
  const TEMPLATE = '{{ site }}/alerts/{{ device }}';
  const evaluated = (t: string): string => t.replace('{{ device }}', '{{ $eval("device") }}');

  it('publishes one level per {{ }} part, synchronously when the parts are compiled', async () => {
    expect(await publishOf(publishing(TEMPLATE), { site: 'north', device: 'oven-3' })).toEqual({ topics: ['north/alerts/oven-3'], sync: true });
    expect(await publishOf(publishing(evaluated(TEMPLATE)), { site: 'north', device: 'oven-3' })).toEqual({ topics: ['north/alerts/oven-3'], sync: false });
  });

  const refused: [string, object, string][] = [
    ['a $ at the start', { site: '$SYS', device: 'd' }, 'services.s.steps[0]: not published: the value of {{ site }} ("$SYS") would start the topic with "$", which only a topic whose literal text starts with "$" may do (e.g. "$aws/things/{{ device }}"); a value never chooses a "$" topic'],
    ['more levels', { site: 'north', device: 'a/../../b' }, 'services.s.steps[0]: not published: the value of {{ device }} ("a/../../b") contains "/", so it would fill more than one topic level; give the publish topicLevels: any if its values may span levels'],
    ['another prefix', { site: 'tenant-b/north', device: 'd' }, 'services.s.steps[0]: not published: the value of {{ site }} ("tenant-b/north") contains "/", so it would fill more than one topic level; give the publish topicLevels: any if its values may span levels'],
    ['+', { site: 'north', device: '+' }, 'services.s.steps[0]: not published: the value of {{ device }} ("+") contains "+", a wildcard, which a topic to publish to must not contain; no setting allows it: check the value before it is published (a validate or filter step)'],
    ['#', { site: 'north', device: '#' }, 'services.s.steps[0]: not published: the value of {{ device }} ("#") contains "#", a wildcard, which a topic to publish to must not contain; no setting allows it: check the value before it is published (a validate or filter step)'],
    ['NUL', { site: 'north', device: 'a\u0000b' }, 'services.s.steps[0]: not published: the value of {{ device }} ("a\\u0000b") contains the NUL character (U+0000), which a topic must not contain; no setting allows it'],
  ];

  it.each(refused)('fails the message with MQFLOW_PUBLISH_TOPIC: %s, and publishes nothing', async (_what, payload, message) => {
    for (const [yaml, sync] of [[publishing(TEMPLATE), true], [publishing(evaluated(TEMPLATE)), false]] as const) {
      const result = await publishOf(yaml, payload);
      expect(result).toMatchObject({ sync: message.includes('{{ site }}') || sync, topics: [] });
      expect('failure' in result && result.failure).toBeInstanceOf(MessageFailure);
      const failure = (result as { failure: MessageFailure }).failure;
      expect([failure.code, failure.step?.path]).toEqual(['MQFLOW_PUBLISH_TOPIC', 'services.s.steps[0]']);
      expect(failure.message).toBe(sync ? message : message.replace('the value of {{ device }}', 'the value of {{ $eval("device") }}'));
    }
  });

  it('a $ topic is fine when the literal text starts with it', async () => {
    expect(await publishOf(publishing('$aws/things/{{ device }}/shadow'), { device: 'oven-3' })).toEqual({ topics: ['$aws/things/oven-3/shadow'], sync: true });
    const failure = await publishOf(publishing('$aws/things/{{ device }}/shadow'), { device: 'x/y' });
    expect(failure).toMatchObject({ failure: { code: 'MQFLOW_PUBLISH_TOPIC' } });
  });

  it('a $ from the second part is refused when the first rendered nothing', async () => {
    const result = await publishOf(publishing('{{ a }}{{ b }}/x'), { b: '$SYS' });
    expect(result).toMatchObject({ failure: { code: 'MQFLOW_PUBLISH_TOPIC', message: expect.stringContaining('the value of {{ b }} ("$SYS") would start the topic with "$"') as unknown } });
  });

  it('topicLevels: any lets a value span levels, and still refuses +, # and a $ start', async () => {
    const any = (topic: string) => publishing(topic, '\n          topicLevels: any');
    expect(await publishOf(any('out/{{ path }}'), { path: 'a/b' })).toEqual({ topics: ['out/a/b'], sync: true });
    expect(await publishOf(any('{{ path }}'), { path: 'a/b/c' })).toEqual({ topics: ['a/b/c'], sync: true });
    expect(await publishOf(any('out/{{ path }}'), { path: 'a/+' })).toMatchObject({ failure: { code: 'MQFLOW_PUBLISH_TOPIC', message: expect.stringContaining('contains "+", a wildcard') as unknown } });
    expect(await publishOf(any('out/{{ path }}'), { path: '#' })).toMatchObject({ failure: { code: 'MQFLOW_PUBLISH_TOPIC' } });
    expect(await publishOf(any('{{ path }}'), { path: '$SYS/x' })).toMatchObject({ failure: { code: 'MQFLOW_PUBLISH_TOPIC', message: expect.stringContaining('would start the topic with "$"') as unknown } });
  });

  it('an empty or too long rendered topic fails with the same code', async () => {
    expect(await publishOf(publishing('{{ site }}'), {})).toMatchObject({ failure: { code: 'MQFLOW_PUBLISH_TOPIC', message: 'services.s.steps[0]: not published: a topic must not be empty (topic "")' } });
    const long = await publishOf(publishing('a/{{ device }}'), { device: 'x'.repeat(65_534) });
    expect(long).toMatchObject({ failure: { code: 'MQFLOW_PUBLISH_TOPIC', message: expect.stringContaining('a topic is 65536 bytes of UTF-8; at most 65535 are allowed') as unknown } });
    expect((long as { failure: Error }).failure.message.length).toBeLessThan(400);
  });

  it('checks the literal text once, when the flow is loaded; topicLevels takes one or any', () => {
    const nul = buildMemory({ files: { 'f.yaml': publishing('a/{{ x }}/b').replace("'a/{{ x }}/b'", '"a/{{ x }}/\\0b"') } }).text;
    expect(nul).toEqual([expect.stringContaining('services.s.steps[0].publish.topic: a topic must not contain the NUL character (U+0000)')]);
    const plus = buildMemory({ files: { 'f.yaml': publishing('a/{{ x }}/+') } }).text;
    expect(plus).toEqual([expect.stringContaining('a topic to publish to must not contain the wildcards "+" or "#"')]);
    const levels = buildMemory({ files: { 'f.yaml': publishing('a/{{ x }}', '\n          topicLevels: many') } }).text;
    expect(levels).toEqual([expect.stringContaining('services.s.steps[0].publish.topicLevels')]);
    expect(buildMemory({ files: { 'f.yaml': publishing('$SYS/literal') } }).text).toEqual([]);
  });
});
