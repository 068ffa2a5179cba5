/**
 * TLS settings shared by MQTT connections, `http` steps and HTTP listeners: PEM files named
 * relative to the flow file and read at load, the key and its passphrase kept as secrets.
 */
import { formatPath, type ValuePath } from '../util/path.js';
import { Secret } from '../util/secret.js';
import type { TlsOptions } from '../util/tls-options.js';
import type { ComponentCompiler } from './compiler.js';
import type { FieldSpec } from './spec.js';

export type { TlsOptions };

/** The fields of a client's TLS map; `peer` names what is verified (a broker, a server). */
export function tlsFields(peer: string): Readonly<Record<string, FieldSpec>> {
  return {
    ca: { schema: { type: 'string', minLength: 1, description: 'PEM file of the certificate authority to trust, relative to the flow file.', examples: ['certs/ca.pem'] }, type: 'string', default: 'none', doc: 'PEM file of the certificate authority to trust, relative to the flow file.' },
    cert: { schema: { type: 'string', minLength: 1, description: 'PEM file of the client certificate, relative to the flow file.', examples: ['certs/client.pem'] }, type: 'string', default: 'none', doc: 'PEM file of the client certificate, relative to the flow file. Needs `key`.' },
    key: { schema: { type: 'string', minLength: 1, description: 'PEM file of the client private key, relative to the flow file.', examples: ['certs/client.key'] }, type: 'string', default: 'none', doc: 'PEM file of the client private key, relative to the flow file. Needs `cert`.' },
    passphrase: {
      schema: { type: 'string', description: 'Passphrase of the private key: use ${env:NAME} or ${file:path}.', examples: ['${env:TLS_KEY_PASSPHRASE}'] },
      type: 'string',
      default: 'none',
      doc: 'Passphrase of the private key: use `${env:NAME}` or `${file:path}` (`mqflow validate` warns when it is written in the file).',
    },
    rejectUnauthorized: { schema: { type: 'boolean', description: `Refuse a ${peer} whose certificate does not verify. Default: true.` }, type: 'boolean', default: '`true`', doc: `Refuse a ${peer} whose certificate does not verify.` },
    servername: { schema: { type: 'string', minLength: 1, description: 'Server name for SNI and certificate checks. Default: the URL host.', examples: ['api.example.com'] }, type: 'string', default: 'the URL host', doc: 'Server name for SNI and the certificate check.' },
  };
}

export interface TlsValue {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** Reads the files a TLS map names; undefined when one is missing or the pair is incomplete (reported at `at`). */
export function compileTls(t: TlsValue, at: ValuePath, c: ComponentCompiler): TlsOptions | undefined {
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
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key: new Secret(key) }),
    ...(t.passphrase === undefined ? {} : { passphrase: new Secret(t.passphrase) }),
    rejectUnauthorized: t.rejectUnauthorized ?? true,
    ...(t.servername === undefined ? {} : { servername: t.servername }),
  };
}

/** A secret written in the flow file itself, where everyone who can read the repository sees it. */
export function warnWrittenSecret(c: ComponentCompiler, at: ValuePath): void {
  c.warn(at, 'MQFLOW_SECRET_IN_FILE', `${formatPath(at)} is written in the flow file, where everyone who can read the repository sees it`, 'take it from the environment or a file: ${env:MQTT_PASSWORD} or ${file:secrets/mqtt-password}');
}

/** Warns unless the value at `at` came from `${env:…}` or `${file:…}`. */
export function checkSecretSource(c: ComponentCompiler, at: ValuePath, value: string | undefined): void {
  if (value !== undefined && value !== '' && !c.interpolated(at)) warnWrittenSecret(c, at);
}
