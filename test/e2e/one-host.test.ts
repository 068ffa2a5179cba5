/**
 * One message host (docs/architecture.md, invariant 25): for the same message, `mqflow test` (its
 * harness), `mqflow invoke` and `mqflow run` against Mosquitto publish the same messages: topic,
 * payload, QoS, retain, and the MQTT 5 properties each connection's protocol carries.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFlowFolder } from '../../src/flow/build.js';
import { runCase } from '../../src/testing/harness.js';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { mqflow as cli } from '../support/cli.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const flows = {
  'flow.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    protocolVersion: 5
  legacy:
    url: \${env:MQTT_URL}
triggers:
  readings:
    connection: plant
    topic: same/in
    service: fan-out
services:
  fan-out:
    steps:
      - transform: '{ "device": device, "celsius": $round((temp_f - 32) * 5 / 9, 1) }'
      - publish:
          topic: same/out/{{ device }}
          qos: 2
          retain: true
          userProperties: { source: mqflow, device: "{{ device }}" }
      - publish:
          topic: same/text
          payload: '"text from " & device'
          qos: 0
      - publish:
          topic: same/custom
          contentType: text/csv
          payload: 'device & ";" & $string(celsius)'
      - publish:
          connection: legacy
          topic: same/legacy
          userProperties: { dropped: on MQTT 3.1.1 }
`,
};

const INPUT = { device: 'oven-3', temp_f: 212 };

/** What a publish is, whoever saw it: connection left out (the broker cannot tell it). */
interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
  readonly userProperties?: unknown;
  readonly contentType?: unknown;
}

function seen(p: { topic: string; payload: string; qos: number; retain: boolean; properties?: { userProperties?: unknown; contentType?: unknown } }): Seen {
  return {
    topic: p.topic,
    payload: p.payload,
    qos: p.qos,
    retain: p.retain,
    ...(p.properties?.userProperties === undefined ? {} : { userProperties: p.properties.userProperties }),
    ...(p.properties?.contentType === undefined ? {} : { contentType: p.properties.contentType }),
  };
}

const byTopic = (a: Seen, b: Seen): number => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0);

describe.runIf(RUN_MOSQUITTO)('mqflow test, invoke and run publish the same messages (against mosquitto, MQTT 5)', () => {
  let mosquitto: Mosquitto;
  let dir: string;
  let running: MqflowProcess | undefined;
  beforeAll(async () => {
    mosquitto = await startMosquitto();
    dir = flowFolder(flows);
  });
  afterAll(async () => {
    running?.kill('SIGKILL');
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the same topic, payload, QoS, retain and MQTT 5 properties three ways', async () => {
    const env = { MQTT_URL: mosquitto.url };

    // 1. mqflow test: the harness `mqflow test` runs each case with.
    const model = buildFlowFolder(dir, { environment: { env, readFile: () => '' } }).model!;
    const tested = await runCase(model, {
      name: 'same',
      file: 'same.test.yaml',
      line: 1,
      target: { kind: 'trigger', name: 'readings' },
      messages: [{ topic: 'same/in', payload: INPUT, qos: 1, retain: false }],
      fixed: {},
      expect: {},
    });
    const fromTest = tested.published.map((p) => ({ connection: p.connection, ...seen({ ...p, payload: p.text }) }));

    // 2. mqflow invoke (a dry run), as a user runs it.
    const invoked = cli(['invoke', 'fan-out', '--dir', dir, '--connection', 'plant', '--topic', 'same/in', '--payload', JSON.stringify(INPUT), '--format', 'json'], { env });
    expect(invoked.stderr).toBe('');
    expect(invoked.status).toBe(0);
    const report = JSON.parse(invoked.stdout) as { published: { connection: string; topic: string; payload: string; qos: number; retain: boolean; properties?: Record<string, unknown> }[] };
    const fromInvoke = report.published.map((p) => ({ connection: p.connection, ...seen(p) }));

    // 3. mqflow run against the broker; a subscriber sees what was sent (retain as published).
    const sink = await TestClient.connect(mosquitto.url, { protocolVersion: 5 });
    await sink.client.subscribeAsync('same/#', { qos: 2, rap: true });
    running = startMqflow(dir, env);
    await running.ready(['readings']);
    const producer = await TestClient.connect(mosquitto.url, { protocolVersion: 5 });
    await producer.publish('same/in', INPUT, 1);
    await sink.waitFor(4, (m) => m.topic !== 'same/in', 10_000);
    const fromRun = sink.received
      .filter((m) => m.topic !== 'same/in')
      .map((m) => seen({ topic: m.topic, payload: m.text, qos: m.packet.qos, retain: m.packet.retain, properties: m.packet.properties }));

    const expected: Seen[] = [
      { topic: 'same/out/oven-3', payload: '{"device":"oven-3","celsius":100}', qos: 2, retain: true, userProperties: { source: 'mqflow', device: 'oven-3' }, contentType: 'application/json' },
      { topic: 'same/text', payload: 'text from oven-3', qos: 0, retain: false },
      { topic: 'same/custom', payload: 'oven-3;100', qos: 1, retain: false, contentType: 'text/csv' },
      { topic: 'same/legacy', payload: '{"device":"oven-3","celsius":100}', qos: 1, retain: false },
    ];
    expect(fromTest).toEqual(fromInvoke);
    expect(fromTest.map(({ connection: _, ...p }) => p)).toEqual(expected);
    expect(fromTest.map((p) => p.connection)).toEqual(['plant', 'plant', 'plant', 'legacy']);
    expect([...fromRun].sort(byTopic)).toEqual([...expected].sort(byTopic));

    // And `mqflow test` itself passes a case that expects exactly these publishes.
    writeFileSync(
      join(dir, 'same.test.yaml'),
      `tests:
  - name: same as run and invoke
    trigger: readings
    message: { topic: same/in, payload: ${JSON.stringify(INPUT)} }
    expect:
      published:
${expected.map((p) => `        - { topic: ${p.topic}, qos: ${p.qos}, retain: ${p.retain}, payload: ${JSON.stringify(p.payload.startsWith('{') ? JSON.parse(p.payload) : p.payload)} }`).join('\n')}
`,
    );
    const testRun = cli(['test', dir], { env });
    expect(testRun.stdout).toContain('1 passed, 0 failed');
    expect(testRun.status).toBe(0);
    rmSync(join(dir, 'same.test.yaml'));

    running.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    await sink.close();
    await producer.close();
  }, 60_000);
});
