/** ack and queueSize: when a message is acknowledged, and how many the trigger holds at once. */
import type { DefinitionOption } from '../component/option.js';

export type AckMode = 'afterProcessing' | 'onReceipt';

const DEFAULT_QUEUE_SIZE = 100;

export const delivery: DefinitionOption<{ ack: AckMode; queueSize: number }> = {
  name: 'ack and queueSize',
  fields: {
    ack: {
      schema: {
        enum: ['afterProcessing', 'onReceipt'],
        description: 'When a QoS 1/2 message is acknowledged: afterProcessing (its service finished and its publishes were acknowledged: at-least-once) or onReceipt (at once: faster, but a crash loses messages in flight). Default: afterProcessing.',
      },
      type: '`afterProcessing`, `onReceipt`',
      default: '`afterProcessing`',
      doc: 'When a QoS 1/2 message is acknowledged: once it is done (at-least-once), or on arrival (faster; a crash loses the messages in flight).',
    },
    queueSize: {
      schema: {
        type: 'integer',
        minimum: 1,
        maximum: 65535,
        description: 'Messages the trigger holds at once (waiting, processing, or waiting for their publishes to be acknowledged); when full, mqflow stops reading and the broker holds the rest. Default: 100.',
      },
      type: 'integer, 1–65535',
      default: '`100`',
      doc: 'Messages the trigger holds at once (waiting, processing, or waiting for their publishes to be acknowledged); when full, mqflow stops reading and the broker holds the rest.',
    },
  },
  example: `triggers:
  telemetry-fast:
    connection: plant
    topic: plant/+/sensors/+/temperature
    ack: onReceipt
    service: to-celsius
`,
  compile(value) {
    return { ack: (value.ack as AckMode | undefined) ?? 'afterProcessing', queueSize: (value.queueSize as number | undefined) ?? DEFAULT_QUEUE_SIZE };
  },
};
