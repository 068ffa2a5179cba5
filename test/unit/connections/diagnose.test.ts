/**
 * What a connection error is said to mean (src/connections/diagnose.ts), from the errors mqtt.js
 * really reports — each message below was seen against Mosquitto 2.0, a Node.js HTTP(S) server, a
 * closed port and an unknown host — and that the clients of one connection log one line per cause.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConnectionDiagnosis, describeFailure, diagnose, displayUrl, errorText, type FailureCause } from '../../../src/connections/diagnose.js';
import { createLog } from '../../../src/util/log.js';

const EPROTO_WRONG_VERSION =
  'write EPROTO 807C64572D7F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n';
const CERT_REQUIRED =
  '80DCE56EA77F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n';

const failing = (protocol: string) => ({ protocol, established: false });

describe('diagnose', () => {
  it.each<[string, string, { message: string; code?: unknown } | undefined, FailureCause, RegExp]>([
    ['an HTTP server answering on an mqtt:// port', 'mqtt', { message: 'Invalid header flag bits, must be 0x0 for puback packet' }, 'not-mqtt', /HTTP server\? the wrong port\?/],
    ['mqtts:// on a plain MQTT port (Mosquitto resets)', 'mqtts', { message: 'read ECONNRESET', code: 'ECONNRESET' }, 'tls-mismatch', /plain MQTT\? use mqtt:\/\//],
    ['mqtts:// on a plain HTTP port', 'mqtts', { message: EPROTO_WRONG_VERSION, code: 'EPROTO' }, 'tls-mismatch', /plain MQTT/],
    ['mqtt:// on a TLS port (Mosquitto resets)', 'mqtt', { message: 'read ECONNRESET', code: 'ECONNRESET' }, 'tls-mismatch', /TLS port\? use mqtts:\/\//],
    ['a closed port', 'mqtt', { message: 'connect ECONNREFUSED 127.0.0.1:1883', code: 'ECONNREFUSED' }, 'refused', /is the broker running/],
    ['an unknown host', 'mqtt', { message: 'getaddrinfo ENOTFOUND broker.invalid', code: 'ENOTFOUND' }, 'dns', /host name/],
    ['DNS not answering', 'mqtt', { message: 'getaddrinfo EAI_AGAIN broker.example', code: 'EAI_AGAIN' }, 'dns', /host name/],
    ['an unreachable host', 'mqtt', { message: 'connect EHOSTUNREACH 10.0.0.9:1883', code: 'EHOSTUNREACH' }, 'unreachable', /network/],
    ['refused credentials, MQTT 3.1.1', 'mqtt', { message: 'Connection refused: Not authorized', code: 5 }, 'credentials', /username and password/],
    ['refused credentials, MQTT 5', 'mqtt', { message: 'Connection refused: Bad User Name or Password', code: 0x86 }, 'credentials', /username and password/],
    ['a refused client id', 'mqtt', { message: 'Connection refused: Identifier rejected', code: 2 }, 'client-id', /clientId/],
    ['an MQTT version the broker refuses', 'mqtt', { message: 'Connection refused: Unsupported Protocol Version', code: 0x84 }, 'protocol-version', /protocolVersion/],
    ['a broker unavailable for now', 'mqtt', { message: 'Connection refused: Server unavailable', code: 3 }, 'unavailable', /retries/],
    ['a server that never answers CONNECT', 'mqtt', { message: 'connack timeout' }, 'timeout', /TLS port/],
    ['an untrusted certificate', 'mqtts', { message: 'self-signed certificate in certificate chain', code: 'SELF_SIGNED_CERT_IN_CHAIN' }, 'certificate', /tls\.ca/],
    ['a certificate for another host', 'mqtts', { message: "Hostname/IP does not match certificate's altnames: Host: other. is not in the cert's altnames", code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'certificate', /servername/],
    ['a broker asking for a client certificate', 'mqtts', { message: CERT_REQUIRED, code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' }, 'certificate', /tls\.cert and tls\.key/],
    ['a WebSocket URL on a plain MQTT port', 'ws', { message: 'read ECONNRESET', code: 'ECONNRESET' }, 'tls-mismatch', /wss:\/\//],
    ['a server closing before CONNACK (a TLS port with mqtt://)', 'mqtt', undefined, 'closed', /TLS port/],
    ['something unforeseen', 'mqtt', { message: 'boom', code: 'EWHATEVER' }, 'other', /^$/],
  ])('%s', (_what, protocol, error, cause, hint) => {
    const d = diagnose(error, failing(protocol));
    expect(d.cause).toBe(cause);
    expect(d.hint ?? '').toMatch(hint);
  });

  it('an error on a connection that had its CONNACK is a lost connection, whatever the error', () => {
    expect(diagnose({ message: 'read ECONNRESET', code: 'ECONNRESET' }, { protocol: 'mqtts', established: true }).cause).toBe('lost');
    expect(diagnose({ message: 'Invalid header flag bits, must be 0x0 for puback packet' }, { protocol: 'mqtt', established: true })).toMatchObject({ cause: 'lost', summary: 'the broker sent a packet mqflow cannot read' });
  });
});

describe('the line a user reads', () => {
  it('names the connection, the URL without credentials, the cause and the error, with OpenSSL reduced to its reason', () => {
    const url = displayUrl(['mqtts://mqflow:s3cret@broker.example.com:1883'], { protocol: 'mqtts', host: 'broker.example.com', port: 1883 });
    expect(url).toBe('mqtts://broker.example.com:1883');
    const error = { message: EPROTO_WRONG_VERSION, code: 'EPROTO' };
    expect(errorText(error)).toBe('EPROTO: wrong version number');
    expect(describeFailure('plant', url, diagnose(error, failing('mqtts')), error)).toBe(
      "connection plant: cannot connect to mqtts://broker.example.com:1883: the TLS handshake failed — is the port plain MQTT? use mqtt:// for it, or the broker's TLS port (usually 8883) (EPROTO: wrong version number)",
    );
  });

  it('names the URL of the failover list that failed, with its default port', () => {
    const urls = ['mqtt://a.example', 'mqtt://b.example:1884', 'ws://c.example/mqtt'];
    expect(displayUrl(urls, { protocol: 'mqtt', host: 'a.example', port: 1883 })).toBe('mqtt://a.example');
    expect(displayUrl(urls, { protocol: 'mqtt', host: 'b.example', port: 1884 })).toBe('mqtt://b.example:1884');
    expect(displayUrl(urls, { protocol: 'ws', host: 'c.example', port: 80 })).toBe('ws://c.example/mqtt');
    expect(displayUrl(urls, { protocol: 'mqtt', host: '::1', port: 1 })).toBe('mqtt://[::1]:1');
  });
});

describe('ConnectionDiagnosis: one line per cause for all the clients of a connection', () => {
  const capture = (): { lines: Record<string, unknown>[]; diagnosis: ConnectionDiagnosis } => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
        done();
      },
    });
    const log = createLog({ level: 'debug', pretty: false, secrets: [], destination });
    return { lines, diagnosis: new ConnectionDiagnosis({ name: 'plant', urls: ['mqtt://a.example', 'mqtt://b.example'] }, log) };
  };
  const refused = Object.assign(new Error('connect ECONNREFUSED 1.2.3.4:1883'), { code: 'ECONNREFUSED' });
  const dns = Object.assign(new Error('getaddrinfo ENOTFOUND a.example'), { code: 'ENOTFOUND' });
  const a = { protocol: 'mqtt', host: 'a.example', port: 1883 };
  const b = { protocol: 'mqtt', host: 'b.example', port: 1883 };

  it('logs a cause once however many clients and attempts hit it, again when it changes, and again after the connection worked', async () => {
    const { lines, diagnosis } = capture();
    for (let i = 0; i < 5; i++) diagnosis.failed(refused, a, false); // the publisher and four trigger clients
    diagnosis.failed(dns, a, false);
    diagnosis.failed(dns, a, false);
    diagnosis.failed(refused, b, false); // failover: the other URL has a cause of its own
    diagnosis.failed(refused, a, false);
    diagnosis.connected();
    diagnosis.failed(refused, a, false);
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.event, l.connection, l.url, l.cause])).toEqual([
      [50, 'connection-error', 'plant', 'mqtt://a.example', 'refused'],
      [50, 'connection-error', 'plant', 'mqtt://a.example', 'dns'],
      [50, 'connection-error', 'plant', 'mqtt://b.example', 'refused'],
      [50, 'connection-error', 'plant', 'mqtt://a.example', 'refused'],
      [50, 'connection-error', 'plant', 'mqtt://a.example', 'refused'],
    ]);
    expect(lines[0]).toMatchObject({ err: { message: 'connect ECONNREFUSED 1.2.3.4:1883', code: 'ECONNREFUSED' } });
    expect(lines[0]!.err).not.toHaveProperty('stack');
  });

  it('returns the diagnosed text every time, for the client\'s last error', () => {
    const { diagnosis } = capture();
    expect(diagnosis.failed(refused, a, false)).toBe(diagnosis.failed(refused, a, false));
    expect(diagnosis.failed(refused, a, false)).toMatch(/^connection plant: cannot connect to mqtt:\/\/a\.example: connection refused/);
  });
});
