/**
 * Windows against Mosquitto (docs/architecture.md, "Windows", invariants 41-43): a tumbling average
 * per device and a join of two topics, on the wall clock; a window's messages are acknowledged
 * only once it emitted, so a SIGKILL with a window open loses nothing (the broker redelivers them
 * into a window after the restart); SIGTERM closes open windows early.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCase } from '../../src/testing/harness.js';
import { buildMemory } from '../unit/flow/helpers.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const FLOWS = {
  'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    cleanSession: false
    reconnectPeriod: 100ms
windows:
  per-second:
    key: device
    tumbling: 1s
    aggregate:
      average: { average: celsius }
      readings: { count: true }
    steps:
      - publish:
          topic: out/average/{{ key }}
  climate:
    key: room
    tumbling: 1s
    aggregate:
      celsius: { last: celsius }
      humidity: { last: humidity }
    steps:
      - publish:
          topic: out/climate/{{ key }}
          payload: '{ "room": key, "celsius": aggregate.celsius, "humidity": aggregate.humidity }'
  fives:
    count: 5
    steps:
      - publish:
          topic: out/fives
          payload: '{ "count": count, "seq": values.seq }'
  fives-qos0:
    count: 5
    steps:
      - publish:
          topic: out/fives-qos0
          payload: '{ "count": count }'
triggers:
  batch-qos0:
    connection: plant
    topic: in/batch-qos0
    qos: 0
    service: batch-qos0
  temperature:
    connection: plant
    topic: in/temperature/+
    qos: 1
    service: temperature
  humidity:
    connection: plant
    topic: in/humidity/+
    qos: 1
    service: humidity
  batch:
    connection: plant
    topic: in/batch
    qos: 1
    service: batch
services:
  temperature:
    steps:
      - collect:
          window: per-second
          value: '{ "device": device, "celsius": celsius }'
      - collect:
          window: climate
          value: '{ "room": $wildcards[0], "celsius": celsius }'
  humidity:
    steps:
      - collect:
          window: climate
          value: '{ "room": $wildcards[0], "humidity": percent }'
  batch:
    steps:
      - collect: fives
  batch-qos0:
    steps:
      - collect: fives-qos0
`,
};

describe.runIf(RUN_MOSQUITTO)('windows against mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder(FLOWS);
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (): Promise<MqflowProcess> => {
    mqflow = startMqflow(dir, { MQTT_URL: broker.url }, ['--log-level', 'info']);
    await mqflow.ready(['temperature', 'humidity', 'batch', 'batch-qos0']);
    return mqflow;
  };

  it('averages per device per second, and joins two topics per room', async () => {
    await start();
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('out/#', 1);
    const producer = await TestClient.connect(broker.url);
    // In one go, so that they fall in one window of one second (or, rarely, straddle two).
    await Promise.all([
      producer.publish('in/temperature/r1', { device: 't1', celsius: 20 }),
      producer.publish('in/temperature/r1', { device: 't1', celsius: 22 }),
      producer.publish('in/temperature/r2', { device: 't2', celsius: 30 }),
      producer.publish('in/humidity/r1', { percent: 48 }),
    ]);
    await sink.waitFor(2, (m) => m.topic.startsWith('out/climate/'), 10_000);
    await sink.waitFor(2, (m) => m.topic.startsWith('out/average/'), 10_000);
    const averages = sink.json('out/average/t1') as { count: number; aggregate: { average: number; readings: number }; start: string; end: string }[];
    const readings = averages.reduce((n, a) => n + a.aggregate.readings, 0);
    expect(readings).toBe(2);
    if (averages.length === 1) expect(averages[0]!.aggregate.average).toBe(21);
    expect(Date.parse(averages[0]!.end) - Date.parse(averages[0]!.start)).toBe(1000);
    expect(sink.json('out/average/t2')).toEqual([expect.objectContaining({ window: 'per-second', key: 't2', count: 1, aggregate: { average: 30, readings: 1 } })]);
    const r1 = sink.json('out/climate/r1') as { celsius: number | null; humidity: number | null }[];
    expect(r1.some((c) => c.humidity === 48)).toBe(true);
    expect(r1.some((c) => c.celsius !== null)).toBe(true);
    await sink.close();
    await producer.close();
  }, 30_000);

  it('a SIGKILL with a window open loses nothing: its messages come again and go into a window', async () => {
    mqflow ??= await start();
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('out/fives', 1);
    const producer = await TestClient.connect(broker.url);
    for (const seq of [1, 2, 3]) await producer.publish('in/batch', { seq });
    // The three are in the open window, unacknowledged.
    const admin = await mqflow.waitFor((l) => l.event === 'admin');
    const held = async (): Promise<number> => ((await (await fetch(`${admin.url as string}/api/status`)).json()) as { windows: { name: string; held: number }[] }).windows.find((w) => w.name === 'fives')!.held;
    const deadline = Date.now() + 10_000;
    while ((await held()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await held()).toBe(3);
    mqflow.kill('SIGKILL');
    await mqflow.exited;
    await start();
    for (const seq of [4, 5]) await producer.publish('in/batch', { seq });
    await sink.waitFor(1, () => true, 15_000);
    const [batch] = sink.json('out/fives') as { count: number; seq: number[] }[];
    expect(batch!.count).toBe(5);
    expect([...batch!.seq].sort()).toEqual([1, 2, 3, 4, 5]);
    await sink.close();
    await producer.close();
  }, 30_000);

  it('a QoS 0 message is not held by its window: it has no acknowledgement', async () => {
    mqflow ??= await start();
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('out/fives-qos0', 1);
    const producer = await TestClient.connect(broker.url);
    for (let i = 0; i < 3; i++) await producer.publish('in/batch-qos0', { i }, 0);
    const admin = await mqflow.waitFor((l) => l.event === 'admin');
    const window = async (): Promise<{ open: number; held: number }> => ((await (await fetch(`${admin.url as string}/api/status`)).json()) as { windows: { name: string; open: number; held: number }[] }).windows.find((w) => w.name === 'fives-qos0')!;
    const processed = async (): Promise<number> => ((await (await fetch(`${admin.url as string}/api/status`)).json()) as { triggers: { name: string; counters: { processed: number } }[] }).triggers.find((t) => t.name === 'batch-qos0')!.counters.processed;
    const deadline = Date.now() + 10_000;
    while ((await processed()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Done (processed) while their window is still open.
    expect(await processed()).toBe(3);
    expect(await window()).toMatchObject({ open: 1, held: 0 });
    for (let i = 3; i < 5; i++) await producer.publish('in/batch-qos0', { i }, 0);
    await sink.waitFor(1, () => true, 10_000);
    expect(sink.json('out/fives-qos0')).toEqual([{ count: 5 }]);
    await sink.close();
    await producer.close();
  }, 30_000);

  it('SIGTERM closes an open window early, and exits 0', async () => {
    mqflow ??= await start();
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('out/fives', 1);
    const producer = await TestClient.connect(broker.url);
    for (const seq of [6, 7]) await producer.publish('in/batch', { seq });
    const admin = await mqflow.waitFor((l) => l.event === 'admin');
    const held = async (): Promise<number> => ((await (await fetch(`${admin.url as string}/api/status`)).json()) as { windows: { name: string; held: number }[] }).windows.find((w) => w.name === 'fives')!.held;
    const deadline = Date.now() + 10_000;
    while ((await held()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    mqflow.kill('SIGTERM');
    expect(await mqflow.exited).toBe(0);
    await sink.waitFor(1, () => true, 10_000);
    expect(sink.json('out/fives')).toEqual([{ count: 2, seq: [6, 7] }]);
    mqflow = undefined;
    await sink.close();
    await producer.close();
  }, 30_000);
});

describe('a window kept in a store, in mqflow test (the store runs in memory there)', () => {
  it('counts a repeated id once, in whatever window it comes again, and closes windows on time', async () => {
    const result = buildMemory({
      files: {
        'flow.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
stores:
  windows:
    type: disk
    path: /var/lib/mqflow/never-opened-in-tests
windows:
  per-second:
    key: device
    tumbling: 1s
    store: windows
    id: seq
    aggregate:
      readings: { count: true }
    steps:
      - publish:
          topic: out/{{ key }}
triggers:
  in:
    connection: plant
    topic: in
    service: s
services:
  s:
    steps:
      - collect: per-second
`,
      },
    });
    expect(result.text.filter((l) => l.includes(' error: '))).toEqual([]);
    const at = (ms: number, seq: number): { topic: string; payload: unknown; qos: 1; retain: false; atMs: number } => ({ topic: 'in', payload: { device: 'd1', seq }, qos: 1, retain: false, atMs: ms });
    const observed = await runCase(result.model!, {
      name: 'stored',
      file: 'flow.test.yaml',
      line: 1,
      target: { kind: 'trigger', name: 'in' },
      // seq 2 comes again in the same second, seq 1 in the next one: each counts once.
      messages: [at(0, 1), at(100, 2), at(200, 2), at(1_100, 1), at(1_200, 3)],
      fixed: { now: '2026-01-01T00:00:00Z' },
      expect: {},
    });
    expect(observed.failures).toEqual([]);
    expect(observed.published.map((p) => p.json)).toEqual([
      expect.objectContaining({ key: 'd1', start: '2026-01-01T00:00:00.000Z', count: 2, aggregate: { readings: 2 } }),
      expect.objectContaining({ key: 'd1', start: '2026-01-01T00:00:01.000Z', count: 1, aggregate: { readings: 1 } }),
    ]);
  });
});

describe('event time and late values (in mqflow test, with its clock)', () => {
  const run = async (late: 'drop' | 'fail'): Promise<Awaited<ReturnType<typeof runCase>>> => {
    const result = buildMemory({
      files: {
        'flow.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
windows:
  per-minute:
    key: device
    tumbling: 1m
    time: ts
    allowedLateness: 10s
    late: ${late}
    aggregate:
      readings: { count: true }
      seqs: { last: seq }
    steps:
      - publish:
          topic: out/{{ key }}
triggers:
  in:
    connection: plant
    topic: in
    service: s
    onError:
      publish:
        topic: dead-letter
services:
  s:
    steps:
      - collect: per-minute
`,
      },
    });
    expect(result.text.filter((l) => l.includes(' error: '))).toEqual([]);
    const base = Date.parse('2026-01-01T00:00:00Z');
    const reading = (arrives: number, happened: number, seq: number): { topic: string; payload: unknown; qos: 1; retain: false; atMs: number } => ({
      topic: 'in',
      payload: { device: 'd1', ts: new Date(base + happened).toISOString(), seq },
      qos: 1,
      retain: false,
      atMs: arrives,
    });
    return runCase(result.model!, {
      name: late,
      file: 'flow.test.yaml',
      line: 1,
      target: { kind: 'trigger', name: 'in' },
      messages: [
        reading(0, 0, 1),
        // Happened in the first minute, arrives 5 s after it ended: within the allowed lateness.
        reading(65_000, 59_000, 2),
        reading(66_000, 61_000, 3),
        // Happened in the first minute, arrives 15 s after it ended: late.
        reading(75_000, 30_000, 4),
      ],
      fixed: { now: '2026-01-01T00:00:00Z' },
      expect: {},
    });
  };

  it('places values by when they happened, closes a window allowedLateness after its end, and drops what comes later', async () => {
    const observed = await run('drop');
    expect(observed.failures).toEqual([]);
    expect(observed.published.map((p) => [p.topic, p.json])).toEqual([
      ['out/d1', expect.objectContaining({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:01:00.000Z', count: 2, aggregate: { readings: 2, seqs: 2 } })],
      ['out/d1', expect.objectContaining({ start: '2026-01-01T00:01:00.000Z', end: '2026-01-01T00:02:00.000Z', count: 1, aggregate: { readings: 1, seqs: 3 } })],
    ]);
  });

  it('late: fail sends a late value to the error route instead', async () => {
    const observed = await run('fail');
    expect(observed.failures.map((f) => f.code)).toEqual(['MQFLOW_WINDOW_LATE']);
    expect(observed.published.map((p) => p.topic)).toEqual(['out/d1', 'dead-letter', 'out/d1']);
  });
});

const TIMED = (extra: string): string => `connections:
  plant:
    url: \${env:MQTT_URL}
windows:
  sliding:
    sliding: { size: 2s, every: 1s }
    aggregate:
      readings: { count: true }
    steps:
      - publish:
          topic: out/sliding
  sessions:
    key: door
    session: 700ms
    steps:
      - publish:
          topic: out/sessions
          payload: '{ "door": key, "count": count }'
  by-event-time:
    tumbling: 1s
    time: ts
    allowedLateness: 500ms
    aggregate:
      readings: { count: true }
    steps:
      - publish:
          topic: out/event-time
  batches:
    count: 3
    steps:
      - publish:
          topic: out/batches${extra}
          payload: '{ "n": values.n }'
triggers:
  in:
    connection: plant
    topic: in/+
    qos: 1
    service: route
services:
  route:
    steps:
      - choice:
          - when: $wildcards[0] = "sliding"
            steps: [ { collect: sliding } ]
          - when: $wildcards[0] = "door"
            steps: [ { collect: sessions } ]
          - when: $wildcards[0] = "event"
            steps: [ { collect: by-event-time } ]
          - otherwise:
              - collect: batches
`;

describe.runIf(RUN_MOSQUITTO)('sliding, session and event-time windows, and a reload, against mosquitto (wall clock)', () => {
  let broker: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder({ 'flows.yaml': TIMED('') });
  });
  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each kind closes as it should; a reload that leaves a window unchanged keeps its open windows', async () => {
    mqflow = startMqflow(dir, { MQTT_URL: broker.url }, ['--watch', '--log-level', 'info']);
    await mqflow.ready(['in']);
    await mqflow.waitFor((l) => l.event === 'watching');
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe('out/#', 1);
    const producer = await TestClient.connect(broker.url);

    // A batch of 3 gets 2 values, then the flow is edited (another window's topic), then its third value.
    await producer.publish('in/batch', { n: 1 });
    await producer.publish('in/batch', { n: 2 });
    // Sliding: one value counts in the two windows that hold it.
    await producer.publish('in/sliding', { v: 1 });
    // Sessions: two events close together are one session; a door quiet for 700 ms ends it.
    await producer.publish('in/door', { door: 'd1' });
    await producer.publish('in/door', { door: 'd1' });
    // Event time: one on time, one whose window closed long ago (late: dropped).
    await producer.publish('in/event', { ts: Date.now() });
    await producer.publish('in/event', { ts: Date.now() - 60_000 });

    const before = mqflow.lines.filter((l) => l.event === 'reload-applied').length;
    const { writeFileSync, renameSync } = await import('node:fs');
    writeFileSync(join(dir, 'flows.yaml.tmp'), TIMED('').replace('topic: out/sessions', 'topic: out/sessions2'));
    renameSync(join(dir, 'flows.yaml.tmp'), join(dir, 'flows.yaml'));
    await mqflow.waitFor(() => mqflow!.lines.filter((l) => l.event === 'reload-applied').length > before, 10_000);
    await producer.publish('in/batch', { n: 3 });

    await sink.waitFor(1, (m) => m.topic === 'out/batches', 10_000);
    await sink.waitFor(2, (m) => m.topic === 'out/sliding', 10_000);
    await sink.waitFor(1, (m) => m.topic.startsWith('out/sessions'), 10_000);
    await sink.waitFor(1, (m) => m.topic === 'out/event-time', 10_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.json('out/batches')).toEqual([{ n: [1, 2, 3] }]);
    const sliding = sink.json('out/sliding') as { start: string; end: string; aggregate: { readings: number } }[];
    expect(sliding.map((w) => w.aggregate.readings)).toEqual([1, 1]);
    expect(sliding.map((w) => Date.parse(w.end) - Date.parse(w.start))).toEqual([2000, 2000]);
    const sessions = [...sink.json('out/sessions'), ...sink.json('out/sessions2')];
    expect(sessions).toEqual([{ door: 'd1', count: 2 }]);
    expect((sink.json('out/event-time') as { aggregate: { readings: number } }[]).map((w) => w.aggregate.readings)).toEqual([1]);
    const admin = await mqflow.waitFor((l) => l.event === 'admin');
    const metrics = await (await fetch(`${admin.url as string}/metrics`)).text();
    expect(metrics).toMatch(/mqflow_window_late_total\{window="by-event-time"\} 1/);
    await sink.close();
    await producer.close();
  }, 60_000);
});
