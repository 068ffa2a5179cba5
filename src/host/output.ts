/**
 * Where a message host's publishes go (docs/architecture.md, invariant 25): the engine's
 * connections, or an in-memory capture (`mqflow test`, `mqflow invoke`'s dry run). The message is
 * complete when it reaches the output: what the capture holds is what the broker would receive.
 */
import type { OutgoingMessage, OutputTracker } from '../mqtt/message.js';
import { PublishError } from '../mqtt/publisher.js';
import type { ReplyMessage } from '../mqtt/request-inbox.js';

export interface Output {
  /**
   * Hands `message` to `connection` and returns at once; `tracker` is told when it settles. Throws
   * a PublishError (telling the tracker nothing) when it cannot be taken: no such connection
   * running, stopped, offline queue full.
   */
  send(connection: string, message: OutgoingMessage, tracker: OutputTracker): void;
  /**
   * MQTT 5 request/response (a `request` step): sends `message` as send() does, with a response
   * topic and correlation data, and resolves with the reply (RequestTimeout after `timeoutMs`).
   */
  request(connection: string, message: OutgoingMessage, timeoutMs: number, tracker: OutputTracker): Promise<ReplyMessage>;
}

export interface CapturedMessage {
  readonly connection: string;
  readonly message: OutgoingMessage;
}

/** Keeps every message handed to it, acknowledged at once; refuses connections it does not know. */
export class CaptureOutput implements Output {
  readonly sent: CapturedMessage[] = [];

  constructor(
    private readonly connections: ReadonlySet<string>,
    /** Answers requests (`mqflow test` stubs); without it a request fails. */
    private readonly replies?: (connection: string, message: OutgoingMessage) => Promise<ReplyMessage>,
  ) {}

  request(connection: string, message: OutgoingMessage, _timeoutMs: number, tracker: OutputTracker): Promise<ReplyMessage> {
    // The request is published, as any message: the capture keeps it.
    this.send(connection, message, tracker);
    return this.replies === undefined ? Promise.reject(new PublishError(`no reply: nothing answers requests here (request to ${message.topic})`, 'MQFLOW_REQUEST_NO_REPLY')) : this.replies(connection, message);
  }

  send(connection: string, message: OutgoingMessage, tracker: OutputTracker): void {
    if (!this.connections.has(connection)) throw new PublishError(`connection ${connection} is not running (disabled or not defined)`, 'MQFLOW_PUBLISH_NO_CONNECTION');
    this.sent.push({ connection, message });
    tracker.outputHanded();
    tracker.outputSettled(undefined);
  }
}
