/**
 * Fault: the trigger's session is taken over again and again (another client connects with its
 * client id, as a misconfigured replica or a restarted old process does) while a serial trigger
 * with `queueSize: 10` has a queue. Each takeover drops mqflow's connection; it reconnects and the
 * broker redelivers what was not acknowledged. The queue bound and the order hold across the
 * reconnects (docs/architecture.md, invariant 33): never more than 10 messages held, queued
 * messages of a lost connection are left to the broker's redelivery instead of being processed
 * as well, nothing is lost, and what comes twice is only what was in flight when a connection went.
 */
import { rmSync } from 'node:fs';
import { connect, connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';
import { publishPaced, SeqCounter } from '../support/stream.js';

const TOTAL = 1500;
const RATE = 300; // messages per second: about what the service takes, so its queue fills
const TAKEOVERS = 20;
const QUEUE_SIZE = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(RUN_MOSQUITTO)('fault: session takeovers under a full queue', () => {
  let broker: Mosquitto;
  let dir: string;
  let mq: MqflowProcess;

  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder({
      'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 50ms
triggers:
  ordered:
    connection: plant
    topic: takeover/in
    qos: 1
    queueSize: ${QUEUE_SIZE}
    service: slow
    # A message younger than 5 ms fails once and is retried 30 ms later: the trigger waits (not
    # busy), and the messages behind it queue up. $error() is deterministic: failures: all retries it.
    retry: { maxAttempts: 2, delay: 30ms, failures: all }
services:
  slow:
    steps:
      - transform: '$millis() - $toMillis($message.receivedAt) < 5 ? $error("fresh") : {"seq": seq}'
      - publish:
          topic: takeover/out
          qos: 1
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url }, ['--log-level', 'info', '--instance', 'tk']);
    await mq.ready(['ordered']);
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.stop();
  }, 30_000);

  it(`holds at most queueSize messages through ${TAKEOVERS} takeovers, leaves a lost connection's queue to the broker: 0 lost, first outputs in order`, async () => {
    const subscribed = mq.lines.find((l) => l.event === 'subscribed' && l.trigger === 'ordered')!;
    const clientId = subscribed.clientId as string;
    const admin = mq.lines.find((l) => l.event === 'admin')!.url as string;
    const sink: MqttClient = await connectAsync(broker.url, { clientId: 'takeover-sink', clean: true });
    const load: MqttClient = await connectAsync(broker.url, { clientId: 'takeover-load', clean: true });
    try {
      const out = new SeqCounter(TOTAL);
      const order: number[] = [];
      sink.on('message', (_t, payload) => {
        const seq = (JSON.parse(payload.toString()) as { seq: number }).seq;
        order.push(seq);
        out.add(seq);
      });
      await sink.subscribeAsync('takeover/out', { qos: 1 });

      // What the trigger holds, sampled, besides the high-water mark it keeps itself.
      let sampledPeak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const s = (await (await fetch(`${admin}/api/status`)).json()) as { triggers: { inFlight: number; queueDepth: number }[] };
          sampledPeak = Math.max(sampledPeak, s.triggers[0]!.inFlight + s.triggers[0]!.queueDepth);
          await sleep(5);
        }
      })();

      const sending = publishPaced(load, 'takeover/in', TOTAL, RATE, (seq) => JSON.stringify({ seq }));
      await out.reach(20);
      for (let i = 0; i < TAKEOVERS; i++) {
        // The usurper resumes the session and never acknowledges: what the broker sends it stays
        // unacknowledged in the session and goes back to mqflow when it reconnects.
        // Its handler is replaced before it connects: messages come right behind the CONNACK.
        const usurper = connect(broker.url, { clientId, clean: false, reconnectPeriod: 0 });
        usurper.handleMessage = (): void => undefined;
        await new Promise((resolve) => usurper.once('connect', resolve));
        await sleep(10);
        await usurper.endAsync(true);
        await sleep(100);
      }
      await sending;
      await out.complete(60_000);
      sampling = false;
      await sampler;

      const status = (await (await fetch(`${admin}/api/status`)).json()) as { triggers: { heldPeak: number }[] };
      // Steps backwards are redeliveries of messages that came out before; a message's first
      // output never comes before an earlier message's.
      let backwards = 0;
      let firstsOutOfOrder = 0;
      let latestFirst = 0;
      const seen = new Set<number>();
      for (const [i, seq] of order.entries()) {
        if (i > 0 && seq < order[i - 1]!) backwards++;
        if (seen.has(seq)) continue;
        if (seq < latestFirst) firstsOutOfOrder++;
        latestFirst = Math.max(latestFirst, seq);
        seen.add(seq);
      }
      const lost = mq.lines.filter((l) => l.event === 'disconnected' && l.trigger === 'ordered').length;
      const dropped = mq.lines.filter((l) => l.event === 'queue-dropped').reduce((n, l) => n + (l.dropped as number), 0);
      const heldPeak = status.triggers[0]!.heldPeak;
      console.log(
        `takeover: ${TOTAL} inputs, ${out.outputs} outputs (${out.duplicates} duplicates), ${lost} connections lost, ${dropped} queued messages left to the broker, held at most ${heldPeak} (sampled ${sampledPeak}), ${backwards} steps backwards (all redeliveries: ${firstsOutOfOrder === 0})`,
      );
      expect(lost).toBeGreaterThanOrEqual(TAKEOVERS / 2); // the takeovers did take the connection
      expect(dropped).toBeGreaterThan(0); // with queued messages to leave to the broker
      expect(out.missing).toBe(0);
      expect(firstsOutOfOrder).toBe(0);
      expect(heldPeak).toBeLessThanOrEqual(QUEUE_SIZE);
      expect(sampledPeak).toBeLessThanOrEqual(QUEUE_SIZE);
      // What comes twice is what was running or waiting for its outputs when a connection went:
      // at most queueSize per lost connection.
      expect(out.duplicates).toBeLessThanOrEqual(lost * QUEUE_SIZE);
    } finally {
      await sink.endAsync();
      await load.endAsync();
    }
  }, 120_000);
});
