/**
 * Fault: the downstream stalls. mqflow publishes its outputs through a connection whose link stops
 * reading (a TCP forwarder paused for 3 s) while 20,000 QoS 1 messages arrive. The trigger holds at
 * most queueSize messages, stops reading, and the broker keeps the rest (backpressure reaches the
 * broker); memory stays bounded; when the link resumes, every message comes out
 * (docs/reliability.md).
 */
import { readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';
import { SeqCounter } from '../support/stream.js';

const TOTAL = 20_000;
const QUEUE_SIZE = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe.runIf(RUN_MOSQUITTO)('fault: slow downstream', () => {
  let broker: Mosquitto;
  let link: Server;
  let linkPort: number;
  const fromMqflow = new Set<Socket>();
  let dir: string;
  let mq: MqflowProcess;

  beforeAll(async () => {
    broker = await startMosquitto();
    link = createServer((socket) => {
      const upstream = connect(broker.port, '127.0.0.1');
      fromMqflow.add(socket);
      socket.pipe(upstream).pipe(socket);
      socket.on('close', () => fromMqflow.delete(socket));
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => link.listen(0, '127.0.0.1', () => resolve()));
    linkPort = (link.address() as { port: number }).port;
    dir = flowFolder({
      'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
  downstream:
    url: mqtt://127.0.0.1:${linkPort}
triggers:
  work-in:
    connection: plant
    topic: work/in
    qos: 1
    service: work
    processing: concurrent
    maxConcurrency: 32
    queueSize: ${QUEUE_SIZE}
services:
  work:
    steps:
      - publish:
          connection: downstream
          topic: work/out
          qos: 1
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url }, ['--log-level', 'info']);
    await mq.ready(['work-in']);
    await mq.waitFor((l) => l.event === 'connected' && l.connection === 'downstream');
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await new Promise((r) => link?.close(r));
    await broker?.stop();
  }, 30_000);

  it(`holds at most queueSize messages while the downstream stalls, then delivers all ${TOTAL}`, async () => {
    const admin = await mq.waitFor((l) => l.event === 'admin');
    const status = async (): Promise<{ received: number; inFlight: number; queueDepth: number }> => {
      const s = (await (await fetch(`${admin.url as string}/api/status`)).json()) as { triggers: { counters: { received: number }; inFlight: number; queueDepth: number }[] };
      return { received: s.triggers[0]!.counters.received, inFlight: s.triggers[0]!.inFlight, queueDepth: s.triggers[0]!.queueDepth };
    };
    const sink: MqttClient = await connectAsync(broker.url, { clientId: 'fault-slow-sink' });
    const load: MqttClient = await connectAsync(broker.url, { clientId: 'fault-slow-load' });
    try {
      const out = new SeqCounter(TOTAL);
      sink.on('message', (_t, p) => out.add(Number(p.toString())));
      await sink.subscribeAsync('work/out', { qos: 1 });
      const rssBefore = rssMb(mq.pid);

      for (const s of fromMqflow) s.pause(); // the downstream stops reading: publishes are not acknowledged
      for (let i = 1; i <= TOTAL; i++) load.publish('work/in', String(i), { qos: 1 });
      await sleep(3000);
      const during = await status();
      const rssDuring = rssMb(mq.pid);
      expect(during.inFlight + during.queueDepth).toBeLessThanOrEqual(QUEUE_SIZE);
      // Backpressure reached the broker: mqflow took about queueSize messages, not 20,000.
      expect(during.received).toBeLessThanOrEqual(QUEUE_SIZE + 1);

      for (const s of fromMqflow) s.resume();
      await out.complete(40_000);
      console.log(`slow downstream: ${TOTAL} sent; during a 3 s stall mqflow held ${during.inFlight} in flight + ${during.queueDepth} queued, had received ${during.received}; RSS ${rssBefore.toFixed(1)} → ${rssDuring.toFixed(1)} MB; after resuming ${out.distinct} delivered, ${out.missing} missing`);
      expect(out.missing).toBe(0);
      expect(rssDuring - rssBefore).toBeLessThan(50);
    } finally {
      await sink.endAsync();
      await load.endAsync();
    }
  }, 90_000);
});
