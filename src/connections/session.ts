/** protocolVersion and cleanSession: which MQTT, and whether the broker keeps the session between connections. */
import type { DefinitionOption } from '../component/option.js';

export interface SessionSettings {
  readonly protocolVersion: 4 | 5;
  readonly cleanSession: boolean;
}

export const session: DefinitionOption<SessionSettings> = {
  name: 'protocolVersion and cleanSession',
  fields: {
    protocolVersion: { schema: { enum: [4, 5], description: 'MQTT protocol: 4 = MQTT 3.1.1, 5 = MQTT 5.0. Default: 4.' }, type: '`4` or `5`', default: '`4`', doc: '`4` = MQTT 3.1.1, `5` = MQTT 5.0.' },
    cleanSession: {
      schema: {
        type: 'boolean',
        description: 'Start a fresh session on every connect. Set false (with a stable client id) so QoS 1/2 messages queued while mqflow was down are delivered. Default: true.',
      },
      type: 'boolean',
      default: '`true`',
      doc: 'Start a fresh session on every connect. Set `false` (with a stable client id) so that QoS 1/2 messages queued while mqflow was down are delivered.',
    },
  },
  example: `connections:
  durable:
    url: mqtt://127.0.0.1:1883
    clientId: plant-gateway-01
    cleanSession: false
`,
  compile(value) {
    return { protocolVersion: (value.protocolVersion as 4 | 5 | undefined) ?? 4, cleanSession: (value.cleanSession as boolean | undefined) ?? true };
  },
};
