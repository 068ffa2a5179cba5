import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitSharedSubscription, topicFilterProblem, topicMatches, topicNameProblem, wildcardValues } from '../../../src/mqtt/topic-filter.js';

// A topic level as MQTT allows it: any characters but "/", the wildcards and NUL (empty levels are allowed).
const level = fc.string({ maxLength: 6, unit: fc.constantFrom('a', 'b', 'Z', '0', '-', '_', ' ', 'é', '€', '$', '😀') });
const nonEmptyLevel = level.filter((l) => l.length > 0);
const topic = fc.array(level, { minLength: 1, maxLength: 6 }).map((ls) => ls.join('/')).filter((t) => t.length > 0);

/** A valid filter built level by level: literals and "+", optionally ending in "#". */
const validFilter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 6 }), fc.boolean())
  .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/'))
  .filter((f) => f.length > 0);

describe('topic filter validation (MQTT 3.1.1 §4.7)', () => {
  it('accepts every filter made of literal levels, "+" levels and a final "#"', () => {
    fc.assert(fc.property(validFilter, (f) => topicFilterProblem(f) === undefined));
  });

  it('rejects "#" anywhere but alone in the last level', () => {
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 4 }), fc.nat(), nonEmptyLevel, (levels, at, glued) => {
        const i = at % levels.length;
        const withHashInside = [...levels.slice(0, i), '#', ...levels.slice(i)].join('/') + '/x';
        const glueHash = [...levels, `${glued}#`].join('/');
        expect(topicFilterProblem(withHashInside)).toMatch(/"#" must be the last level/);
        expect(topicFilterProblem(glueHash)).toMatch(/"#" must be the last level/);
      }),
    );
  });

  it('rejects "+" sharing its level with other characters', () => {
    fc.assert(
      fc.property(fc.array(level, { maxLength: 3 }), nonEmptyLevel, fc.boolean(), (levels, text, before) => {
        const bad = before ? `${text}+` : `+${text}`;
        expect(topicFilterProblem([...levels, bad].join('/'))).toMatch(/"\+" must be alone in its level/);
      }),
    );
  });

  it('rejects the empty filter, NUL and lone surrogates', () => {
    expect(topicFilterProblem('')).toBe('a topic filter must not be empty');
    expect(topicFilterProblem('a/\u0000/b')).toMatch(/NUL/);
    expect(topicFilterProblem('a/\uD800')).toMatch(/UTF-8/);
  });

  it('limits a filter to 65,535 bytes of UTF-8, counting multi-byte characters', () => {
    expect(topicFilterProblem('a'.repeat(65_535))).toBeUndefined();
    expect(topicFilterProblem('a'.repeat(65_536))).toBe('a topic filter is 65536 bytes of UTF-8; at most 65535 are allowed');
    // "€" is 3 bytes: 21,845 of them are 65,535 bytes, one more is over.
    expect(topicFilterProblem('€'.repeat(21_845))).toBeUndefined();
    expect(topicFilterProblem('€'.repeat(21_846))).toMatch(/65538 bytes/);
  });

  it('accepts the usual forms', () => {
    for (const f of ['#', '+', '/', '+/+', 'sport/#', 'sport/tennis/+', '+/tennis/#', 'a//b', '$SYS/#', '$share/g/a/+']) {
      expect(topicFilterProblem(f), f).toBeUndefined();
    }
    for (const f of ['sport/tennis#', 'sport/tennis/#/ranking', 'sport+', 'a/b+/c', '##']) {
      expect(topicFilterProblem(f), f).toBeDefined();
    }
  });
});

describe('shared subscriptions', () => {
  it('splits $share/<group>/<filter> and validates both parts', () => {
    expect(splitSharedSubscription('$share/workers/plant/+/temp')).toEqual({ group: 'workers', filter: 'plant/+/temp' });
    expect(splitSharedSubscription('plant/#')).toBeUndefined();
    expect(splitSharedSubscription('$share/workers')).toBe('a shared subscription is written $share/<group>/<filter>');
    expect(splitSharedSubscription('$share//a')).toBe('a shared subscription group must not be empty');
    expect(splitSharedSubscription('$share/g+/a')).toBe('a shared subscription group must not contain "/", "+" or "#"');
    expect(splitSharedSubscription('$share/g/')).toBe('a shared subscription needs a topic filter after $share/<group>/');
    expect(topicFilterProblem('$share/g/a/#/b')).toMatch(/"#" must be the last level/);
  });
});

describe('topic names for publishing', () => {
  it('accepts any non-empty topic without wildcards', () => {
    fc.assert(fc.property(topic, (t) => topicNameProblem(t) === undefined));
  });

  it('rejects wildcards and the empty topic', () => {
    fc.assert(
      fc.property(topic, fc.constantFrom('+', '#'), fc.nat(), (t, wildcard, at) => {
        const chars = Array.from(t); // by code point, so a surrogate pair is never cut
        const i = at % (chars.length + 1);
        expect(topicNameProblem([...chars.slice(0, i), wildcard, ...chars.slice(i)].join(''))).toMatch(/wildcards/);
      }),
    );
    expect(topicNameProblem('')).toBe('a topic must not be empty');
  });
});

describe('topic matching', () => {
  it('a filter made from a topic by replacing levels with "+" matches it', () => {
    fc.assert(
      fc.property(topic, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (t, replace) => {
        const levels = t.split('/');
        const filter = levels.map((l, i) => (replace[i] ? '+' : l)).join('/');
        const dollarBlocked = t.startsWith('$') && filter.startsWith('+');
        expect(topicMatches(filter, t)).toBe(!dollarBlocked);
      }),
    );
  });

  it('"prefix/#" matches the prefix itself and everything below it', () => {
    fc.assert(
      fc.property(topic, fc.nat(), (t, at) => {
        const levels = t.split('/');
        const keep = at % levels.length;
        const prefix = levels.slice(0, keep);
        const filter = [...prefix, '#'].join('/');
        expect(topicMatches(filter, t)).toBe(!(keep === 0 && t.startsWith('$')));
      }),
    );
  });

  it('a literal level that differs does not match', () => {
    fc.assert(
      fc.property(topic, fc.nat(), (t, at) => {
        const levels = t.split('/');
        const i = at % levels.length;
        const filter = levels.map((l, j) => (j === i ? `${l}x` : l)).join('/');
        expect(topicMatches(filter, t)).toBe(false);
      }),
    );
  });

  it('wildcard values exist exactly when the filter matches, and put the topic back together', () => {
    fc.assert(
      fc.property(validFilter, topic, fc.boolean(), (filter, t, shared) => {
        const values = wildcardValues(shared ? `$share/g/${filter}` : filter, t);
        expect(values !== undefined).toBe(topicMatches(filter, t));
        if (values === undefined) return;
        // Substituting the values for the wildcards gives the topic back ("#" that matched the parent level drops out).
        let next = 0;
        const rebuilt = filter.split('/').map((l) => (l === '+' || l === '#' ? values[next++]! : l));
        if (filter.endsWith('#') && values[values.length - 1] === '' && rebuilt.length > t.split('/').length) rebuilt.pop();
        expect(rebuilt.join('/')).toBe(t);
        expect(next).toBe(values.length);
      }),
    );
    expect(wildcardValues('plant/+/sensors/#', 'plant/north/sensors/t1/temp')).toEqual(['north', 't1/temp']);
    expect(wildcardValues('plant/+/sensors/#', 'plant/north/sensors')).toEqual(['north', '']);
    expect(wildcardValues('plant/line', 'plant/line')).toEqual([]);
    expect(wildcardValues('plant/line', 'plant/line2')).toBeUndefined();
  });

  it('wildcards at the first level do not match $-topics (§4.7.2), literal $ levels do', () => {
    expect(topicMatches('#', '$SYS/broker/load')).toBe(false);
    expect(topicMatches('+/broker/load', '$SYS/broker/load')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/broker/load')).toBe(true);
    expect(topicMatches('$SYS/+/load', '$SYS/broker/load')).toBe(true);
  });

  it('follows the examples of the specification', () => {
    expect(topicMatches('sport/tennis/player1/#', 'sport/tennis/player1')).toBe(true);
    expect(topicMatches('sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon')).toBe(true);
    expect(topicMatches('sport/+', 'sport')).toBe(false);
    expect(topicMatches('sport/+', 'sport/')).toBe(true);
    expect(topicMatches('+/+', '/finance')).toBe(true);
    expect(topicMatches('/+', '/finance')).toBe(true);
    expect(topicMatches('+', '/finance')).toBe(false);
    expect(topicMatches('$share/g/sport/+', 'sport/x')).toBe(true);
  });
});
