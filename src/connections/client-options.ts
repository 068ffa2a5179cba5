/** mqtt.js client options for a connection of the flow model, and the socket settings mqtt.js has no option for. */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Connection, MessageTemplate } from '../flow/model.js';

/** The default client id base: stable across restarts, so persistent sessions survive them. */
export function baseClientId(connection: Connection, instance: string | undefined): string {
  const base = connection.clientId ?? `mqflow-${connection.name}`;
  return instance === undefined ? base : `${base}-${instance}`;
}

export interface ClientRole {
  readonly clientId: string;
  /** MQTT 5 Receive Maximum: how many QoS 1/2 messages the broker may have in flight to us. */
  readonly receiveMaximum?: number;
  /** Only the publishing client carries the connection's will message. */
  readonly will?: MessageTemplate;
}

const noLog = (): void => {};

export function clientOptions(connection: Connection, role: ClientRole): IClientOptions {
  const [first, ...rest] = connection.urls.map((u) => new URL(u));
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
  };
  if (connection.protocolVersion === 5) {
    options.properties = {
      ...(role.receiveMaximum === undefined ? {} : { receiveMaximum: role.receiveMaximum }),
      // A persistent session must outlive the network connection on MQTT 5.
      ...(connection.cleanSession ? {} : { sessionExpiryInterval: 0xffffffff }),
    };
  }
  if (connection.tls !== undefined) {
    const tls = connection.tls;
    Object.assign(options, {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key.reveal() }),
      ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase.reveal() }),
      ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    });
  }
  if (role.will !== undefined) {
    options.will = { topic: role.will.topic, payload: Buffer.from(role.will.payload), qos: role.will.qos, retain: role.will.retain };
  }
  if (first !== undefined) {
    Object.assign(options, endpoint(first));
    if (rest.length > 0) options.servers = [first, ...rest].map((u) => endpoint(u));
  }
  return options;
}

function endpoint(url: URL): { host: string; port: number; protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss'; path?: string } {
  const protocol = url.protocol.slice(0, -1) as 'mqtt' | 'mqtts' | 'ws' | 'wss';
  const defaults = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? defaults[protocol] : Number(url.port),
    protocol,
    ...(protocol === 'ws' || protocol === 'wss' ? { path: url.pathname === '' ? '/mqtt' : url.pathname } : {}),
  };
}

/** Exponential backoff with full jitter, from the connection's reconnectPeriod up to 30 s. */
export function reconnectDelay(baseMs: number, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}

/**
 * TCP no-delay on every (re)connection: MQTT packets are small and latency matters more than
 * coalescing; with Nagle on, a lone PUBACK can wait for the peer's delayed ACK (~40 ms).
 * WebSocket streams have no such switch and are left as they are.
 */
export function useNoDelay(client: MqttClient): void {
  client.on('connect', () => {
    const stream = client.stream as { setNoDelay?: (noDelay: boolean) => unknown } | undefined;
    if (typeof stream?.setNoDelay === 'function') stream.setNoDelay(true);
  });
}
