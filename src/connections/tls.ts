/** tls: certificates and verification for mqtts:// and wss:// URLs. */
import type { IClientOptions } from 'mqtt';
import type { DefinitionOption } from '../component/option.js';
import { objectSchema, type FieldSpec } from '../component/spec.js';
import { compileTls, tlsFields, type TlsOptions, type TlsValue } from '../component/tls.js';
import { formatPath } from '../util/path.js';
import { usesTls } from './url.js';

export type { TlsOptions };

export const TLS_FIELDS: Readonly<Record<string, FieldSpec>> = tlsFields('broker');

export const tls: DefinitionOption<{ tls?: TlsOptions }> = {
  name: 'tls',
  fields: {
    tls: {
      schema: objectSchema('TLS settings for mqtts:// and wss:// URLs. Certificate verification is on unless rejectUnauthorized is false.', TLS_FIELDS),
      type: 'map',
      default: 'none',
      doc: 'TLS settings for `mqtts://` and `wss://` URLs (below).',
    },
  },
  example: `connections:
  private-ca:
    url: mqtts://broker.example.com:8883
    tls:
      ca: certs/ca.pem
`,
  compile(value, path, c) {
    const at = [...path, 'tls'];
    const t = value.tls as TlsValue | undefined;
    if (t === undefined || c.broken(at)) return {};
    const urls = typeof value.url === 'string' ? [value.url] : Array.isArray(value.url) ? (value.url as unknown[]).filter((u): u is string => typeof u === 'string') : [];
    if (urls.length > 0 && !usesTls(urls)) {
      c.warn(at, 'MQFLOW_TLS_UNUSED', `${formatPath(at)} is ignored: no URL of this connection uses mqtts:// or wss://`, 'use an mqtts:// or wss:// URL, or remove tls');
    }
    const options = compileTls(t, at, c);
    return options === undefined ? undefined : { tls: options };
  },
};

/** Runtime: the TLS options of mqtt.js (and Node's tls.connect). */
export function tlsClientOptions(options: TlsOptions | undefined): IClientOptions {
  if (options === undefined) return {};
  return {
    rejectUnauthorized: options.rejectUnauthorized,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.cert === undefined ? {} : { cert: options.cert }),
    ...(options.key === undefined ? {} : { key: options.key.reveal() }),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase.reveal() }),
    ...(options.servername === undefined ? {} : { servername: options.servername }),
  };
}
