/** maxPacketSize and publishTimeout: a publish always ends (docs/architecture.md, invariant 29). */
import type { DefinitionOption } from '../component/option.js';
import { durationMs, durationSchema } from '../util/duration.js';
import { formatPath } from '../util/path.js';

export interface PublishLimits {
  /** The largest packet the broker takes, when the flow says (MQTT 5 brokers also say so in CONNACK). */
  readonly maxPacketSize?: number;
  /** How long a QoS 1/2 publish may wait for its acknowledgement while connected. */
  readonly publishTimeoutMs: number;
}

/** MQTT's own bound on a packet: 256 MiB − 1 (§2.2.3). */
export const MQTT_MAX_PACKET_SIZE = 268_435_455;

export const publishLimits: DefinitionOption<PublishLimits> = {
  name: 'maxPacketSize and publishTimeout',
  fields: {
    maxPacketSize: {
      schema: {
        type: 'integer',
        minimum: 64,
        maximum: MQTT_MAX_PACKET_SIZE,
        description: 'The largest packet, in bytes, the broker accepts (Mosquitto: max_packet_size or message_size_limit). A publish larger than this, or than the Maximum Packet Size an MQTT 5 broker announces, fails before it is sent. Default: the broker\'s, else MQTT\'s own (256 MiB).',
      },
      type: 'integer, 64–268435455',
      default: 'the broker\'s (MQTT 5), else none',
      doc: 'The largest packet, in bytes, the broker accepts. A larger publish fails before it is sent (`MQFLOW_PUBLISH_TOO_LARGE`) and its message goes to the error route; the connection is untouched. An MQTT 5 broker that announces a Maximum Packet Size is obeyed without it.',
    },
    publishTimeout: {
      schema: durationSchema('How long a QoS 1/2 publish may wait for the broker\'s acknowledgement while connected; then it fails and its message goes to the error route. Default: 30s.', ['30s']),
      type: 'duration',
      default: '`30s`',
      doc: 'How long a QoS 1/2 publish may wait for the broker\'s acknowledgement while connected (while disconnected, publishes wait in the [offline queue](#offlinequeuesize)). Then it fails (`MQFLOW_PUBLISH_TIMEOUT`), is not sent again, and its message goes to the error route.',
    },
  },
  example: `connections:
  size-limited:
    url: mqtt://127.0.0.1:1883
    maxPacketSize: 1048576
    publishTimeout: 10s
`,
  compile(value, path, c) {
    if (c.brokenBelow([...path, 'publishTimeout'])) return undefined;
    const timeout = durationMs((value.publishTimeout as number | string | undefined) ?? 30_000);
    if (timeout < 100) {
      c.problem([...path, 'publishTimeout'], 'MQFLOW_PUBLISH_TIMEOUT', `${formatPath([...path, 'publishTimeout'])} must be at least 100ms (got ${timeout} ms)`, 'a broker needs a moment to acknowledge; 30s is the default');
      return undefined;
    }
    return { ...(value.maxPacketSize === undefined ? {} : { maxPacketSize: value.maxPacketSize as number }), publishTimeoutMs: timeout };
  },
};
