/**
 * Who may talk to the admin server (docs/architecture.md, invariant 31). A web page the operator
 * opens can make the browser send requests to 127.0.0.1: a `Host` check defeats DNS rebinding (a
 * hostile name resolved to the loopback address), an `Origin` check refuses other pages' requests,
 * and a control request must be one a page cannot send without a CORS preflight, which this server
 * never grants: `Content-Type: application/json`, or an `Authorization` header.
 */
import type { IncomingMessage } from 'node:http';

export interface Refusal {
  readonly status: 403 | 421;
  readonly error: string;
}

export interface GuardOptions {
  /** The address the server listens on. */
  readonly host: string;
  /** The port it is bound to. */
  readonly port: number;
  /** Further names the operator reaches it by (--admin-host). */
  readonly allowedHosts?: readonly string[];
}

const LOOPBACK = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\])$/;
const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

/** The host name of a Host header (lower case, IPv6 in brackets) and its port (undefined when absent). */
/** Is `host` (an address or name, IPv6 with or without brackets) a loopback one: only this machine reaches it. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

export function parseHostHeader(value: string): { name: string; port?: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (m === null) return undefined;
  return { name: m[1]!.toLowerCase(), ...(m[2] === undefined ? {} : { port: Number(m[2]) }) };
}

export function createRequestGuard(options: GuardOptions): (req: IncomingMessage) => Refusal | undefined {
  const bound = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host.toLowerCase();
  const extra = (options.allowedHosts ?? []).map((h) => h.toLowerCase());
  // On a wildcard address (which requires a token) the names it is reached by are not known: the
  // token is what protects it, unless the operator lists the names.
  const checkHost = !WILDCARD.has(bound) || extra.length > 0;
  const names = new Set([bound, ...extra]);

  const hostAllowed = (header: string | undefined): boolean => {
    if (!checkHost) return true;
    if (header === undefined) return false;
    const parsed = parseHostHeader(header);
    if (parsed === undefined) return false;
    if ((parsed.port ?? 80) !== options.port) return false;
    return names.has(parsed.name) || isLoopback(parsed.name);
  };

  return (req) => {
    const host = req.headers.host;
    if (!hostAllowed(host)) {
      return { status: 421, error: `this admin server does not answer to Host "${host ?? ''}"; reach it by ${bound}:${options.port} or localhost, or name the host with --admin-host` };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${host ?? ''}`) {
      return { status: 403, error: 'cross-origin requests are refused: the admin API answers only its own status page and non-browser clients' };
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json' && req.headers.authorization === undefined) {
        return { status: 403, error: 'a control request needs Content-Type: application/json (or an Authorization header), which a cross-site form cannot send' };
      }
    }
    return undefined;
  };
}
