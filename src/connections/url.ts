/** url: the broker URL, or a list tried in turn (failover). */
import type { IClientOptions } from 'mqtt';
import type { DefinitionOption } from '../component/option.js';
import { formatPath, type ValuePath } from '../util/path.js';

const SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

const brokerUrl = {
  type: 'string',
  minLength: 1,
  description: 'A broker URL: mqtt://, mqtts:// (TLS), ws:// or wss:// (WebSocket), with host and optional port.',
};

export const url: DefinitionOption<{ urls: readonly string[] }> = {
  name: 'url',
  fields: {
    url: {
      schema: {
        description: 'The broker URL, or a list of URLs tried in turn (failover).',
        anyOf: [brokerUrl, { type: 'array', minItems: 1, items: brokerUrl }],
        examples: ['mqtt://127.0.0.1:1883', ['mqtts://broker-a:8883', 'mqtts://broker-b:8883']],
      },
      type: 'string, or list of strings',
      default: 'required',
      doc: 'Broker URL: `mqtt://`, `mqtts://` (TLS), `ws://` or `wss://` (WebSocket), with a host and an optional port. A list is tried in turn (failover).',
    },
  },
  required: ['url'],
  example: `connections:
  local:
    url: mqtt://127.0.0.1:1883
`,
  compile(value, path, c) {
    const urls = typeof value.url === 'string' ? [value.url] : Array.isArray(value.url) ? (value.url as unknown[]).filter((u): u is string => typeof u === 'string') : [];
    const at = (i: number): ValuePath => (typeof value.url === 'string' ? [...path, 'url'] : [...path, 'url', i]);
    let ok = true;
    urls.forEach((u, i) => {
      if (c.brokenBelow(at(i))) return;
      const problem = brokerUrlProblem(u);
      if (problem !== undefined) {
        c.problem(at(i), 'MQFLOW_BROKER_URL', `${formatPath(at(i))} ${problem} (got ${c.quote(at(i), u)})`, 'for example mqtt://127.0.0.1:1883 or mqtts://broker.example.com:8883');
        ok = false;
      }
    });
    return ok ? { urls } : undefined;
  },
};

function brokerUrlProblem(text: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return 'is not a valid URL';
  }
  if (!SCHEMES.includes(parsed.protocol)) return 'must start with mqtt://, mqtts://, ws:// or wss://';
  if (parsed.hostname === '') return 'has no host';
  return undefined;
}

/** Runtime: where mqtt.js connects, with the others as failover servers. */
export function endpointOptions(urls: readonly string[]): IClientOptions {
  const [first, ...rest] = urls.map((u) => new URL(u));
  if (first === undefined) return {};
  return { ...endpoint(first), ...(rest.length > 0 ? { servers: [first, ...rest].map((u) => endpoint(u)) } : {}) };
}

function endpoint(u: URL): { host: string; port: number; protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss'; path?: string } {
  const protocol = u.protocol.slice(0, -1) as 'mqtt' | 'mqtts' | 'ws' | 'wss';
  const defaults = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? defaults[protocol] : Number(u.port),
    protocol,
    ...(protocol === 'ws' || protocol === 'wss' ? { path: u.pathname === '' ? '/mqtt' : u.pathname } : {}),
  };
}

/** True when any of the URLs uses TLS. */
export function usesTls(urls: readonly string[]): boolean {
  return urls.some((u) => /^(mqtts|wss):/i.test(u));
}
