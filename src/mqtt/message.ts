/** Messages as the MQTT clients take and give them. */
import type { IClientPublishOptions, IPublishPacket } from 'mqtt';

export type QoS = 0 | 1 | 2;

/** A message to publish, exactly as it is handed to a client: what the broker receives. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly qos: QoS;
  readonly retain: boolean;
  /** MQTT 5 properties; absent on MQTT 3.1.1 connections. */
  readonly properties?: IClientPublishOptions['properties'];
  /** How to read back what a codec encoded into `payload` (not sent: `mqflow test` compares and shows payloads decoded). */
  readonly decoder?: (payload: Buffer) => unknown;
}

/** Told when an output handed to a client settles: acknowledged (QoS 1/2) or written (QoS 0), or failed. */
export interface OutputTracker {
  /** Called once for every output, when it is handed. */
  outputHanded(): void;
  /** Called once for every output handed: without an error when it is acknowledged or written. */
  outputSettled(error: Error | undefined): void;
  /**
   * The message's remaining steps wait for time to pass (a throttle keeping the latest message):
   * a serial trigger may start the next message meanwhile.
   */
  stepsDetached?(): void;
  /** A window holds (+1) or let go of (-1) one of the message's outputs: a wait that is no stall. */
  heldByWindow?(delta: 1 | -1): void;
}

/** A received message, handed to a trigger. */
export interface Delivery {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  readonly messageId: number | undefined;
  readonly properties: IPublishPacket['properties'];
  /** Date.now() when the message arrived. */
  readonly receivedAt: number;
  /** Marks the message done: its acknowledgement goes out when every earlier message is done too. */
  complete(): void;
  /**
   * The trigger will not finish this message: it is never acknowledged, nor is anything after it
   * on its connection, so the broker keeps it (and redelivers it, when it keeps the session).
   */
  abandon(): void;
  /** The network connection the message came on is gone: its acknowledgement can never be sent. */
  readonly connectionLost: boolean;
}
