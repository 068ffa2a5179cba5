/** tls: certificates and verification for mqtts:// and wss:// URLs. */
import type { IClientOptions } from 'mqtt';
import type { DefinitionOption } from '../component/option.js';
import { objectSchema, type FieldSpec } from '../component/spec.js';
import { formatPath } from '../util/path.js';
import { Secret } from '../util/secret.js';
import { warnWrittenSecret } from './identity.js';
import { usesTls } from './url.js';

export interface TlsOptions {
  /** PEM contents, read at load from the files the flow names. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: Secret;
  readonly passphrase?: Secret;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
}

export const TLS_FIELDS: Readonly<Record<string, FieldSpec>> = {
  ca: { schema: { type: 'string', minLength: 1, description: 'PEM file of the certificate authority to trust, relative to the flow file.', examples: ['certs/ca.pem'] }, type: 'string', default: 'none', doc: 'PEM file of the certificate authority to trust, relative to the flow file.' },
  cert: { schema: { type: 'string', minLength: 1, description: 'PEM file of the client certificate, relative to the flow file.', examples: ['certs/client.pem'] }, type: 'string', default: 'none', doc: 'PEM file of the client certificate, relative to the flow file. Needs `key`.' },
  key: { schema: { type: 'string', minLength: 1, description: 'PEM file of the client private key, relative to the flow file.', examples: ['certs/client.key'] }, type: 'string', default: 'none', doc: 'PEM file of the client private key, relative to the flow file. Needs `cert`.' },
  passphrase: {
    schema: { type: 'string', description: 'Passphrase of the private key: use ${env:NAME} or ${file:path}.', examples: ['${env:MQTT_KEY_PASSPHRASE}'] },
    type: 'string',
    default: 'none',
    doc: 'Passphrase of the private key: use `${env:NAME}` or `${file:path}` (`mqflow validate` warns when it is written in the file).',
  },
  rejectUnauthorized: { schema: { type: 'boolean', description: 'Refuse a broker whose certificate does not verify. Default: true.' }, type: 'boolean', default: '`true`', doc: 'Refuse a broker whose certificate does not verify.' },
  servername: { schema: { type: 'string', minLength: 1, description: 'Server name for SNI and certificate checks. Default: the URL host.', examples: ['broker.example.com'] }, type: 'string', default: 'the URL host', doc: 'Server name for SNI and the certificate check.' },
};

interface TlsValue {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

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
    let ok = true;
    const pem = (key: 'ca' | 'cert' | 'key'): string | undefined => {
      const name = t[key];
      if (name === undefined || c.brokenBelow([...at, key])) return undefined;
      const text = c.readFile(name, [...at, key]);
      if (text === undefined) ok = false;
      return text;
    };
    const ca = pem('ca');
    const cert = pem('cert');
    const key = pem('key');
    if ((t.cert === undefined) !== (t.key === undefined)) {
      const [given, missing] = t.cert === undefined ? ['key', 'cert'] : ['cert', 'key'];
      c.problem(at, 'MQFLOW_TLS_PAIR', `${formatPath(at)} has ${given} but no ${missing}: a client certificate needs both`, `add ${missing}: <PEM file>, or remove ${given}`);
      ok = false;
    }
    if (t.passphrase !== undefined && t.passphrase !== '' && !c.interpolated([...at, 'passphrase'])) warnWrittenSecret(c, [...at, 'passphrase']);
    if (!ok) return undefined;
    return {
      tls: {
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key: new Secret(key) }),
        ...(t.passphrase === undefined ? {} : { passphrase: new Secret(t.passphrase) }),
        rejectUnauthorized: t.rejectUnauthorized ?? true,
        ...(t.servername === undefined ? {} : { servername: t.servername }),
      },
    };
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
