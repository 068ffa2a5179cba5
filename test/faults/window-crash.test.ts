/**
 * Windows kept in a disk store (docs/architecture.md, invariant 44): 10,000 QoS 1 readings from
 * 10 devices through a 1 s tumbling window per device, kept in a disk store, while mqflow is killed
 * with SIGKILL twice and restarted. Every reading is counted in exactly one emitted window: a window
 * emitted again after a crash has the same key, start and values (recognisable), and none is missing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOTAL = 10_000;

const flows = (statePath: string): Record<string, string> => ({
  'flow.yaml': `connections:
  broker:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 100ms
stores:
  windows:
    type: disk
    path: ${statePath}
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
    connection: broker
    topic: in/readings
    qos: 1
    processing: concurrent
    maxConcurrency: 16
    service: collect
services:
  collect:
    steps:
      - collect:
          window: per-second
          value: '{ "device": device, "seq": seq }'
`,
});

describe.runIf(RUN_MOSQUITTO)('windows in a disk store across two SIGKILLs, against mosquitto', () => {
  let mosquitto: Mosquitto;
  let dir: string;
  let statePath: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    mosquitto = await startMosquitto();
    statePath = mkdtempSync(join(tmpdir(), 'mqflow-windows-'));
    dir = flowFolder(flows(statePath));
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(statePath, { recursive: true, force: true });
  });

  it('counts every reading in exactly one window', async () => {
    const env = { MQTT_URL: mosquitto.url };
    const sink = await TestClient.connect(mosquitto.url);
    await sink.subscribe('out/windows', 1);
    const producer = await TestClient.connect(mosquitto.url);
    mqflow = startMqflow(dir, env, ['--log-level', 'info']);
    await mqflow.ready(['readings']);

    /** Each window once (a repeat must be the same window), and the readings they counted. */
    const windows = (): Map<string, number[]> => {
      const out = new Map<string, number[]>();
      for (const m of sink.received) {
        const w = JSON.parse(m.text) as { key: string; start: string; seq: number | number[] };
        const seqs = Array.isArray(w.seq) ? w.seq : [w.seq];
        const id = `${w.key} ${w.start}`;
        const before = out.get(id);
        if (before !== undefined) expect([...seqs].sort((a, b) => a - b), `window ${id} emitted again with other readings`).toEqual([...before].sort((a, b) => a - b));
        out.set(id, seqs);
      }
      return out;
    };
    const counted = (): number => [...windows().values()].reduce((n, s) => n + s.length, 0);

    let sent = 0;
    const sending = (async () => {
      for (let seq = 1; seq <= TOTAL; seq += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, i) => producer.publish('in/readings', { device: `d${(seq + i) % 10}`, seq: seq + i }, 1)));
        sent = seq + 49;
      }
    })();
    const kills: number[] = [];
    for (const at of [2_500, 6_000]) {
      while (sent < at) await new Promise((r) => setTimeout(r, 20));
      mqflow.kill('SIGKILL');
      await mqflow.exited;
      kills.push(sent);
      mqflow = startMqflow(dir, env, ['--log-level', 'info']);
      await mqflow.ready(['readings']);
    }
    await sending;
    const deadline = Date.now() + 60_000;
    while (counted() < TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    // Windows still closing (or emitted again) land before the count.
    await new Promise((r) => setTimeout(r, 2_000));

    const all = [...windows().values()].flat();
    const seen = new Set(all);
    const missing = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((s) => !seen.has(s));
    const twice = all.length - seen.size;
    const repeats = sink.received.length - windows().size;
    console.log(`window crash test: ${TOTAL} readings, ${windows().size} windows (${repeats} emitted again), ${seen.size} readings counted, ${twice} counted twice, ${missing.length} missing; kills after ${kills.join(' and ')} sent`);
    expect(kills.length).toBe(2);
    expect(missing).toEqual([]);
    expect(twice).toBe(0);

    mqflow.kill('SIGTERM');
    expect(await mqflow.exited).toBe(0);
    await sink.close();
    await producer.close();
  }, 240_000);
});
