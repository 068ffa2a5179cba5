/** The sample publisher of `mqflow dev --simulate FILE`: publishes the file's messages periodically, so the examples show traffic. */
import { connect, type MqttClient } from 'mqtt';
import { parse } from 'yaml';
import { FileLimitError, MAX_FILE_BYTES, readTextFileWithin } from '../util/bounded-read.js';
import type { Log } from '../util/log.js';
import { createJsonataEngine } from '../expr/jsonata-engine.js';
import { durationMs } from '../util/duration.js';
import { UsageError } from './io.js';

interface SimulationFile {
  every?: string | number;
  messages?: { topic?: unknown; payload?: unknown }[];
}

export interface Simulator {
  stop(): Promise<void>;
}

export function startSimulator(file: string, brokerUrl: string, log: Log): Simulator {
  let spec: SimulationFile;
  try {
    spec = parse(readTextFileWithin(file, MAX_FILE_BYTES)) as SimulationFile;
  } catch (error) {
    const reason = error instanceof FileLimitError ? error.reason : (error as Error).message;
    throw new UsageError(`--simulate: cannot read ${file}: ${reason}`);
  }
  const engine = createJsonataEngine({ timeoutMs: 1000 });
  const messages = (spec.messages ?? []).map((m, i) => {
    if (typeof m.topic !== 'string' || typeof m.payload !== 'string') throw new UsageError(`--simulate: ${file}: messages[${i}] needs a topic and a payload expression`);
    return { topic: m.topic, payload: engine.compile(m.payload) };
  });
  const every = durationMs(spec.every ?? 1000);
  const client: MqttClient = connect(brokerUrl, { clientId: 'mqflow-simulator' });
  const timer = setInterval(() => {
    for (const m of messages) {
      void m.payload.evaluate({}).then((value) => {
        const payload = typeof value === 'string' && !m.payload.source.trim().startsWith('{') ? value : JSON.stringify(value);
        client.publish(m.topic, payload, { qos: 1 });
        log.debug({ event: 'simulated', topic: m.topic }, `simulator → ${m.topic} ${payload}`);
      });
    }
  }, every);
  log.info({ event: 'simulator', file, every, messages: messages.length }, `simulator publishing ${messages.length} messages every ${every} ms from ${file}`);
  return {
    stop: async () => {
      clearInterval(timer);
      await client.endAsync();
    },
  };
}
