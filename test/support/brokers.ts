/** The two brokers end-to-end tests run against: the embedded one (in-process) and a real Mosquitto. */
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { startMosquitto } from './mosquitto.js';

export interface TestBroker {
  readonly name: string;
  readonly url: string;
  stop(): Promise<void>;
}

export const BROKERS: readonly { name: string; start: () => Promise<TestBroker> }[] = [
  {
    name: 'embedded broker',
    start: async () => {
      const broker = await startEmbeddedBroker('127.0.0.1', 0);
      return { name: 'embedded', url: broker.url, stop: () => broker.close() };
    },
  },
  {
    name: 'mosquitto',
    start: async () => {
      const m = await startMosquitto();
      return { name: 'mosquitto', url: m.url, stop: () => m.stop() };
    },
  },
];
