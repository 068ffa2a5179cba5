import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createRequestGuard, parseHostHeader } from '../../../src/admin/request-guard.js';

const req = (headers: Record<string, string>, method = 'GET'): IncomingMessage => ({ method, headers }) as unknown as IncomingMessage;

describe('parseHostHeader', () => {
  it('splits names, IPv4 and bracketed IPv6 from the port, and rejects what is not a host', () => {
    expect(parseHostHeader('Example.COM:9464')).toEqual({ name: 'example.com', port: 9464 });
    expect(parseHostHeader('127.0.0.1')).toEqual({ name: '127.0.0.1' });
    expect(parseHostHeader('[::1]:80')).toEqual({ name: '[::1]', port: 80 });
    expect(parseHostHeader('::1')).toBeUndefined();
    expect(parseHostHeader('a:b:c')).toBeUndefined();
    expect(parseHostHeader('evil.example:9464/x')).toBeUndefined();
  });
});

describe('createRequestGuard', () => {
  const loopback = createRequestGuard({ host: '127.0.0.1', port: 9464 });

  it('on a loopback address: its own address and loopback names on its port; nothing else, and no missing Host', () => {
    for (const host of ['127.0.0.1:9464', 'localhost:9464', '127.0.0.2:9464', '[::1]:9464']) expect(loopback(req({ host })), host).toBeUndefined();
    for (const host of ['evil.example:9464', 'localhost.evil.example:9464', '127.0.0.1:80', '127.0.0.1', '10.0.0.1:9464']) expect(loopback(req({ host }))?.status, host).toBe(421);
    expect(loopback(req({}))?.status).toBe(421);
  });

  it('an IPv6 address is matched in brackets', () => {
    const v6 = createRequestGuard({ host: '::1', port: 9464 });
    expect(v6(req({ host: '[::1]:9464' }))).toBeUndefined();
  });

  it('a wildcard address (token required) checks Host only when --admin-host names are given', () => {
    expect(createRequestGuard({ host: '0.0.0.0', port: 9464 })(req({ host: 'mqflow-7f9c:9464' }))).toBeUndefined();
    const named = createRequestGuard({ host: '0.0.0.0', port: 9464, allowedHosts: ['mqflow.plant.local'] });
    expect(named(req({ host: 'mqflow.plant.local:9464' }))).toBeUndefined();
    expect(named(req({ host: 'other:9464' }))?.status).toBe(421);
  });

  it('an Origin other than the server itself is refused, on reads too', () => {
    expect(loopback(req({ host: '127.0.0.1:9464', origin: 'http://127.0.0.1:9464' }))).toBeUndefined();
    expect(loopback(req({ host: '127.0.0.1:9464', origin: 'http://evil.example' }))?.status).toBe(403);
    expect(loopback(req({ host: '127.0.0.1:9464', origin: 'null' }))?.status).toBe(403);
    expect(loopback(req({ host: '127.0.0.1:9464', origin: 'https://127.0.0.1:9464' }))?.status).toBe(403);
  });

  it('a change must be JSON or carry Authorization: the requests a page can send without a preflight are refused', () => {
    const host = '127.0.0.1:9464';
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
      expect(loopback(req({ host, 'content-type': type }, 'POST'))?.status, type).toBe(403);
    }
    expect(loopback(req({ host, 'content-type': 'application/json; charset=utf-8' }, 'POST'))).toBeUndefined();
    expect(loopback(req({ host, authorization: 'Bearer x' }, 'POST'))).toBeUndefined();
  });
});
