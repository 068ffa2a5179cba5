/** The http step's requests, through the production host and trigger runner with the stub client of mqflow test (no network). */
import { describe, expect, it } from 'vitest';
import { runCase } from '../../../src/testing/harness.js';
import type { TestCase } from '../../../src/testing/test-file.js';
import { buildMemory } from '../flow/helpers.js';

async function requestsOf(url: string, stubUrl: string): Promise<{ urls: string[]; failures: string[] }> {
  const { model, text } = buildMemory({
    files: {
      'flow.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  in:
    connection: plant
    topic: in
    service: s
services:
  s:
    steps:
      - http:
          url: ${url}
          query:
            unit: '{{ unit }}'
      - publish:
          topic: out
`,
    },
  });
  expect(text.filter((l) => l.includes(' error: '))).toEqual([]);
  const testCase: TestCase = {
    name: 'case',
    file: 'flow.test.yaml',
    line: 1,
    target: { kind: 'trigger', name: 'in' },
    http: [{ method: 'GET', url: stubUrl, status: 200, headers: {}, body: { ok: true } }],
    messages: [{ topic: 'in', payload: { id: 'a b/c', unit: 'm&s' }, qos: 1, retain: false }],
    fixed: {},
    expect: {},
  };
  const observed = await runCase(model!, testCase);
  return { urls: observed.requests.map((r) => `${r.method} ${r.url}`), failures: observed.failures.map((f) => f.code) };
}

describe('http step requests', () => {
  it('goes to the normalised origin, whatever the case and default port of the URL as written', async () => {
    const got = await requestsOf('HTTPS://Api.Example.com:443/items/{{ id }}', 'https://api.example.com/items/a%20b%2Fc?unit=m%26s');
    expect(got).toEqual({ urls: ['GET https://api.example.com/items/a%20b%2Fc?unit=m%26s'], failures: [] });
  });

  it('adds query parameters after a query the URL has', async () => {
    const got = await requestsOf('http://127.0.0.1:8090/items?id={{ id }}', '*');
    expect(got.urls).toEqual(['GET http://127.0.0.1:8090/items?id=a%20b%2Fc&unit=m%26s']);
  });
});
