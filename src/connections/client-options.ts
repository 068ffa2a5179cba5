/** mqtt.js client options for a connection of the flow model: each option's runtime part, put together. */
import type { IClientOptions } from 'mqtt';
import type { MessageTemplate } from './lifecycle.js';
import type { Identity } from './identity.js';
import type { SessionSettings } from './session.js';
import type { Timing } from './timing.js';
import { tlsClientOptions, type TlsOptions } from './tls.js';
import { endpointOptions } from './url.js';

export { baseClientId } from './identity.js';

/** What the client options are made from: a compiled connection. */
export interface ClientSettings extends Identity, SessionSettings, Timing {
  readonly urls: readonly string[];
  readonly tls?: TlsOptions;
}

export interface ClientRole {
  readonly clientId: string;
  /** MQTT 5 Receive Maximum: how many QoS 1/2 messages the broker may have in flight to us. */
  readonly receiveMaximum?: number;
  /** Only the publishing client carries the connection's will message. */
  readonly will?: MessageTemplate;
}

const noLog = (): void => {};

export function clientOptions(connection: ClientSettings, role: ClientRole): IClientOptions {
  const options: IClientOptions = {
    clientId: role.clientId,
    protocolVersion: connection.protocolVersion,
    clean: connection.cleanSession,
    keepalive: connection.keepaliveSeconds,
    connectTimeout: connection.connectTimeoutMs,
    reconnectPeriod: connection.reconnectPeriodMs,
    // mqflow resubscribes itself after a reconnect, so it knows when each subscription was granted.
    resubscribe: false,
    // A refused CONNACK (bad credentials, server unavailable during a restart) is retried like any
    // other failure, with backoff; mqtt.js would otherwise stop reconnecting for good.
    reconnectOnConnackError: true,
    queueQoSZero: true,
    // Hot path: mqtt.js reschedules its ping timer on every packet and calls `debug` dozens of
    // times per message (together ~5 % of a busy trigger's CPU). Pings then go out every
    // keepalive period whatever the traffic, which the protocol allows; DEBUG=mqttjs* still works.
    reschedulePings: false,
    ...(process.env.DEBUG === undefined ? { log: noLog } : {}),
    ...(connection.username === undefined ? {} : { username: connection.username.reveal() }),
    ...(connection.password === undefined ? {} : { password: connection.password.reveal() }),
    ...tlsClientOptions(connection.tls),
    ...endpointOptions(connection.urls),
  };
  if (connection.protocolVersion === 5) {
    options.properties = {
      ...(role.receiveMaximum === undefined ? {} : { receiveMaximum: role.receiveMaximum }),
      // A persistent session must outlive the network connection on MQTT 5.
      ...(connection.cleanSession ? {} : { sessionExpiryInterval: 0xffffffff }),
    };
  }
  if (role.will !== undefined) {
    options.will = { topic: role.will.topic, payload: Buffer.from(role.will.payload), qos: role.will.qos, retain: role.will.retain };
  }
  return options;
}
