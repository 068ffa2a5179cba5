/**
 * Write batching (docs/architecture.md, invariant 26): the packets mqflow writes to a client's
 * socket during one turn of the event loop leave in one write when the turn ends. mqtt.js (through
 * mqtt-packet) corks the socket for the pieces of one packet and uncorks on the next tick, which
 * still costs one write per packet: holding an outer cork until `setImmediate` merges every
 * publish and acknowledgement of the turn. Order is what it was; nothing waits past the turn.
 */
import type { MqttClient } from 'mqtt';

interface Corkable {
  cork?: () => void;
  uncork?: () => void;
  writableCorked?: number;
  destroyed?: boolean;
}

const corked = new WeakSet<object>();

function uncork(stream: Corkable): void {
  corked.delete(stream);
  if (stream.destroyed !== true) stream.uncork!();
}

/** Call before writing to `client`: its writes until the end of this turn go out together. */
export function batchWrites(client: MqttClient): void {
  const stream = client.stream as Corkable | undefined;
  if (stream === undefined || corked.has(stream) || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
  corked.add(stream);
  stream.cork();
  setImmediate(uncork, stream);
}
