/**
 * Stateful steps (docs/architecture.md, "State"): a deadband over 10,000 noisy readings gives
 * exactly what a reference computation gives, heartbeats included (run on the production message
 * host and trigger runner, with the clock `mqflow test` advances); and a hot reload keeps the state
 * of an unchanged step while `mqflow run` runs against Mosquitto (invariant 40).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCase } from '../../src/testing/harness.js';
import type { TestCase } from '../../src/testing/test-file.js';
import { buildMemory } from '../unit/flow/helpers.js';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

describe('changed: deadband and heartbeat', () => {
  it('passes exactly the readings a reference computation passes, over 10,000 noisy readings', async () => {
    const result = buildMemory({
      files: {
        'flow.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  readings:
    connection: plant
    topic: sensors/+/level
    service: by-exception
services:
  by-exception:
    steps:
      - changed:
          value: level
          deadband: 0.8
          heartbeat: 10s
      - publish:
          topic: reported/{{ $wildcards[0] }}
`,
      },
    });
    expect(result.text.filter((l) => l.includes(' error: '))).toEqual([]);
    // A slow sine with noise, every 250 ms to 2 s, from two sensors.
    let seed = 7;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const readings: { sensor: string; at: number; level: number }[] = [];
    let at = 0;
    for (let i = 0; i < 10_000; i++) {
      at += 250 + Math.floor(random() * 1_750);
      const sensor = i % 3 === 0 ? 's2' : 's1';
      readings.push({ sensor, at, level: Math.round((10 * Math.sin(at / 60_000) + (random() - 0.5) * 2) * 1000) / 1000 });
    }
    // The reference: per sensor, pass the first, then any reading more than 0.8 from the last passed, or 10 s after it.
    const last = new Map<string, { level: number; at: number }>();
    const expected: string[] = [];
    let heartbeats = 0;
    for (const r of readings) {
      const l = last.get(r.sensor);
      if (l !== undefined && Math.abs(r.level - l.level) <= 0.8 && r.at - l.at >= 10_000) heartbeats++;
      if (l === undefined || Math.abs(r.level - l.level) > 0.8 || r.at - l.at >= 10_000) {
        last.set(r.sensor, { level: r.level, at: r.at });
        expected.push(`${r.sensor} ${r.level} ${r.at}`);
      }
    }
    const testCase: TestCase = {
      name: 'deadband',
      file: 'flow.test.yaml',
      line: 1,
      target: { kind: 'trigger', name: 'readings' },
      messages: readings.map((r) => ({ topic: `sensors/${r.sensor}/level`, payload: { level: r.level, at: r.at }, qos: 1, retain: false, atMs: r.at })),
      fixed: {},
      expect: {},
    };
    const observed = await runCase(result.model!, testCase);
    expect(observed.failures).toEqual([]);
    const actual = observed.published.map((p) => {
      const { level, at: when } = p.json as { level: number; at: number };
      return `${p.topic.split('/')[1]} ${level} ${when}`;
    });
    console.log(`deadband test: ${readings.length} readings, ${expected.length} expected outputs (${heartbeats} by heartbeat only), ${actual.length} published`);
    expect(heartbeats).toBeGreaterThan(10);
    expect(expected.length).toBeGreaterThan(100);
    expect(expected.length).toBeLessThan(readings.length / 2);
    expect(actual).toEqual(expected);
  }, 60_000);
});

const flow = (extra: string): string => `connections:
  plant:
    url: \${env:MQTT_URL}
triggers:
  in:
    connection: plant
    topic: in
    service: once
services:
  once:
    steps:
      - dedupe:
          key: id
      - publish:
          topic: out${extra}
`;

describe.runIf(RUN_MOSQUITTO)('hot reload keeps state, against mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder({ 'flow.yaml': flow('') });
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a dedupe step keeps the ids it saw across a reload that changed another step, and loses them when it moves', async () => {
    mqflow = startMqflow(dir, { MQTT_URL: broker.url }, ['--watch', '--log-level', 'info']);
    await mqflow.ready(['in']);
    await mqflow.waitFor((l) => l.event === 'watching');
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('#', 1);
    const producer = await TestClient.connect(broker.url);
    await producer.publish('in', { id: 'a' });
    await sink.waitFor(1, (m) => m.topic === 'out');

    const reloads = (): number => mqflow!.lines.filter((l) => l.event === 'reload-applied').length;
    const edit = async (text: string): Promise<void> => {
      const before = reloads();
      writeFileSync(join(dir, 'flow.yaml.tmp'), text);
      renameSync(join(dir, 'flow.yaml.tmp'), join(dir, 'flow.yaml'));
      await mqflow!.waitFor(() => reloads() > before, 10_000);
    };
    // The publish topic changes; the dedupe step (same store, same path) keeps its state.
    await edit(flow('/v2'));
    await producer.publish('in', { id: 'a' });
    await producer.publish('in', { id: 'b' });
    await sink.waitFor(1, (m) => m.topic === 'out/v2');
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.on('out/v2').map((m) => m.text)).toEqual(['{"id":"b"}']);

    // A step inserted before it moves its default namespace: its state resets, and the reload says so.
    await edit(flow('/v3').replace('    steps:\n      - dedupe:', '    steps:\n      - log: "{{ id }}"\n      - dedupe:'));
    const changes = mqflow.lines.filter((l) => l.event === 'reload-change').map((l) => l.change as string);
    expect(changes).toContain('! state of services.once.steps[0] (dedupe) resets: no dedupe step uses namespace services.once.steps[0] of store memory any more (name the namespace to keep state when a step moves)');
    await producer.publish('in', { id: 'a' });
    await sink.waitFor(1, (m) => m.topic === 'out/v3');
    await sink.close();
    await producer.close();
  }, 60_000);
});
