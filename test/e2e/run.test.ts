import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, type TestBroker } from '../support/brokers.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const connection = `connections:
  plant:
    url: \${env:MQTT_URL}
    reconnectPeriod: 200ms
`;

describe.each(BROKERS)('mqflow run against the $name', ({ start }) => {
  let broker: TestBroker;
  let client: TestClient;
  const processes: MqflowProcess[] = [];
  const folders: string[] = [];

  beforeAll(async () => {
    broker = await start();
  });
  afterAll(async () => {
    await broker.stop();
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      p.kill('SIGKILL');
      await p.exited;
    }
    await client?.close();
    for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
  });

  async function run(files: Record<string, string>, triggers: string[], args: string[] = []): Promise<MqflowProcess> {
    const dir = flowFolder({ 'connections.yaml': connection, ...files });
    folders.push(dir);
    const p = startMqflow(dir, { MQTT_URL: broker.url }, args);
    processes.push(p);
    await p.ready(triggers);
    client = await TestClient.connect(broker.url);
    return p;
  }

  it('transforms and publishes, with the message context and variables', async () => {
    await run(
      {
        'flow.yaml': `triggers:
  temperature-in:
    connection: plant
    topic: plant/+/sensors/+/temperature
    service: normalize
services:
  normalize:
    steps:
      - set: { site: '$wildcards[0]', sensor: '$wildcards[1]' }
      - transform: '{ "site": $site, "device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "topic": $topic, "levels": $count($levels), "trigger": $message.trigger, "qos": $message.qos }'
      - publish:
          topic: out/{{ site }}/{{ device }}
`,
      },
      ['temperature-in'],
    );
    await client.subscribe('out/#');
    await client.publish('plant/north/sensors/oven-3/temperature', { deviceId: 'oven-3', temp_f: 212 });
    await client.waitFor(1);
    expect(client.on('out/north/oven-3').map((m) => JSON.parse(m.text) as unknown)).toEqual([
      { site: 'north', device: 'oven-3', celsius: 100, topic: 'plant/north/sensors/oven-3/temperature', levels: 5, trigger: 'temperature-in', qos: 1 },
    ]);
  });

  it('routes poison messages to the dead-letter topic with the reason, and goes on', async () => {
    await run(
      {
        'flow.yaml': `triggers:
  readings:
    connection: plant
    topic: in/readings
    service: convert
    onError:
      publish: { topic: dead/letters }
services:
  convert:
    input:
      type: object
      required: [value]
      properties: { value: { type: number } }
    steps:
      - transform: 'flag = true ? $error("refused") : { "double": value * 2 }'
      - publish: { topic: out/converted }
`,
      },
      ['readings'],
    );
    await client.subscribe(['dead/letters', 'out/converted']);
    await client.publish('in/readings', 'not json');
    await client.publish('in/readings', { value: 'seven' });
    await client.publish('in/readings', { value: 1, flag: true });
    await client.publish('in/readings', { value: 21 });
    await client.waitFor(4);
    const dead = client.json('dead/letters') as { error: { code: string; message: string }; message: { topic: string; payload: unknown }; trigger: string; attempts: number }[];
    expect(dead.map((d) => d.error.code)).toEqual(['MQFLOW_PAYLOAD_JSON', 'MQFLOW_INPUT', 'D3137']);
    expect(dead[0]!.error.message).toMatch(/^the payload is not valid JSON/);
    expect(dead[0]!.message).toMatchObject({ topic: 'in/readings', payload: 'not json', payloadEncoding: 'utf8' });
    expect(dead[1]!.error.message).toBe('services.convert.input: the payload does not match the schema: payload.value must be number');
    expect(dead[1]!.message.payload).toEqual({ value: 'seven' });
    expect(dead[2]!.error.message).toMatch(/^services\.convert\.steps\[0\]: JSONata error D3137: refused/);
    expect(dead.every((d) => d.trigger === 'readings' && d.attempts === 1)).toBe(true);
    expect(client.json('out/converted')).toEqual([{ double: 42 }]);
  });

  it('bounds expressions in time and depth: a runaway expression fails that message only', async () => {
    await run(
      {
        'flow.yaml': `triggers:
  compute:
    connection: plant
    topic: in/compute
    service: compute
    onError:
      publish: { topic: dead/compute }
services:
  compute:
    steps:
      - choice:
          - when: mode = "recurse"
            steps:
              - transform: '($f := function($n) { 1 + $f($n + 1) }; $f(0))'
          - when: mode = "spin"
            steps:
              - transform: '$count([1..9000000].($ * 2))'
      - publish: { topic: out/compute, payload: '{ "ok": value }' }
`,
      },
      ['compute'],
      // The spin's 9,000,000-item range is over the default sequence bound (D2015); raise it so time is what stops it.
      ['--expression-timeout', '300ms', '--expression-depth', '200', '--expression-max-sequence', '10000000'],
    );
    await client.subscribe(['dead/compute', 'out/compute']);
    await client.publish('in/compute', { mode: 'recurse' });
    await client.publish('in/compute', { mode: 'spin' });
    await client.publish('in/compute', { mode: 'plain', value: 7 });
    await client.waitFor(3, () => true, 30_000);
    const dead = client.json('dead/compute') as { error: { code: string; message: string } }[];
    expect(dead.map((d) => d.error.code)).toEqual(['D1011', 'D1012']); // depth, then time
    expect(dead[1]!.error.message).toMatch(/Evaluation timeout after 300 milliseconds/);
    expect(client.json('out/compute')).toEqual([{ ok: 7 }]);
  });
});
