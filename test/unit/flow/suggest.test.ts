import { describe, expect, it } from 'vitest';
import { closestMatch, didYouMean, editDistance } from '../../../src/flow/suggest.js';

describe('did you mean', () => {
  it('counts edits, with a transposition as one', () => {
    expect(editDistance('qos', 'qos')).toBe(0);
    expect(editDistance('qso', 'qos')).toBe(1);
    expect(editDistance('servce', 'service')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests plausible typos only', () => {
    const keys = ['connection', 'topic', 'qos', 'service', 'enabled', 'processing'];
    expect(closestMatch('qso', keys)).toBe('qos');
    expect(closestMatch('servise', keys)).toBe('service');
    expect(closestMatch('Topic', keys)).toBe('topic');
    expect(closestMatch('conection', keys)).toBe('connection');
    expect(closestMatch('colour', keys)).toBeUndefined();
    expect(closestMatch('x', keys)).toBeUndefined();
    expect(didYouMean('normalise', ['normalize', 'alerts'])).toBe(' (did you mean "normalize"?)');
    expect(didYouMean('zzz', ['normalize'])).toBe('');
  });
});
