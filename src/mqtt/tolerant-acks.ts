/**
 * Makes mqtt-packet accept the reason codes brokers really send in PUBACK and PUBREC. Mosquitto
 * answers an MQTT 5 publish over its `message_size_limit` with PUBACK 0x95 (Packet too large),
 * which the MQTT 5 table of PUBACK codes does not list; mqtt-packet then reports a parse error
 * and stops reading the connection, so no acknowledgement on it is ever processed again
 * (docs/architecture.md, invariant 29). Accepted, the code reaches mqtt.js as a negative
 * acknowledgement: the publish fails, its message goes to its error route, the connection lives.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** Failure codes a broker may put in PUBACK/PUBREC beyond MQTT 5's list (§3.4.2.1). */
const EXTRA_FAILURES: Readonly<Record<number, string>> = {
  0x95: 'Packet too large',
  0x96: 'Message rate too high',
  0x9a: 'Retain not supported',
  0x9b: 'QoS not supported',
};

try {
  const require = createRequire(import.meta.url);
  // The constants mqtt-packet's parser reads, whichever copy mqtt.js uses.
  const path = require.resolve('mqtt-packet/constants', { paths: [dirname(require.resolve('mqtt'))] });
  const constants = require(path) as { MQTT5_PUBACK_PUBREC_CODES?: Record<number, string> };
  if (constants.MQTT5_PUBACK_PUBREC_CODES !== undefined) {
    for (const [code, name] of Object.entries(EXTRA_FAILURES)) constants.MQTT5_PUBACK_PUBREC_CODES[Number(code)] ??= name;
  }
} catch {
  // A layout we do not recognise: a publish timeout still ends such a publish (invariant 29).
}
