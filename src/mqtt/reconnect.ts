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
