/**
 * Publishes made while their connection is down wait in a bounded queue; beyond the bound the
 * publish fails and its message goes to the error route — never a silent drop.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/broker/embedded.js';
import { TestClient } from '../support/mqtt.js';
import { freePort } from '../support/ports.js';
import { flowFolder, startMqflow } from '../support/runtime.js';

describe('publishing through a connection that is down', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('queues up to offlineQueueSize publishes, fails the rest into the error route, and sends the queued ones on reconnect', async () => {
    const live: EmbeddedBroker = await startEmbeddedBroker('127.0.0.1', 0);
    cleanup.push(() => live.close());
    const downPort = await freePort();
    const dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: ${live.url}
    reconnectPeriod: 100ms
  cloud:
    url: mqtt://127.0.0.1:${downPort}
    reconnectPeriod: 100ms
    offlineQueueSize: 2
triggers:
  forward:
    connection: plant
    topic: in/readings
    processing: concurrent
    maxConcurrency: 10
    service: to-cloud
    onError:
      publish: { connection: plant, topic: dead/letters }
services:
  to-cloud:
    steps:
      - publish: { connection: cloud, topic: cloud/readings, qos: 1 }
`,
    });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const mqflow = startMqflow(dir, {});
    cleanup.push(async () => {
      mqflow.kill('SIGKILL');
      await mqflow.exited;
    });
    await mqflow.ready(['forward']);
    const plant = await TestClient.connect(live.url);
    cleanup.push(() => plant.close());
    await plant.subscribe('dead/letters');

    for (let seq = 0; seq < 5; seq++) await plant.publish('in/readings', { seq });
    await plant.waitFor(3);
    const dead = plant.json('dead/letters') as { error: { code: string; message: string }; message: { payload: { seq: number } } }[];
    expect(dead.map((d) => d.error.code)).toEqual(['MQFLOW_PUBLISH_QUEUE_FULL', 'MQFLOW_PUBLISH_QUEUE_FULL', 'MQFLOW_PUBLISH_QUEUE_FULL']);
    expect(dead[0]!.error.message).toBe('services.to-cloud.steps[0]: connection cloud is down and 2 publishes already wait (offlineQueueSize)');
    expect(dead[0]!.error).toMatchObject({ step: 'services.to-cloud.steps[0]' });
    const failed = dead.map((d) => d.message.payload.seq);

    // The cloud broker comes up, already listening for the readings in-process (no race with the
    // reconnect): the two queued publishes are delivered.
    const cloud = await Aedes.createBroker();
    const delivered: number[] = [];
    const both = new Promise<void>((resolve) => {
      cloud.subscribe('cloud/readings', (packet, done) => {
        delivered.push((JSON.parse(packet.payload.toString()) as { seq: number }).seq);
        if (delivered.length === 2) resolve();
        done();
      }, () => undefined);
    });
    const server = createServer((socket) => cloud.handle(socket));
    await new Promise<void>((resolve) => server.listen(downPort, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => {
      cloud.close();
      server.close(() => resolve());
    }));
    await both;
    expect([...delivered, ...failed].sort()).toEqual([0, 1, 2, 3, 4]);
  }, 60_000);
});
