/** clientId, username and password: who the connection is to the broker. */
import type { DefinitionOption } from '../component/option.js';
import { warnWrittenSecret } from '../component/tls.js';
import { Secret } from '../util/secret.js';

export interface Identity {
  readonly clientId?: string;
  readonly username?: Secret;
  readonly password?: Secret;
}

export const identity: DefinitionOption<Identity> = {
  name: 'clientId, username and password',
  fields: {
    clientId: {
      schema: {
        type: 'string',
        minLength: 1,
        description: 'MQTT client id. Default: derived from the connection name (and the trigger name for trigger clients), stable across restarts.',
        examples: ['plant-gateway-01'],
      },
      type: 'string',
      default: '`mqflow-<connection>`',
      doc: 'MQTT client id of the connection\'s publishing client; each trigger on the connection receives on a client of its own, `<clientId>-<trigger>` (below).',
    },
    username: { schema: { type: 'string', description: 'User name. Take it from the environment: ${env:MQTT_USERNAME}.', examples: ['${env:MQTT_USERNAME}'] }, type: 'string', default: 'none', doc: 'User name. Take it from the environment: `${env:MQTT_USERNAME}`.' },
    password: {
      schema: { type: 'string', description: 'Password. Never write it in the file: use ${env:NAME} or ${file:path}.', examples: ['${env:MQTT_PASSWORD}'] },
      type: 'string',
      default: 'none',
      doc: 'Password. Never write it in the file (`mqflow validate` warns when it is): use `${env:NAME}` or `${file:path}`.',
    },
  },
  example: `connections:
  secured:
    url: mqtts://broker.example.com:8883
    username: \${env:MQTT_USERNAME}
    password: \${env:MQTT_PASSWORD}
`,
  compile(value, path, c) {
    const password = value.password as string | undefined;
    if (password !== undefined && password !== '' && !c.interpolated([...path, 'password'])) warnWrittenSecret(c, [...path, 'password']);
    return {
      ...(value.clientId === undefined ? {} : { clientId: value.clientId as string }),
      ...(value.username === undefined ? {} : { username: new Secret(value.username as string) }),
      ...(password === undefined ? {} : { password: new Secret(password) }),
    };
  },
};

/** The default client id base: stable across restarts, so persistent sessions survive them. */
export function baseClientId(connection: { readonly name: string; readonly clientId?: string }, instance: string | undefined): string {
  const base = connection.clientId ?? `mqflow-${connection.name}`;
  return instance === undefined ? base : `${base}-${instance}`;
}
