/** offlineQueueSize: how many publishes may wait while the connection is down. */
import type { DefinitionOption } from '../component/option.js';

export const offlineQueue: DefinitionOption<{ offlineQueueSize: number }> = {
  name: 'offlineQueueSize',
  fields: {
    offlineQueueSize: {
      schema: {
        type: 'integer',
        minimum: 0,
        maximum: 1000000,
        description: 'Publishes that may wait while the connection is down; beyond this the publish fails and its message goes to the error route. Default: 1000.',
      },
      type: 'integer, 0–1000000',
      default: '`1000`',
      doc: 'Publishes that may wait while the connection is down; beyond it a publish fails (`MQFLOW_PUBLISH_QUEUE_FULL`) and its message goes to the error route.',
    },
  },
  example: `connections:
  cloud-uplink:
    url: mqtts://cloud-broker.example.com:8883
    offlineQueueSize: 10000
`,
  compile(value) {
    return { offlineQueueSize: (value.offlineQueueSize as number | undefined) ?? 1000 };
  },
};
