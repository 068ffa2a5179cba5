/** The two brokers end-to-end tests run against: the embedded one (in-process) and a real Mosquitto. */
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { mosquittoAvailable, startMosquitto } from './mosquitto.js';

/**
 * Whether Mosquitto tests run: always under CI (a missing broker is then a failure), elsewhere only
 * when it is installed, so `npm test` works on a machine with only Node.js.
 */
export const RUN_MOSQUITTO = process.env.CI === 'true' || mosquittoAvailable();
if (!RUN_MOSQUITTO) console.warn('mosquitto is not installed: the Mosquitto end-to-end tests are skipped (apt-get install mosquitto)');

export interface TestBroker {
  readonly name: string;
  readonly url: string;
  stop(): Promise<void>;
}

const ALL_BROKERS: readonly { name: string; start: () => Promise<TestBroker> }[] = [
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

export const BROKERS = ALL_BROKERS.filter((b) => b.name !== 'mosquitto' || RUN_MOSQUITTO);
