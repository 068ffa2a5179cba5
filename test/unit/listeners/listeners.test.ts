/** listeners and endpoints: what compile accepts, warns about and refuses (docs/flow-language.md, "HTTP triggers"). */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HttpListener, pathMatcher } from '../../../src/http/listener.js';
import { buildMemory } from '../flow/helpers.js';

const problems = (yaml: string, env: Record<string, string> = {}): string[] => buildMemory({ files: { 'flow.yaml': yaml }, env }).text.filter((l) => / (error|warning): /.test(l));

describe('listeners', () => {
  it('warns about a listener reachable from other machines with no credentials', () => {
    expect(problems('listeners:\n  open:\n    port: 8080\n    host: 0.0.0.0\n')).toEqual([expect.stringMatching(/warning: listeners\.open listens on 0\.0\.0\.0 without auth or client certificates/)]);
    expect(problems('listeners:\n  local:\n    port: 8080\n')).toEqual([]);
    expect(problems('listeners:\n  guarded:\n    port: 8080\n    host: 0.0.0.0\n    auth:\n      bearer: ${env:TOKEN}\n', { TOKEN: 'from-the-environment' })).toEqual([]);
  });

  it('refuses credentials that are half there or both kinds, and a headers deadline past the request deadline', () => {
    expect(problems('listeners:\n  a:\n    port: 1\n    auth:\n      username: u\n')).toEqual([expect.stringMatching(/error: listeners\.a\.auth needs bearer, or username and password \(not both\)/)]);
    expect(problems('listeners:\n  a:\n    port: 1\n    headersTimeout: 20s\n    requestTimeout: 5s\n')).toEqual([expect.stringMatching(/headersTimeout \(20000 ms\) must not be longer than requestTimeout/)]);
    // An unset headersTimeout follows a short requestTimeout down instead.
    const built = buildMemory({ files: { 'flow.yaml': 'listeners:\n  a:\n    port: 1\n    requestTimeout: 2s\n' } });
    expect(built.model!.listeners.get('a')).toMatchObject({ headersTimeoutMs: 2_000, requestTimeoutMs: 2_000, host: '127.0.0.1', maxBodyBytes: 1_048_576 });
  });
});

describe('endpoint paths', () => {
  it('match one segment per {name}, the rest with a last {name*}, and decode the values', () => {
    const one = pathMatcher('/hooks/doors/{door}');
    expect(one.match('/hooks/doors/d%207')).toEqual({ door: 'd 7' });
    expect(one.match('/hooks/doors/d7/extra')).toBeUndefined();
    expect(one.match('/hooks/doors/')).toBeUndefined();
    expect(pathMatcher('/files/{rest*}').match('/files/a/b/c')).toEqual({ rest: 'a/b/c' });
    // A value that is not valid percent-encoding is kept as sent.
    expect(one.match('/hooks/doors/%ff')).toEqual({ door: '%ff' });
    // Literal segments are literal, regular-expression characters included.
    expect(pathMatcher('/a.b/{x}').match('/aXb/1')).toBeUndefined();
  });

  it('an endpoint takes POST by default and publishes through the only connection', () => {
    const built = buildMemory({
      files: {
        'flow.yaml': 'connections:\n  plant:\n    url: mqtt://127.0.0.1:1883\nlisteners:\n  l:\n    port: 1\nendpoints:\n  e:\n    listener: l\n    path: /x/{id}\n    service: s\nservices:\n  s:\n    steps:\n      - respond: {}\n',
      },
    });
    expect(built.model!.endpoints.get('e')).toMatchObject({ method: 'POST', connection: 'plant', queueSize: 100, processing: { mode: 'serial' } });
  });
});

describe('HttpListener', () => {
  it('closes connections over maxConnections at once, and answers the others', async () => {
    const listener = new HttpListener({ host: '127.0.0.1', port: 0, maxBodyBytes: 100, headersTimeoutMs: 5_000, requestTimeoutMs: 5_000, maxConnections: 1 });
    listener.routes = [{ method: 'GET', match: (p) => (p === '/x' ? {} : undefined), handle: (_req, answer) => answer.send({ status: 200, body: 'ok' }) }];
    const { port } = await listener.listen();
    const open = (): Promise<{ closedWithoutAnswer: Promise<boolean>; send: (text: string) => void }> =>
      new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          let data = '';
          socket.on('data', (d: Buffer) => (data += d.toString()));
          resolve({ closedWithoutAnswer: new Promise((done) => socket.on('close', () => done(data === ''))), send: (text) => socket.write(text) });
        });
      });
    const first = await open();
    const second = await open();
    expect(await second.closedWithoutAnswer).toBe(true);
    first.send('GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await first.closedWithoutAnswer).toBe(false);
    await listener.close(1_000);
  });
});

describe('onError: suspend on triggers that are not MQTT subscriptions', () => {
  it('is a warning on an endpoint and on a schedule, saying what happens instead', () => {
    const lines = problems(`listeners:
  l:
    port: 1
endpoints:
  e:
    listener: l
    path: /x
    service: s
    onError:
      suspend: {}
schedules:
  t:
    every: 1m
    service: s
    onError:
      suspend: {}
services:
  s:
    steps:
      - log: hi
`);
    expect(lines).toEqual([
      expect.stringMatching(/warning: endpoints\.e\.onError: suspend stops an MQTT subscription; here a failed request is answered 503/),
      expect.stringMatching(/warning: schedules\.t\.onError: suspend stops an MQTT subscription; here a failed fire is dropped/),
    ]);
  });
});
