/**
 * Stateful steps (docs/architecture.md, "State"): a deadband over 10,000 noisy readings gives
 * exactly what a reference computation gives, heartbeats included (run on the production message
 * host and trigger runner, with the clock `mqflow test` advances); and a hot reload keeps the state
 * of an unchanged step while `mqflow run` runs against Mosquitto (invariant 40).
 */
import { cpSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCase, type Observed } from '../../src/testing/harness.js';
import type { TestCase } from '../../src/testing/test-file.js';
import { buildMemory } from '../unit/flow/helpers.js';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';
import { repoRoot } from '../support/cli.js';

/**
 * Runs `messages` through trigger `in` of a flow whose service `s` has `steps`, on the production
 * message host and trigger runner (what `mqflow test` runs), with a clock moved to each `atMs`.
 */
async function throughSteps(steps: string, messages: readonly { topic?: string; payload: unknown; atMs?: number }[]): Promise<Observed> {
  const result = buildMemory({
    files: {
      'flow.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  in:
    connection: plant
    topic: [in, sensors/+/level]
    service: s
services:
  s:
    steps:
${steps}`,
    },
  });
  expect(result.text.filter((l) => l.includes(' error: '))).toEqual([]);
  const testCase: TestCase = {
    name: 'case',
    file: 'flow.test.yaml',
    line: 1,
    target: { kind: 'trigger', name: 'in' },
    messages: messages.map((m) => ({ topic: m.topic ?? 'in', payload: m.payload, qos: 1, retain: false, ...(m.atMs === undefined ? {} : { atMs: m.atMs }) })),
    fixed: {},
    expect: {},
  };
  return runCase(result.model!, testCase);
}

describe('changed: deadband and heartbeat', () => {
  it('passes exactly the readings a reference computation passes, over 10,000 noisy readings', async () => {
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
    const observed = await throughSteps(
      `      - changed:
          value: level
          deadband: 0.8
          heartbeat: 10s
      - publish:
          topic: reported/{{ $wildcards[0] }}
`,
      readings.map((r) => ({ topic: `sensors/${r.sensor}/level`, payload: { level: r.level, at: r.at }, atMs: r.at })),
    );
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

describe('state follows the message (invariant 35)', () => {
  it('a failed message does not move a deadband, nor record a dedupe key', async () => {
    const observed = await throughSteps(
      `      - dedupe:
          key: id
      - changed:
          value: v
          deadband: 0.5
      - transform: 'fail ? $error("refused downstream") : $'
      - publish:
          topic: out
`,
      [{ payload: { id: 1, v: 1 } }, { payload: { id: 2, v: 5, fail: true } }, { payload: { id: 3, v: 1.2 } }, { payload: { id: 2, v: 5 } }],
    );
    expect(observed.failures.map((f) => f.code)).toEqual(['D3137']);
    // 1.2 is compared with 1 (the failed 5 did not count), and id 2 passes when it comes again.
    expect(observed.published.map((p) => p.json)).toEqual([{ id: 1, v: 1 }, { id: 2, v: 5 }]);
  });
});

describe('throttle: drop and wait', () => {
  const run = async (mode: string): Promise<number[]> => {
    const observed = await throughSteps(
      `      - throttle:
          limit: 2
          per: 1s
          mode: ${mode}
      - publish:
          topic: out
`,
      [0, 100, 200, 300, 1_100].map((ms) => ({ payload: { at: ms }, atMs: ms })),
    );
    expect(observed.failures).toEqual([]);
    return observed.published.map((p) => (p.json as { at: number }).at);
  };

  it('drop: two at once, then one every 500 ms; the others end', async () => {
    expect(await run('drop')).toEqual([0, 100, 1_100]);
  });

  it('wait: every message passes, in order, each when the rate allows', async () => {
    expect(await run('wait')).toEqual([0, 100, 200, 300, 1_100]);
  });
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

describe.runIf(RUN_MOSQUITTO)('each stateful step, running examples/state against mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder({});
    cpSync(join(repoRoot, 'examples/state/state.yaml'), join(dir, 'state.yaml'));
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('dedupes, reports by exception, joins a remembered value and keeps the latest of each interval', async () => {
    mqflow = startMqflow(dir, { MQTT_URL: broker.url }, ['--log-level', 'info']);
    await mqflow.ready(['meter-in', 'pressure-in', 'humidity-in', 'room-temperature-in', 'dashboard-in']);
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe(['plant/+/meters-deduped/+', 'plant/+/pressure-changes/+', 'plant/+/climate/+', 'dashboard/+/speed'], 1);
    const producer = await TestClient.connect(broker.url);

    for (const id of ['r-1', 'r-1', 'r-2', 'r-1']) await producer.publish('plant/north/meters/m1', { readingId: id });
    for (const bar of [2.0, 2.3, 2.6, 2.2, 2.0]) await producer.publish('plant/north/pressure/p1', { bar });
    await producer.publish('plant/north/rooms/r12/humidity', { percent: 48 });
    // The humidity is remembered once that message is done (processed); the temperature reading comes after it.
    const admin = await mqflow.waitFor((l) => l.event === 'admin');
    const processed = async (trigger: string): Promise<number> => {
      const status = (await (await fetch(`${admin.url as string}/api/status`)).json()) as { triggers: { name: string; counters: { processed: number } }[] };
      return status.triggers.find((t) => t.name === trigger)!.counters.processed;
    };
    const deadline = Date.now() + 15_000;
    while ((await processed('humidity-in')) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await producer.publish('plant/north/rooms/r12/temperature', { celsius: 21.5 });
    // In one go, well within the throttle's second: the first passes, the last waits for its turn, the others are replaced.
    await Promise.all([100, 110, 120, 130].map((rpm) => producer.publish('plant/north/machines/m7/speed', { rpm }, 1)));

    await sink.waitFor(2, (m) => m.topic.startsWith('dashboard/'), 15_000);
    await sink.waitFor(1, (m) => m.topic.includes('/climate/'));
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.json('plant/north/meters-deduped/m1')).toEqual([{ readingId: 'r-1' }, { readingId: 'r-2' }]);
    expect(sink.json('plant/north/pressure-changes/p1')).toEqual([{ bar: 2.0 }, { bar: 2.6 }, { bar: 2.0 }]);
    expect(sink.json('plant/north/climate/r12')).toEqual([{ room: 'r12', celsius: 21.5, humidity: 48 }]);
    expect(sink.json('dashboard/m7/speed')).toEqual([{ rpm: 100 }, { rpm: 130 }]);

    const metrics = await (await fetch(`${admin.url as string}/metrics`)).text();
    expect(metrics).toMatch(/mqflow_store_entries\{store="memory",type="memory"\} [1-9]/);
    expect(metrics).toMatch(/mqflow_store_commits_total\{store="memory"\} [1-9]/);
    expect(metrics).toMatch(/mqflow_store_reads_total\{store="memory",result="hit"\} [1-9]/);
    await sink.close();
    await producer.close();
  }, 60_000);
});
