/**
 * Scale-out with shared subscriptions (docs/scaling.md): three mqflow replicas run the same flows
 * with `share: workers` against Mosquitto; 30,000 QoS 1 messages go in, one replica is killed
 * (SIGKILL) mid-stream and restarted. Every message is processed at least once, and every replica
 * took a share of the load.
 */
import { rmSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';
import { publishPaced, SeqCounter } from '../support/stream.js';

const TOTAL = 30_000;
const RATE = 3000; // messages per second
const MOSQUITTO_MAX_INFLIGHT = 20; // max_inflight_messages, Mosquitto's default

const FLOWS = {
  'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 200ms
triggers:
  work-in:
    connection: plant
    topic: work/+
    share: workers
    qos: 1
    service: work
    processing: concurrent
    maxConcurrency: 16
services:
  work:
    steps:
      - transform: '{"seq": seq}'
      - publish:
          topic: done/all
          qos: 1
`,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(RUN_MOSQUITTO)('scale-out: 3 replicas on a shared subscription', () => {
  let broker: Mosquitto;
  let dir: string;
  const replicas = new Map<string, MqflowProcess>();

  const start = async (instance: string): Promise<MqflowProcess> => {
    const mq = startMqflow(dir, { MQTT_URL: broker.url }, ['--instance', instance, '--log-level', 'info']);
    replicas.set(instance, mq);
    await mq.ready(['work-in'], 20_000);
    return mq;
  };
  const processed = async (mq: MqflowProcess): Promise<number> => {
    const admin = await mq.waitFor((l) => l.event === 'admin');
    const status = (await (await fetch(`${admin.url as string}/api/status`)).json()) as { triggers: { counters: { processed: number } }[] };
    return status.triggers[0]!.counters.processed;
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder(FLOWS);
  });

  afterAll(async () => {
    for (const mq of replicas.values()) {
      mq.kill('SIGTERM');
      await mq.exited;
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.stop();
  }, 30_000);

  it(`processes all ${TOTAL} messages at least once, shared by the replicas, through a SIGKILL and restart of one`, async () => {
    await Promise.all(['r1', 'r2', 'r3'].map(start));
    const sink: MqttClient = await connectAsync(broker.url, { clientId: 'scale-sink', clean: true });
    const load: MqttClient = await connectAsync(broker.url, { clientId: 'scale-load', clean: true });
    try {
      const out = new SeqCounter(TOTAL);
      sink.on('message', (_t, payload) => out.add((JSON.parse(payload.toString()) as { seq: number }).seq));
      await sink.subscribeAsync('done/all', { qos: 1 });
      const sending = publishPaced(load, 'work/a', TOTAL, RATE, (seq) => JSON.stringify({ seq }));

      // Kill one replica once a third of the messages came out, and bring it back a second later.
      await out.reach(TOTAL / 3);
      const killed = replicas.get('r2')!;
      const beforeKill = await processed(killed);
      killed.kill('SIGKILL');
      await killed.exited;
      await sleep(1000);
      const restarted = await start('r2');
      await sending;

      await out.complete();
      expect(out.missing).toBe(0);

      // r2's share: what it had processed shortly before the kill, plus after its restart.
      const shares = { r1: await processed(replicas.get('r1')!), r2: beforeKill + (await processed(restarted)), r3: await processed(replicas.get('r3')!) };
      const duplicates = out.duplicates;
      console.log(`scale-out: ${TOTAL} messages, ${out.outputs} outputs (${duplicates} duplicates), processed per replica ${JSON.stringify(shares)}`);
      // Each replica, the killed one included, took a real share of the load.
      for (const [name, n] of Object.entries(shares)) expect(n, name).toBeGreaterThan(TOTAL / 10);
      // Exactly TOTAL distinct messages came out (0 lost); a few may come twice (redelivered after the kill).
      expect(out.distinct).toBe(TOTAL);
      // Only what the killed replica had processed but not yet acknowledged comes again: at most
      // Mosquitto's in-flight window for one MQTT 3.1.1 client (docs/scaling.md#sizing), and up to
      // twice over — CI saw 22 and 40 duplicates with no other connection lost: with a shared
      // subscription a dead member's in-flight messages may go to the other members (MQTT 5,
      // 4.8.2: "MAY") and also, kept in its persistent session, to it again when it is back. As
      // much again for each trigger connection of the other replicas that was lost meanwhile (a
      // loaded machine can miss a keepalive; that connection's unacknowledged messages come again).
      const lost = ['r1', 'r3'].reduce((n, name) => n + replicas.get(name)!.lines.filter((l) => l.event === 'disconnected').length, 0);
      if (lost > 0) console.log(`scale-out: ${lost} trigger connections of the other replicas were lost and reconnected`);
      expect(duplicates).toBeLessThanOrEqual(2 * MOSQUITTO_MAX_INFLIGHT * (1 + lost));
    } finally {
      await sink.endAsync();
      await load.endAsync();
    }
  }, 120_000);
});
