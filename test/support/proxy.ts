/**
 * A TCP proxy between MQTT clients and a broker that records the control packets going each way,
 * so a test can see what a client acknowledged and in which order (e.g. PUBACKs of a trigger
 * client). Bytes are forwarded unchanged; only MQTT 3.1.1 / 5 fixed headers, CONNECT client ids
 * and packet identifiers are decoded.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export type PacketType = 'connect' | 'connack' | 'publish' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'subscribe' | 'suback' | 'other';

export interface ProxiedPacket {
  /** Position among all packets the proxy saw, over every connection: a causal order. */
  readonly index: number;
  /** toBroker: sent by the client; toClient: sent by the broker. */
  readonly direction: 'toBroker' | 'toClient';
  readonly type: PacketType;
  readonly messageId?: number;
  readonly qos?: number;
  readonly topic?: string;
  readonly dup?: boolean;
  /** PUBLISH payload as text (MQTT 3.1.1 connections only: MQTT 5 properties are not skipped). */
  readonly payload?: string;
}

export interface ProxiedConnection {
  /** From the CONNECT packet; '' until it arrived. */
  clientId: string;
  readonly packets: ProxiedPacket[];
}

export interface MqttProxy {
  readonly url: string;
  readonly connections: ProxiedConnection[];
  /** Every connection (past and present) whose client id is `clientId`. */
  connectionsOf(clientId: string): ProxiedConnection[];
  /** Cuts every open connection (both sides, as a network failure would); new ones are still accepted. Returns how many were cut. */
  cut(): number;
  close(): Promise<void>;
}

const TYPES: Record<number, PacketType> = { 1: 'connect', 2: 'connack', 3: 'publish', 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp', 8: 'subscribe', 9: 'suback' };

/** Incremental parser of one direction of an MQTT byte stream. */
class PacketReader {
  #buffer = Buffer.alloc(0);

  constructor(private readonly onPacket: (type: number, flags: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#buffer.length < 2) return;
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      for (;;) {
        if (offset >= this.#buffer.length) return;
        const byte = this.#buffer[offset++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      if (this.#buffer.length < offset + length) return;
      const first = this.#buffer[0]!;
      const body = this.#buffer.subarray(offset, offset + length);
      this.#buffer = this.#buffer.subarray(offset + length);
      this.onPacket(first >> 4, first & 0x0f, Buffer.from(body));
    }
  }
}

let nextIndex = 0;

function decode(direction: ProxiedPacket['direction'], typeNumber: number, flags: number, body: Buffer, connection: ProxiedConnection): ProxiedPacket {
  const type = TYPES[typeNumber] ?? 'other';
  const index = nextIndex++;
  switch (type) {
    case 'connect': {
      const nameLength = body.readUInt16BE(0);
      const level = body[2 + nameLength]!;
      let at = 2 + nameLength + 1 + 1 + 2;
      if (level === 5) {
        // Properties: a variable byte integer length, then the properties.
        let length = 0;
        let multiplier = 1;
        for (;;) {
          const byte = body[at++]!;
          length += (byte & 0x7f) * multiplier;
          multiplier *= 128;
          if ((byte & 0x80) === 0) break;
        }
        at += length;
      }
      const idLength = body.readUInt16BE(at);
      connection.clientId = body.subarray(at + 2, at + 2 + idLength).toString('utf8');
      return { index, direction, type };
    }
    case 'publish': {
      const qos = (flags >> 1) & 3;
      const topicLength = body.readUInt16BE(0);
      const topic = body.subarray(2, 2 + topicLength).toString('utf8');
      const messageId = qos > 0 ? body.readUInt16BE(2 + topicLength) : undefined;
      const payload = body.subarray(2 + topicLength + (qos > 0 ? 2 : 0)).toString('utf8');
      return { index, direction, type, qos, topic, dup: (flags & 0x08) !== 0, payload, ...(messageId === undefined ? {} : { messageId }) };
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'subscribe':
    case 'suback':
      return { index, direction, type, messageId: body.readUInt16BE(0) };
    default:
      return { index, direction, type };
  }
}

/** Starts a proxy on a free loopback port that forwards every connection to `brokerUrl` (mqtt://host:port). */
export async function startProxy(brokerUrl: string): Promise<MqttProxy> {
  const target = new URL(brokerUrl);
  const connections: ProxiedConnection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const connection: ProxiedConnection = { clientId: '', packets: [] };
    connections.push(connection);
    const broker = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(broker);
    const toBroker = new PacketReader((type, flags, body) => connection.packets.push(decode('toBroker', type, flags, body, connection)));
    const toClient = new PacketReader((type, flags, body) => connection.packets.push(decode('toClient', type, flags, body, connection)));
    client.on('data', (chunk: Buffer) => {
      toBroker.push(chunk);
      broker.write(chunk);
    });
    broker.on('data', (chunk: Buffer) => {
      toClient.push(chunk);
      client.write(chunk);
    });
    const closeBoth = (): void => {
      client.destroy();
      broker.destroy();
      sockets.delete(client);
      sockets.delete(broker);
    };
    client.on('close', closeBoth);
    broker.on('close', closeBoth);
    client.on('error', closeBoth);
    broker.on('error', closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    connections,
    connectionsOf: (clientId) => connections.filter((c) => c.clientId === clientId),
    cut: () => {
      const open = [...sockets];
      for (const s of open) s.destroy();
      return open.length / 2;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
