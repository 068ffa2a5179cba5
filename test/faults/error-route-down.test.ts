/**
 * Fault: the broker of a trigger's error route is unreachable while messages fail. The dead
 * letters wait in the error route connection's offline queue, the failed messages stay
 * unacknowledged (so the trigger holds at most maxConcurrency of them and the rest wait at the
 * broker), the good messages of another trigger keep flowing, and once the error route's broker
 * is reachable every dead letter arrives (docs/reliability.md).
 */
import { rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { freePort } from '../support/ports.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const FAILING = 200;
const GOOD = 200;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(RUN_MOSQUITTO)('fault: the error route broker is down', () => {
  let plant: Mosquitto;
  let dlq: Mosquitto;
  let dlqPort: number;
  let link: Server | undefined;
  let dir: string;
  let mq: MqflowProcess;

  beforeAll(async () => {
    plant = await startMosquitto();
    dlq = await startMosquitto();
    // mqflow reaches the dead-letter broker through this port, where nothing listens until the test opens the link.
    dlqPort = await freePort();
    dir = flowFolder({
      'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
  dlq:
    url: mqtt://127.0.0.1:${dlqPort}
    reconnectPeriod: 100ms
triggers:
  bad-in:
    connection: plant
    topic: bad/in
    qos: 1
    service: explode
    processing: concurrent
    maxConcurrency: 16
    onError:
      publish:
        connection: dlq
        topic: dead/letters
  good-in:
    connection: plant
    topic: good/in
    qos: 1
    service: pass
services:
  explode:
    steps:
      - transform: '$error("boom " & $string(seq))'
  pass:
    steps:
      - publish:
          topic: good/out
`,
    });
    mq = startMqflow(dir, { MQTT_URL: plant.url }, ['--log-level', 'info']);
    await mq.ready(['bad-in', 'good-in']);
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await new Promise((r) => (link === undefined ? r(undefined) : link.close(r)));
    await dlq?.stop();
    await plant?.stop();
  }, 30_000);

  it(`holds dead letters while their broker is unreachable, delivers all ${FAILING} once it is reachable; other triggers keep flowing`, async () => {
    const client: MqttClient = await connectAsync(plant.url, { clientId: 'fault-dlq-client' });
    const reader: MqttClient = await connectAsync(dlq.url, { clientId: 'fault-dlq-reader' });
    try {
      const letters = new Map<number, string>();
      reader.on('message', (_t, p) => {
        const report = JSON.parse(p.toString()) as { error: { message: string }; message: { payload: { seq: number } } };
        letters.set(report.message.payload.seq, report.error.message);
      });
      await reader.subscribeAsync('dead/letters', { qos: 1 });
      const good = new Set<number>();
      client.on('message', (_t, p) => good.add(Number(p.toString())));
      await client.subscribeAsync('good/out', { qos: 1 });
      for (let i = 1; i <= FAILING; i++) await client.publishAsync('bad/in', JSON.stringify({ seq: i }), { qos: 1 });
      for (let i = 1; i <= GOOD; i++) await client.publishAsync('good/in', String(i), { qos: 1 });
      for (let i = 0; i < 200 && good.size < GOOD; i++) await sleep(25);
      expect(good.size).toBe(GOOD);
      // Failed but not done: each holds its place until its dead letter is sent, so the trigger
      // takes no more than maxConcurrency (16); the others wait at the broker.
      await sleep(300);
      expect(mq.lines.filter((l) => l.event === 'message-failed' && l.trigger === 'bad-in')).toHaveLength(16);
      expect(letters.size).toBe(0);

      link = createServer((socket) => {
        const upstream = connect(dlq.port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => link!.listen(dlqPort, '127.0.0.1', () => resolve()));
      for (let i = 0; i < 400 && letters.size < FAILING; i++) await sleep(25);
      console.log(`error route down: ${FAILING} failing messages (16 held while the route was down), ${letters.size} dead letters delivered once it was reachable, ${good.size}/${GOOD} good messages meanwhile`);
      expect(letters.size).toBe(FAILING);
      expect(letters.get(7)).toContain('boom 7');
      expect(mq.lines.filter((l) => l.event === 'message-failed' && l.trigger === 'bad-in')).toHaveLength(FAILING);
    } finally {
      await client.endAsync();
      await reader.endAsync();
    }
  }, 60_000);
});
