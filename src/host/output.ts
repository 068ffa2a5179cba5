/**
 * Where a message host's publishes go (docs/architecture.md, invariant 25): the engine's
 * connections, or an in-memory capture (`mqflow test`, `mqflow invoke`'s dry run). The message is
 * complete when it reaches the output: what the capture holds is what the broker would receive.
 */
import type { OutgoingMessage, OutputTracker } from '../mqtt/message.js';
import { PublishError } from '../mqtt/publisher.js';

export interface Output {
  /**
   * Hands `message` to `connection` and returns at once; `tracker` is told when it settles. Throws
   * a PublishError (telling the tracker nothing) when it cannot be taken: no such connection
   * running, stopped, offline queue full.
   */
  send(connection: string, message: OutgoingMessage, tracker: OutputTracker): void;
}

export interface CapturedMessage {
  readonly connection: string;
  readonly message: OutgoingMessage;
}

/** Keeps every message handed to it, acknowledged at once; refuses connections it does not know. */
export class CaptureOutput implements Output {
  readonly sent: CapturedMessage[] = [];

  constructor(private readonly connections: ReadonlySet<string>) {}

  send(connection: string, message: OutgoingMessage, tracker: OutputTracker): void {
    if (!this.connections.has(connection)) throw new PublishError(`connection ${connection} is not running (disabled or not defined)`, 'MQFLOW_PUBLISH_NO_CONNECTION');
    this.sent.push({ connection, message });
    tracker.outputHanded();
    tracker.outputSettled(undefined);
  }
}
