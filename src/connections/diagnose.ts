/**
 * What a connection error most likely means, said once per connection and cause. mqtt.js reports
 * what the socket or its parser saw (`read ECONNRESET`, `Invalid header flag bits, must be 0x0 for
 * puback packet`); a user needs the connection, the URL and the likely mistake: the wrong port,
 * TLS on one side only, a broker that is down, a wrong host name, refused credentials. `diagnose`
 * is pure; ConnectionDiagnosis is what the clients of one connection report to (invariant 59).
 */
import type { ConnectionErrors, Endpoint } from '../mqtt/connection-errors.js';
import type { Log } from '../util/log.js';

export type FailureCause =
  | 'refused'
  | 'dns'
  | 'unreachable'
  | 'not-mqtt'
  | 'tls-mismatch'
  | 'certificate'
  | 'credentials'
  | 'client-id'
  | 'protocol-version'
  | 'unavailable'
  | 'broker-refused'
  | 'timeout'
  | 'closed'
  | 'lost'
  | 'other';

export interface Diagnosis {
  readonly cause: FailureCause;
  /** What happened, in a few words. */
  readonly summary: string;
  /** What is likely wrong, or what to do. */
  readonly hint?: string;
}

/** An error as mqtt.js reports it: a socket error (string code), a TLS error, a refused CONNACK (numeric code) or a parser error (no code). */
export interface FailureReport {
  readonly message: string;
  readonly code?: unknown;
}

export interface Attempt {
  /** `mqtt`, `mqtts`, `ws` or `wss`. */
  readonly protocol: string;
  /** The network connection had got its CONNACK: it was lost, not refused. */
  readonly established: boolean;
}

const CREDENTIALS = new Set([4, 5, 0x86, 0x87, 0x8a, 0x8c]);
const UNAVAILABLE = new Set([3, 0x88, 0x89, 0x97, 0x9c, 0x9d, 0x9f]);
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_NODATA', 'EAI_FAIL']);
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'EHOSTDOWN', 'ENETDOWN']);
/** What mqtt-packet says when the bytes are not MQTT (an HTTP answer parses as a PUBACK with flags set). */
const NOT_MQTT = /invalid (header flag|packet|protocol|length|retain|qos|will)|malformed|not supported|cannot parse|unknown command|packet too short|wrong (protocol|packet)/i;
/** A TLS client that met a plain server (or a server that reset the handshake). */
const TLS_RECORD = /wrong version number|packet length too long|unknown protocol|http request|record layer failure|before secure TLS connection/i;

/** The likely cause of a failed connection attempt (or of a lost connection). Pure. */
export function diagnose(error: FailureReport | undefined, attempt: Attempt): Diagnosis {
  const tls = attempt.protocol === 'mqtts' || attempt.protocol === 'wss';
  const ws = attempt.protocol === 'ws' || attempt.protocol === 'wss';
  if (error === undefined) {
    if (attempt.established) return { cause: 'lost', summary: 'the connection was lost' };
    return {
      cause: 'closed',
      summary: 'the server closed the connection before answering CONNECT',
      hint: ws
        ? 'is it a WebSocket MQTT listener, and is the path right (default /mqtt)?'
        : tls
          ? 'is it an MQTT broker? the wrong port? (see the broker\'s log: it may refuse this client)'
          : 'a TLS port (then use mqtts://)? not an MQTT broker? (see the broker\'s log: it may refuse this client)',
    };
  }
  const code = error.code;
  const message = error.message;
  if (typeof code === 'number' && /^connection refused/i.test(message)) return refusedByBroker(code, message);
  if (attempt.established) {
    if (code === undefined && NOT_MQTT.test(message)) return { cause: 'lost', summary: 'the broker sent a packet mqflow cannot read', hint: 'the connection is closed and opened again' };
    return { cause: 'lost', summary: 'the connection was lost' };
  }
  if (code === 'ECONNREFUSED') return { cause: 'refused', summary: 'connection refused', hint: 'nothing listens on that port: is the broker running, and is the host and port right?' };
  if (typeof code === 'string' && DNS.has(code)) {
    return code === 'EAI_AGAIN'
      ? { cause: 'dns', summary: 'the host name could not be resolved (DNS did not answer)', hint: 'check the host name in the URL and the DNS server' }
      : { cause: 'dns', summary: 'unknown host name', hint: 'check the host name in the URL' };
  }
  if (typeof code === 'string' && UNREACHABLE.has(code)) return { cause: 'unreachable', summary: 'the host cannot be reached', hint: 'check the address, the network and firewalls' };
  if (/certificate|cert_|self.signed|unable to verify|altnames/i.test(`${String(code)} ${message}`)) return certificate(String(code), message);
  if (message === 'connack timeout') {
    return {
      cause: 'timeout',
      summary: 'no CONNACK within connectTimeout',
      hint: tls ? 'the server took the connection but did not answer as an MQTT broker: the wrong port?' : 'the server took the connection but did not answer as an MQTT broker: a TLS port (then use mqtts://)? the wrong port?',
    };
  }
  if (tls && (code === 'EPROTO' || code === 'ECONNRESET' || code === 'EPIPE' || TLS_RECORD.test(message) || /ssl|tls/i.test(String(code)))) {
    return { cause: 'tls-mismatch', summary: 'the TLS handshake failed', hint: `is the port plain MQTT? use ${ws ? 'ws://' : 'mqtt://'} for it, or the broker's TLS port (usually ${ws ? '443' : '8883'})` };
  }
  if (!tls && (code === 'ECONNRESET' || code === 'EPIPE')) {
    return { cause: 'tls-mismatch', summary: 'the server reset the connection before answering CONNECT', hint: `a TLS port? use ${ws ? 'wss://' : 'mqtts://'} for it, or the broker's plain port (usually ${ws ? '80' : '1883'})` };
  }
  if (code === undefined && NOT_MQTT.test(message)) {
    return { cause: 'not-mqtt', summary: 'the server on that port does not speak MQTT', hint: ws ? 'is it a WebSocket MQTT listener, and is the path right (default /mqtt)?' : 'an HTTP server? the wrong port?' };
  }
  if (/unexpected server response/i.test(message)) return { cause: 'not-mqtt', summary: 'the server did not accept the WebSocket', hint: 'is it a WebSocket MQTT listener, and is the path right (default /mqtt)?' };
  return { cause: 'other', summary: 'the connection failed' };
}

function refusedByBroker(code: number, message: string): Diagnosis {
  const reason = message.replace(/^connection refused:\s*/i, '');
  if (CREDENTIALS.has(code)) return { cause: 'credentials', summary: `the broker refused the credentials (${reason})`, hint: 'check username and password, and that the broker lets this user connect' };
  if (code === 1 || code === 0x84) return { cause: 'protocol-version', summary: `the broker refused the MQTT version (${reason})`, hint: 'set protocolVersion to one it speaks (4 = MQTT 3.1.1, 5 = MQTT 5)' };
  if (code === 2 || code === 0x85) return { cause: 'client-id', summary: `the broker refused the client id (${reason})`, hint: 'set clientId to one it accepts' };
  if (UNAVAILABLE.has(code)) return { cause: 'unavailable', summary: `the broker refused the connection for now (${reason})`, hint: 'it is restarting or overloaded; mqflow retries' };
  return { cause: 'broker-refused', summary: `the broker refused the connection (${reason})` };
}

function certificate(code: string, message: string): Diagnosis {
  const text = `${code} ${message}`;
  if (/certificate.required|peer did not return a certificate/i.test(text)) {
    return { cause: 'certificate', summary: 'the broker asks for a client certificate', hint: 'set tls.cert and tls.key' };
  }
  if (/alert.bad.certificate|alert.unknown.ca|alert.certificate.unknown|alert.certificate.expired|alert.unsupported.certificate/i.test(text)) {
    return { cause: 'certificate', summary: 'the broker did not accept mqflow\'s client certificate', hint: 'is tls.cert signed by a CA the broker trusts, and still valid?' };
  }
  if (/ALTNAME|does not match certificate/i.test(text)) {
    return { cause: 'certificate', summary: 'the broker\'s certificate is not for this host name', hint: 'use the name it was issued for in the URL, or set tls.servername' };
  }
  if (/EXPIRED|NOT_YET_VALID|expired/i.test(text)) return { cause: 'certificate', summary: 'the broker\'s certificate is expired or not yet valid', hint: 'renew it on the broker, or check the clocks' };
  return { cause: 'certificate', summary: 'the broker\'s certificate does not verify', hint: 'trust the CA that signed it with tls.ca' };
}

/** The URL as written, without user name or password; or rebuilt from the endpoint. */
export function displayUrl(urls: readonly string[], endpoint: Endpoint): string {
  for (const text of urls) {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      continue;
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = u.port === '' ? { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443 }[u.protocol] : Number(u.port);
    if (u.protocol === `${endpoint.protocol}:` && host === endpoint.host && port === endpoint.port) {
      u.username = '';
      u.password = '';
      return u.href.replace(/\/$/, '');
    }
  }
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.protocol}://${host}:${endpoint.port}`;
}

/** The error's own words, short: OpenSSL's are reduced to the reason (`EPROTO: wrong version number`). */
export function errorText(error: FailureReport): string {
  const ssl = /SSL routines:[^:]*:([^:\n]+)/.exec(error.message);
  if (ssl !== null) return typeof error.code === 'string' ? `${error.code}: ${ssl[1]!}` : ssl[1]!;
  return error.message.trim();
}

/** The line a user reads: the connection, the URL, the likely cause and the error itself. */
export function describeFailure(connection: string, url: string, diagnosis: Diagnosis, error: FailureReport | undefined): string {
  const detail = error === undefined ? '' : ` (${errorText(error)})`;
  const hint = diagnosis.hint === undefined ? '' : ` — ${diagnosis.hint}`;
  if (diagnosis.cause === 'lost') return `connection ${connection}: ${url}: ${diagnosis.summary}${detail}${hint}; reconnecting`;
  return `connection ${connection}: cannot connect to ${url}: ${diagnosis.summary}${hint}${detail}`;
}

/**
 * The clients of one connection report here: each cause is logged once per URL while it lasts
 * (however many clients and attempts hit it), again when it changes, and again after any client
 * of the connection connected.
 */
export class ConnectionDiagnosis implements ConnectionErrors {
  readonly name: string;
  readonly urls: readonly string[];
  readonly #log: Log;
  /** The cause last logged, per URL, since the connection last worked. */
  readonly #logged = new Map<string, FailureCause>();

  constructor(connection: { readonly name: string; readonly urls: readonly string[] }, log: Log) {
    this.name = connection.name;
    this.urls = connection.urls;
    this.#log = log.child({ connection: connection.name });
  }

  failed(error: Error | undefined, endpoint: Endpoint, established: boolean): string {
    const report = error === undefined ? undefined : { message: error.message, code: (error as { code?: unknown }).code };
    const diagnosis = diagnose(report, { protocol: endpoint.protocol, established });
    const url = displayUrl(this.urls, endpoint);
    const text = describeFailure(this.name, url, diagnosis, report);
    if (this.#logged.get(url) === diagnosis.cause) return text;
    this.#logged.set(url, diagnosis.cause);
    // The hint is in the message; `cause` is for machines.
    const fields = { event: 'connection-error', url, cause: diagnosis.cause, ...(report === undefined ? {} : { err: report }) };
    if (diagnosis.cause === 'lost') this.#log.warn(fields, text);
    else this.#log.error(fields, text);
    return text;
  }

  connected(): void {
    this.#logged.clear();
  }
}
