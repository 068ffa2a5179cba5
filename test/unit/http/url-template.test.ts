/** Where an http step's URL may go (docs/architecture.md, invariant 45): the shape check and the encoding of values. */
import { describe, expect, it } from 'vitest';
import { compileTemplate, splitTemplate } from '../../../src/expr/template.js';
import { createJsonataEngine } from '../../../src/expr/jsonata-engine.js';
import { encodedUrl, urlShape, UrlValueError } from '../../../src/http/url-template.js';

const engine = createJsonataEngine();
const template = (source: string) => {
  const parts = splitTemplate(source);
  if (!Array.isArray(parts)) throw new Error(parts.problem);
  return compileTemplate(source, parts, (p) => engine.compile(p.text))!;
};
const problem = (source: string): string | undefined => {
  const shape = urlShape(template(source));
  return 'problem' in shape ? shape.problem : undefined;
};

describe('urlShape', () => {
  it('accepts a literal origin followed by a path or query with {{ }} parts', () => {
    for (const ok of ['https://api.example.com/devices/{{ id }}', 'http://127.0.0.1:8080/x?y={{ v }}', 'https://api.example.com', 'https://api.example.com/', 'https://api.example.com?q={{ q }}']) {
      expect(problem(ok), ok).toBeUndefined();
    }
    const shape = urlShape(template('HTTPS://Api.Example.com:8443/a/{{ b }}'));
    expect(shape).toMatchObject({ origin: 'https://api.example.com:8443', host: 'api.example.com:8443', protocol: 'https:' });
  });

  it('refuses a host, port or scheme a value could fill, credentials and fragments', () => {
    expect(problem('https://{{ host }}/x')).toMatch(/scheme, host and port must be written out/);
    expect(problem('{{ url }}')).toMatch(/scheme, host and port must be written out/);
    expect(problem('https://api.example.com{{ rest }}')).toMatch(/a \/ must follow the host/);
    expect(problem('https://api.example.com:{{ port }}/x')).toMatch(/a \/ must follow the host/);
    expect(problem('https://user:pw@api.example.com/x')).toMatch(/user name or password/);
    expect(problem('ftp://files.example.com/x')).toMatch(/http:\/\/ or https:\/\//);
    expect(problem('https://api.example.com/x#{{ f }}')).toMatch(/fragment/);
  });
});

describe('encodedUrl', () => {
  const url = (source: string, input: unknown): string => {
    const t = template(source);
    const shape = urlShape(t);
    if ('problem' in shape) throw new Error(shape.problem);
    return encodedUrl(t, shape).run(input) as string;
  };

  it('percent-encodes each value: a / ? # @ or : stays data in one segment', () => {
    expect(url('https://a.example/devices/{{ id }}/info', { id: 'evil.example.com/x?y=1#z' })).toBe('https://a.example/devices/evil.example.com%2Fx%3Fy%3D1%23z/info');
    expect(url('https://a.example/devices/{{ id }}', { id: '@b.example:80' })).toBe('https://a.example/devices/%40b.example%3A80');
    expect(url('https://a.example/q?x={{ v }}&y=2', { v: 'a&y=3' })).toBe('https://a.example/q?x=a%26y%3D3&y=2');
  });

  it('refuses . and .. as path values, and allows them in the query', () => {
    expect(() => url('https://a.example/files/{{ name }}', { name: '..' })).toThrow(UrlValueError);
    expect(() => url('https://a.example/files/{{ name }}', { name: '.' })).toThrow(UrlValueError);
    expect(url('https://a.example/files/{{ name }}', { name: '...json' })).toBe('https://a.example/files/...json');
    expect(url('https://a.example/files?name={{ name }}', { name: '..' })).toBe('https://a.example/files?name=..');
  });
});
