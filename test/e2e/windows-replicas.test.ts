/**
 * Keyed windows on 3 replicas (docs/scaling.md, "Windows on replicas"): each replica owns a share
 * of the keys through its topic filter (`in/<shard>/+` from ${env:SHARD}), not a shared
 * subscription, so every window of a key lives on one replica; each keeps its windows in its own
 * disk store. 3,000 QoS 1 readings from 30 devices, one replica killed (SIGKILL) and restarted
 * mid-stream: every reading is counted in exactly one emitted window.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOTAL = 3_000;
const DEVICES = 30;

const FLOWS = {
  'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 100ms
stores:
  windows:
    type: disk
    path: \${env:STATE_DIR}
windows:
  per-second:
    key: device
    tumbling: 1s
    store: windows
    id: seq
    steps:
      - publish:
          topic: out/windows
          payload: '{ "key": key, "start": start, "seq": values.seq }'
triggers:
  readings:
    connection: plant
    topic: in/\${env:SHARD}/+
    qos: 1
    service: collect
services:
  collect:
    steps:
      - collect:
          window: per-second
          value: '{ "device": $wildcards[0], "seq": seq }'
`,
};

describe.runIf(RUN_MOSQUITTO)('keyed windows on 3 replicas, each owning a share of the keys', () => {
  let broker: Mosquitto;
  let dir: string;
  const stateDirs: string[] = [];
  const replicas = new Map<number, MqflowProcess>();
  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder(FLOWS);
    for (let shard = 0; shard < 3; shard++) stateDirs.push(mkdtempSync(join(tmpdir(), `mqflow-windows-shard-${shard}-`)));
  });
  afterAll(async () => {
    for (const r of replicas.values()) r.kill('SIGKILL');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
    for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
  });

  const start = async (shard: number): Promise<void> => {
    const mq = startMqflow(dir, { MQTT_URL: broker.url, SHARD: String(shard), STATE_DIR: stateDirs[shard]! }, ['--instance', `shard-${shard}`, '--log-level', 'info']);
    replicas.set(shard, mq);
    await mq.ready(['readings'], 20_000);
  };

  it('counts every reading in exactly one window, across a replica killed and restarted', async () => {
    for (let shard = 0; shard < 3; shard++) await start(shard);
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('out/windows', 1);
    const producer = await TestClient.connect(broker.url);
    let sent = 0;
    const sending = (async () => {
      for (let seq = 1; seq <= TOTAL; seq += 30) {
        await Promise.all(Array.from({ length: 30 }, (_, i) => {
          const device = (seq + i) % DEVICES;
          return producer.publish(`in/${device % 3}/d${device}`, { seq: seq + i }, 1);
        }));
        sent = seq + 29;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    while (sent < TOTAL / 2) await new Promise((r) => setTimeout(r, 20));
    replicas.get(1)!.kill('SIGKILL');
    await replicas.get(1)!.exited;
    await start(1);
    await sending;

    const windows = new Map<string, number[]>();
    const counted = (): number => {
      windows.clear();
      for (const m of sink.received) {
        const w = JSON.parse(m.text) as { key: string; start: string; seq: number | number[] };
        windows.set(`${w.key} ${w.start}`, Array.isArray(w.seq) ? w.seq : [w.seq]);
      }
      return [...windows.values()].reduce((n, s) => n + s.length, 0);
    };
    const deadline = Date.now() + 60_000;
    while (counted() < TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1_500));
    counted();
    const all = [...windows.values()].flat();
    const seen = new Set(all);
    const missing = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((s) => !seen.has(s));
    const keysPerReplica = [0, 1, 2].map((shard) => new Set([...windows.keys()].map((k) => k.split(' ')[0]!).filter((d) => Number(d.slice(1)) % 3 === shard)).size);
    console.log(`windows on replicas: ${TOTAL} readings, ${windows.size} windows, ${seen.size} counted, ${all.length - seen.size} twice, ${missing.length} missing; keys per replica ${keysPerReplica.join('/')}`);
    expect(missing).toEqual([]);
    expect(all.length - seen.size).toBe(0);
    expect(keysPerReplica).toEqual([10, 10, 10]);
    await sink.close();
    await producer.close();
  }, 120_000);
});
