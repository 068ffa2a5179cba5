/** TLS settings as the clients take them (MQTT connections, HTTP requests): PEM contents read at load, the key and its passphrase as secrets. */
import type { Secret } from './secret.js';

export interface TlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: Secret;
  readonly passphrase?: Secret;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
}
