/**
 * Mosquitto security set-ups for tests: a password_file (made with mosquitto_passwd) and a
 * dynamic security plugin configuration (users and roles that can refuse subscriptions).
 */
import { spawnSync } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function mosquittoPasswdAvailable(): boolean {
  return spawnSync('mosquitto_passwd', ['-h']).error === undefined;
}

/** Writes `dir/passwd` with the users' hashed passwords; returns its path. */
export function writePasswordFile(dir: string, users: Readonly<Record<string, string>>): string {
  const file = join(dir, 'passwd');
  Object.entries(users).forEach(([user, password], i) => {
    const result = spawnSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', file, user, password], { encoding: 'utf8' });
    if (result.error !== undefined || result.status !== 0) throw new Error(`mosquitto_passwd failed: ${result.error?.message ?? result.stderr}`);
  });
  readableByBroker(dir, file);
  return file;
}

const DYNSEC_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
];

/** The path of Mosquitto's dynamic security plugin, if installed. */
export function dynamicSecurityPlugin(): string | undefined {
  return DYNSEC_CANDIDATES.find((p) => existsSync(p));
}

export interface DynsecAcl {
  readonly acltype: 'publishClientSend' | 'publishClientReceive' | 'subscribeLiteral' | 'subscribePattern' | 'unsubscribeLiteral' | 'unsubscribePattern';
  readonly topic: string;
  readonly allow: boolean;
}

/**
 * Writes `dir/dynamic-security.json`: each user gets a role of the same name with `acls`; by
 * default nothing may be published or subscribed. Returns the Mosquitto config lines that load it.
 */
export function writeDynamicSecurity(dir: string, plugin: string, users: Readonly<Record<string, { password: string; acls: readonly DynsecAcl[] }>>): string {
  const file = join(dir, 'dynamic-security.json');
  const entries = Object.entries(users);
  const config = {
    clients: entries.map(([username, { password }]) => {
      // The plugin's hash: PBKDF2-HMAC-SHA512, 64 bytes, over a 12-byte salt.
      const salt = randomBytes(12);
      const iterations = 101;
      return {
        username,
        password: pbkdf2Sync(password, salt, iterations, 64, 'sha512').toString('base64'),
        salt: salt.toString('base64'),
        iterations,
        roles: [{ rolename: username }],
      };
    }),
    roles: entries.map(([username, { acls }]) => ({ rolename: username, acls })),
    groups: [],
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  readableByBroker(dir, file);
  return `plugin ${plugin}\nplugin_opt_config_file ${file}\n`;
}

/** Mosquitto started as root drops to its own user: let it read (and the plugin rewrite) the files. */
function readableByBroker(dir: string, file: string): void {
  chmodSync(dir, 0o777);
  chmodSync(file, 0o666);
}
