/**
 * A delivery's first payload, decoded by its trigger's codec (docs/codecs.md). Sparkplug B is
 * decoded with the session of its store, which keeps the edge nodes' alias tables across messages
 * and reloads (invariant 55); its reports are logged and its rebirth requests published here.
 */
import { IGNORED, readSparkplug, sparkplugSession, type SparkplugHooks } from '../codecs/sparkplug/session.js';
import type { Delivery, OutputTracker } from '../mqtt/message.js';
import { MessageFailure, type PublishRequest } from '../pipeline/execution.js';
import type { StateEnvironment } from '../state/message-state.js';
import { checkPayloadSize, decodePayload } from '../triggers/payload.js';
import type { Log } from '../util/log.js';
import type { Maybe } from '../util/maybe.js';
import type { JobTrigger } from './delivery-kinds.js';

export { IGNORED };

/** What decoding needs of its host. */
export interface DecodeHost {
  readonly state: StateEnvironment | undefined;
  readonly log: Log;
  publish(request: PublishRequest, via: string, tracker: OutputTracker): void;
}

/** A rebirth request is QoS 0 (as the specification sends commands): nothing waits for it. */
const UNTRACKED: OutputTracker = { outputHanded: () => undefined, outputSettled: () => undefined };

export function decodeDelivery(host: DecodeHost, trigger: JobTrigger, delivery: Delivery): Maybe<unknown> {
  const settings = trigger.sparkplug;
  if (settings === undefined) return decodePayload(delivery.payload, trigger);
  checkPayloadSize(delivery.payload, trigger.maxPayloadBytes);
  const store = host.state?.store(settings.store);
  if (store === undefined) throw new MessageFailure(`store "${settings.store}" (the Sparkplug alias tables) is not open here`, 'MQFLOW_STATE_UNAVAILABLE');
  const hooks: SparkplugHooks = {
    report: (event, node, detail) => host.log.warn({ event: 'sparkplug', kind: event, trigger: trigger.name, node }, `Sparkplug ${node}: ${detail}`),
    rebirth: (topic, payload) => {
      try {
        host.publish({ topic, payload, qos: 0, retain: false, decoder: readSparkplug }, trigger.connection ?? '', UNTRACKED);
      } catch (error) {
        host.log.warn({ event: 'sparkplug', kind: 'rebirth_not_sent', trigger: trigger.name, topic }, `Sparkplug rebirth request to ${topic} not sent: ${(error as Error).message}`);
      }
    },
  };
  return sparkplugSession(store).decode(delivery.payload, delivery.topic, settings, hooks, host.state!.clock.now());
}
