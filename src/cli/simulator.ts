/** The sample publisher of `mqflow dev --simulate FILE`: publishes the file's messages periodically, so the examples show traffic. */
import { readFileSync } from 'node:fs';
import { connect, type MqttClient } from 'mqtt';
import { parse } from 'yaml';
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
    spec = parse(readFileSync(file, 'utf8')) as SimulationFile;
  } catch (error) {
    throw new UsageError(`--simulate: cannot read ${file}: ${(error as Error).message}`);
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
