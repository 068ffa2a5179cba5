/** The size of the PUBLISH packet a message becomes (MQTT §3.3), without building it. */
import type { OutgoingMessage } from './message.js';

const varintLength = (n: number): number => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);

function propertiesLength(properties: OutgoingMessage['properties']): number {
  if (properties === undefined) return 0;
  let length = 0;
  if (typeof properties.contentType === 'string') length += 3 + Buffer.byteLength(properties.contentType);
  for (const [name, value] of Object.entries(properties.userProperties ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) length += 5 + Buffer.byteLength(name) + Buffer.byteLength(String(v));
  }
  return length;
}

export function publishPacketSize(message: OutgoingMessage, v5: boolean): number {
  const payload = typeof message.payload === 'string' ? Buffer.byteLength(message.payload) : message.payload.length;
  const properties = v5 ? propertiesLength(message.properties) : 0;
  const remaining = 2 + Buffer.byteLength(message.topic) + (message.qos > 0 ? 2 : 0) + (v5 ? varintLength(properties) + properties : 0) + payload;
  return 1 + varintLength(remaining) + remaining;
}
