/** Socket and reconnect behaviour mqtt.js has no option for. */
import type { MqttClient } from 'mqtt';

/** Exponential backoff with full jitter, from the connection's reconnectPeriod up to 30 s. */
export function reconnectDelay(baseMs: number, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}

/**
 * TCP no-delay on every (re)connection: MQTT packets are small and latency matters more than
 * coalescing; with Nagle on, a lone PUBACK can wait for the peer's delayed ACK (~40 ms). mqflow
 * batches its own writes per event-loop turn instead (write-batch.ts). WebSocket streams have no
 * such switch and are left as they are.
 */
export function useNoDelay(client: MqttClient): void {
  client.on('connect', () => {
    const stream = client.stream as { setNoDelay?: (noDelay: boolean) => unknown } | undefined;
    if (typeof stream?.setNoDelay === 'function') stream.setNoDelay(true);
  });
}

/**
 * A packet the client cannot parse (or a broker breaking the protocol) leaves mqtt.js's parser
 * unable to read the connection: no acknowledgement on it is processed again, while it still
 * looks connected. Such an error (one without a socket error code) closes the network connection,
 * which reconnects (docs/architecture.md, invariant 29).
 */
export function closeOnProtocolError(client: MqttClient): void {
  client.on('error', (error) => {
    const code = (error as { code?: unknown }).code;
    if (code === undefined && client.connected) (client.stream as { destroy?: () => void } | undefined)?.destroy?.();
  });
}

/**
 * Disconnects: cleanly (DISCONNECT after what is in flight) unless `force`, and forcibly anyway
 * after `graceMs`, so a broker gone or frozen never holds a shutdown (invariant 30). A clean end
 * only half-closes the socket, which stays open (and keeps the process alive) while a frozen
 * broker never closes its side; and mqtt.js ignores a second end() once it is disconnecting. So
 * the fallback destroys the socket itself. `reasonCode` goes in the DISCONNECT (MQTT 5 only).
 */
export function endClient(client: MqttClient, force: boolean, graceMs: number, reasonCode?: number): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      (client.stream as { destroy?: () => void } | undefined)?.destroy?.();
      finish();
    }, force ? 0 : graceMs);
    // MQTT 5 DISCONNECT reason code (0x04: publish the will, invariant 60).
    client.end(force, reasonCode === undefined ? {} : { reasonCode }, finish);
  });
}
