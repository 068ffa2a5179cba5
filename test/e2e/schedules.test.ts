/**
 * Schedules end to end, `mqflow run` against Mosquitto (docs/architecture.md, invariants 49–50):
 * every and cron fire on their ticks; fires missed while mqflow was down are made up for from a
 * disk store after a SIGKILL; three replicas sharing a Redis store fire each tick once, and when
 * one dies the others go on, the tick it held taken over once its claim lapses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { json, startHttpServer } from '../support/http-server.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { RUN_REDIS, startRedis, type RedisServer } from '../support/redis.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Fire {
  scheduledAt: string;
  firedAt: string;
  missed: boolean;
  by?: string;
}

const fires = (sink: TestClient, topic: string): Fire[] => sink.on(topic).map((m) => JSON.parse(m.text) as Fire);

describe.runIf(RUN_MOSQUITTO)('schedules, against mosquitto', () => {
  let broker: Mosquitto;
  let sink: TestClient;
  const cleanup: (() => void | Promise<void>)[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    sink = await TestClient.connect(broker.url);
    await sink.subscribe('fires/#', 1);
  }, 30_000);

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
    await sink?.close();
    await broker?.stop();
  }, 30_000);

  const start = (dir: string, env: Record<string, string> = {}, args: string[] = []): MqflowProcess => {
    const mq = startMqflow(dir, { MQTT_URL: broker.url, ...env }, ['--log-level', 'info', ...args]);
    cleanup.push(async () => {
      mq.kill('SIGKILL');
      await mq.exited;
    });
    return mq;
  };

  it('every and cron fire on their ticks, each once, with the payload of the fire', async () => {
    const dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
schedules:
  every-second:
    every: 1s
    expression: '$message.schedule'
    service: record
  even-seconds:
    cron: '*/2 * * * * *'
    timezone: Europe/Berlin
    payload: { kind: cron }
    service: record-cron
services:
  record:
    steps:
      - publish:
          topic: fires/every
  record-cron:
    steps:
      - publish:
          topic: fires/cron
          payload: '{ "kind": kind, "scheduledAt": $message.schedule.scheduledAt }'
`,
    });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const mq = start(dir);
    await mq.waitFor((l) => l.event === 'connected');
    await sink.waitFor(5, (m) => m.topic === 'fires/every', 15_000);
    await sink.waitFor(2, (m) => m.topic === 'fires/cron', 15_000);
    mq.kill('SIGTERM');
    await mq.exited;
    const every = fires(sink, 'fires/every');
    const ticks = every.map((f) => Date.parse(f.scheduledAt));
    expect(ticks.every((t) => t % 1000 === 0)).toBe(true);
    // Consecutive seconds, none twice, none left out.
    expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual(ticks.slice(1).map(() => 1000));
    expect(every.every((f) => f.missed === false && Date.parse(f.firedAt) >= Date.parse(f.scheduledAt))).toBe(true);
    const cron = fires(sink, 'fires/cron') as unknown as { kind: string; scheduledAt: string }[];
    expect(cron.every((f) => f.kind === 'cron' && Date.parse(f.scheduledAt) % 2000 === 0)).toBe(true);
  }, 60_000);

  it('fires missed while mqflow was down are made up for from a disk store, after a SIGKILL', async () => {
    const state = mkdtempSync(join(tmpdir(), 'mqflow-schedule-state-'));
    const dir = flowFolder({
      'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
stores:
  kept:
    type: disk
    path: \${env:STATE_DIR}
schedules:
  each-second:
    every: 1s
    missed: all
    store: kept
    expression: '$message.schedule'
    service: record
services:
  record:
    steps:
      - publish:
          topic: fires/missed
`,
    });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanup.push(() => rmSync(state, { recursive: true, force: true }));
    const first = start(dir, { STATE_DIR: state });
    await sink.waitFor(3, (m) => m.topic === 'fires/missed', 15_000);
    first.kill('SIGKILL');
    await first.exited;
    const before = fires(sink, 'fires/missed').length;
    await sleep(3_500);
    const second = start(dir, { STATE_DIR: state });
    await second.waitFor((l) => l.event === 'schedule-missed', 15_000);
    await sink.waitFor(before + 5, (m) => m.topic === 'fires/missed', 15_000);
    second.kill('SIGTERM');
    await second.exited;
    const all = fires(sink, 'fires/missed');
    const ticks = [...new Set(all.map((f) => Date.parse(f.scheduledAt)))].sort((a, b) => a - b);
    // Every second from the first fire to the last is there: the gap was filled.
    expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual(ticks.slice(1).map(() => 1000));
    const madeUp = all.filter((f) => f.missed);
    expect(madeUp.length).toBeGreaterThanOrEqual(3);
    // A tick fires twice at most when it was in flight at the SIGKILL (its fire not yet kept).
    expect(all.length - ticks.length).toBeLessThanOrEqual(1);
    console.log(`missed fires: ${all.length} fires, ${ticks.length} ticks, ${madeUp.length} made up after a 3.5 s outage`);
  }, 60_000);

  describe.runIf(RUN_REDIS)('replicas sharing a Redis store', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    }, 30_000);
    afterAll(async () => {
      await redis?.stop();
    });

    it('three replicas fire each tick once; when one dies mid-fire, the others go on and take over its tick', async () => {
      // Each fire asks a slow API first, so a replica can be killed while it holds a tick.
      let killR1: ((tick: string) => void) | undefined;
      const api = await startHttpServer((req, res) => {
        if (req.headers['x-replica'] === 'r1' && killR1 !== undefined) killR1(String(req.headers['x-tick']));
        setTimeout(() => json(res, 200, { ok: true }), 400);
      });
      cleanup.push(() => api.close());
      const dir = flowFolder({
        'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
stores:
  shared:
    type: redis
    url: \${env:REDIS_URL}
    keyPrefix: "schedules-test:"
    claimLease: 2s
schedules:
  each-second:
    every: 1s
    store: shared
    expression: '$merge([$message.schedule, { "by": "\${env:REPLICA}" }])'
    service: record
services:
  record:
    steps:
      - http:
          url: ${api.url}/work
          headers:
            X-Replica: '{{ by }}'
            X-Tick: '{{ scheduledAt }}'
          as: work
      - publish:
          topic: fires/replicas
`,
      });
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const replicas = ['r1', 'r2', 'r3'].map((r) => start(dir, { REDIS_URL: redis.url, REPLICA: r }, ['--instance', r]));
      await sink.waitFor(4, (m) => m.topic === 'fires/replicas', 20_000);
      // The next time r1 starts a fire, it dies holding that tick.
      const held = new Promise<string>((resolve) => {
        killR1 = (tick) => {
          killR1 = undefined;
          replicas[0]!.kill('SIGKILL');
          resolve(tick);
        };
      });
      const heldTick = await held;
      await replicas[0]!.exited;
      const atKill = fires(sink, 'fires/replicas').length;
      await sink.waitFor(atKill + 5, (m) => m.topic === 'fires/replicas', 20_000);
      for (const r of replicas.slice(1)) r.kill('SIGTERM');
      await Promise.all(replicas.slice(1).map((r) => r.exited));
      const all = fires(sink, 'fires/replicas');
      const ticks = all.map((f) => Date.parse(f.scheduledAt)).sort((a, b) => a - b);
      // Each tick once: no replica fired a tick another had.
      expect(new Set(ticks).size).toBe(ticks.length);
      // No tick lost: the one r1 held when it died was fired by another replica once its claim lapsed.
      expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual(ticks.slice(1).map(() => 1000));
      const takenOver = all.find((f) => f.scheduledAt === heldTick);
      expect(takenOver).toMatchObject({ missed: true });
      expect(takenOver!.by).not.toBe('r1');
      const byReplica = Object.fromEntries(['r1', 'r2', 'r3'].map((r) => [r, all.filter((f) => f.by === r).length]));
      console.log(`replicas: ${all.length} ticks, each once; fired by ${JSON.stringify(byReplica)}; ${heldTick} taken over by ${takenOver!.by}`);
    }, 90_000);
  });
});
