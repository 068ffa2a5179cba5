/**
 * Sparkplug B end to end (docs/architecture.md, "Payload codecs and Sparkplug B", invariants 55
 * and 56): `mqflow run` against Mosquitto, fed by an edge-node simulator that publishes real
 * Sparkplug B payloads encoded with Eclipse Tahu's `sparkplug-payload` and listens for the
 * commands mqflow sends. Aliases resolve by the last BIRTH; DATA before BIRTH, sequence gaps and
 * stale NDEATHs are reported, rebirth requests are bounded; 64-bit values arrive exact; the alias
 * table outlives a hot reload, and a SIGKILL with a disk store; and a publish with
 * `codec: sparkplugB` is read by Tahu's decoder.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type LogLine, type MqflowProcess } from '../support/runtime.js';

const require = createRequire(import.meta.url);

/** A 64-bit integer of the `long` package Tahu's encoder (protobufjs 6) reads and writes. */
interface Long {
  toString(): string;
}
interface TahuMetric {
  name?: string;
  alias?: number | Long;
  type: string;
  value: unknown;
  timestamp?: number | Long;
}
interface TahuPayload {
  timestamp?: number | Long;
  seq?: number | Long;
  metrics?: TahuMetric[];
}
const tahu = (require('sparkplug-payload') as { get(namespace: string): { encodePayload(p: TahuPayload): Uint8Array; decodePayload(b: Uint8Array): TahuPayload } }).get('spBv1.0');
const Long = createRequire(require.resolve('sparkplug-payload'))('long') as { fromString(text: string, unsigned: boolean): Long };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the flow publishes per metric (out/<edge node>[/<device>]/<metric name or alias-N>). */
interface MetricOut {
  messageType: string;
  name?: string;
  alias?: number;
  datatype?: unknown;
  value: unknown;
  flowVersion?: number;
}

/**
 * The flow under test: every Sparkplug message of group `group` is published whole to
 * seen/<edge node>/<type>, then each of its metrics to out/…; commands (which mqflow itself sends
 * and so receives back) are passed over. `commands/<edge>/<device>` JSON becomes a DCMD.
 */
const flowFile = (options: { group: string; payload: string; flowVersion?: number; stores?: string }): string => `connections:
  plant:
    url: \${env:MQTT_URL}
${options.stores ?? ''}triggers:
  sparkplug:
    connection: plant
    topic: spBv1.0/${options.group}/#
    payload: ${options.payload}
    service: per-metric
    onError:
      publish:
        topic: errors/sparkplug
  commands:
    connection: plant
    topic: commands/+/+
    service: command
services:
  per-metric:
    steps:
      - filter: messageType != "NCMD" and messageType != "DCMD"
      - publish:
          topic: seen/{{ edgeNode }}/{{ messageType }}
      - set:
          node: 'edgeNode & ($exists(device) ? "/" & device : "")'
          mtype: messageType
      - split:
          items: metrics
          steps:
            - publish:
                topic: 'out/{{ $node }}/{{ $exists(name) ? name : "alias-" & $string(alias) }}'
                topicLevels: any
                payload: '{ "messageType": $mtype, "name": name, "alias": alias, "datatype": datatype, "value": value${options.flowVersion === undefined ? '' : `, "flowVersion": ${options.flowVersion}`} }'
  command:
    steps:
      - publish:
          topic: spBv1.0/${options.group}/DCMD/{{ $wildcards[0] }}/{{ $wildcards[1] }}
          codec: sparkplugB
          payload: '{ "metrics": [ { "name": name, "datatype": datatype, "value": value } ] }'
`;

/** An edge node simulator: publishes Tahu-encoded payloads, and records the NCMD/DCMD it receives. */
class EdgeNodes {
  private constructor(
    readonly client: TestClient,
    readonly group: string,
  ) {}

  static async connect(url: string, group: string): Promise<EdgeNodes> {
    const client = await TestClient.connect(url);
    await client.subscribe([`spBv1.0/${group}/NCMD/#`, `spBv1.0/${group}/DCMD/#`], 1);
    return new EdgeNodes(client, group);
  }

  topic(type: string, edge: string, device?: string): string {
    return `spBv1.0/${this.group}/${type}/${edge}${device === undefined ? '' : `/${device}`}`;
  }

  async send(type: string, edge: string, payload: TahuPayload, device?: string): Promise<void> {
    const bytes = Buffer.from(tahu.encodePayload({ timestamp: Date.now(), ...payload }));
    // QoS 1: a message the test loses on the way would look like a sequence gap.
    await this.client.publish(this.topic(type, edge, device), bytes, 1);
  }

  /** The commands received for `edge`, decoded by Tahu. */
  commands(type: 'NCMD' | 'DCMD', edge: string, device?: string): TahuPayload[] {
    return this.client.on(this.topic(type, edge, device)).map((m) => tahu.decodePayload(m.packet.payload as Buffer));
  }

  rebirthRequests(edge: string): TahuPayload[] {
    return this.commands('NCMD', edge).filter((p) => p.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true));
  }

  waitForCommand(type: 'NCMD' | 'DCMD', edge: string, count = 1, device?: string): Promise<void> {
    const topic = this.topic(type, edge, device);
    return this.client.waitFor(count, (m) => m.topic === topic, 10_000);
  }
}

/** An NBIRTH as a Tahu edge node sends it: seq 0, bdSeq, and each metric with its name, alias, datatype and value. */
const nbirth = (bdSeq: number, metrics: TahuMetric[]): TahuPayload => ({ seq: 0, metrics: [{ name: 'bdSeq', type: 'Int64', value: bdSeq }, ...metrics] });

const sparkplugReports = (mq: MqflowProcess, node: string, kind?: string): LogLine[] =>
  mq.lines.filter((l) => l.event === 'sparkplug' && l.node === node && (kind === undefined || l.kind === kind));

const metricsOut = (sink: TestClient, prefix: string): (MetricOut & { topic: string })[] =>
  sink.received.filter((m) => m.topic.startsWith(prefix)).map((m) => ({ topic: m.topic, ...(JSON.parse(m.text) as MetricOut) }));

describe.runIf(RUN_MOSQUITTO)('Sparkplug B, an edge node simulator and mqflow run against mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  let sim: EdgeNodes;
  let sink: TestClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder({ 'flow.yaml': flowFile({ group: 'plant', payload: 'sparkplugB' }) });
    mqflow = startMqflow(dir, { MQTT_URL: broker.url }, ['--watch']);
    sink = await TestClient.connect(broker.url);
    await sink.subscribe(['out/#', 'seen/#', 'errors/#'], 1);
    sim = await EdgeNodes.connect(broker.url, 'plant');
    await mqflow.ready(['sparkplug', 'commands']);
    await mqflow.waitFor((l) => l.event === 'watching');
  }, 30_000);

  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await mqflow?.exited;
    await sim?.client.close();
    await sink?.close();
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('resolves aliases: NDATA and DDATA carrying aliases only arrive with the names NBIRTH and DBIRTH declared', async () => {
    await sim.send('NBIRTH', 'e-alias', nbirth(0, [
      { name: 'Temperature', alias: 1, type: 'Double', value: 20.25 },
      { name: 'Motor/Running', alias: 2, type: 'Boolean', value: false },
    ]));
    await sim.send('DBIRTH', 'e-alias', { seq: 1, metrics: [{ name: 'Pressure', alias: 10, type: 'Float', value: 1.5 }, { name: 'Count', alias: 11, type: 'Int32', value: -3 }] }, 'pump-1');
    await sim.send('NDATA', 'e-alias', { seq: 2, metrics: [{ alias: 1, type: 'Double', value: 21.5 }, { alias: 2, type: 'Boolean', value: true }] });
    await sim.send('DDATA', 'e-alias', { seq: 3, metrics: [{ alias: 10, type: 'Float', value: 2.75 }, { alias: 11, type: 'Int32', value: -7 }] }, 'pump-1');
    await sink.waitFor(1, (m) => m.topic === 'seen/e-alias/DDATA');
    await sink.waitFor(2, (m) => m.topic.startsWith('out/e-alias/pump-1/') && m.text.includes('"DDATA"'));

    const data = metricsOut(sink, 'out/e-alias').filter((m) => m.messageType.endsWith('DATA'));
    expect(data).toEqual([
      { topic: 'out/e-alias/Temperature', messageType: 'NDATA', name: 'Temperature', alias: 1, datatype: 'Double', value: 21.5 },
      { topic: 'out/e-alias/Motor/Running', messageType: 'NDATA', name: 'Motor/Running', alias: 2, datatype: 'Boolean', value: true },
      { topic: 'out/e-alias/pump-1/Pressure', messageType: 'DDATA', name: 'Pressure', alias: 10, datatype: 'Float', value: 2.75 },
      { topic: 'out/e-alias/pump-1/Count', messageType: 'DDATA', name: 'Count', alias: 11, datatype: 'Int32', value: -7 },
    ]);
    // The whole decoded message, as the service saw it.
    const [ddata] = sink.json('seen/e-alias/DDATA') as { group: string; messageType: string; edgeNode: string; device: string; seq: number; timestamp: number; metrics: unknown[] }[];
    expect(ddata).toMatchObject({ group: 'plant', messageType: 'DDATA', edgeNode: 'e-alias', device: 'pump-1', seq: 3 });
    expect(typeof ddata!.timestamp).toBe('number');
    expect(sparkplugReports(mqflow!, 'plant/e-alias')).toEqual([]);
    expect(sparkplugReports(mqflow!, 'plant/e-alias/pump-1')).toEqual([]);
    expect(sim.commands('NCMD', 'e-alias')).toEqual([]);
  });

  it('DATA before BIRTH: passed on with the alias and no name, reported, and answered by a rebirth request; after the BIRTH the alias resolves', async () => {
    await sim.send('NDATA', 'e-nobirth', { seq: 17, metrics: [{ alias: 7, type: 'Double', value: 3.5 }] });
    await sim.waitForCommand('NCMD', 'e-nobirth');
    await sink.waitFor(1, (m) => m.topic.startsWith('out/e-nobirth/') && m.text.includes('"NDATA"'));
    expect(metricsOut(sink, 'out/e-nobirth/')).toEqual([{ topic: 'out/e-nobirth/alias-7', messageType: 'NDATA', alias: 7, datatype: 'Double', value: 3.5 }]);
    await mqflow!.waitFor((l) => l.event === 'sparkplug' && l.node === 'plant/e-nobirth' && l.kind === 'rebirth_requested');
    expect(sparkplugReports(mqflow!, 'plant/e-nobirth', 'data_before_birth')).toHaveLength(1);
    const [request] = sim.rebirthRequests('e-nobirth');
    expect(request?.metrics).toEqual([expect.objectContaining({ name: 'Node Control/Rebirth', type: 'Boolean', value: true })]);
    const ncmd = sim.client.on(sim.topic('NCMD', 'e-nobirth'))[0]!;
    expect(ncmd.packet.qos).toBe(0);

    // The edge node does as asked: a new NBIRTH, after which its aliases resolve.
    await sim.send('NBIRTH', 'e-nobirth', nbirth(1, [{ name: 'Flow', alias: 7, type: 'Double', value: 3.5 }]));
    await sim.send('NDATA', 'e-nobirth', { seq: 1, metrics: [{ alias: 7, type: 'Double', value: 4.25 }] });
    await sink.waitFor(2, (m) => m.topic.startsWith('out/e-nobirth/') && m.text.includes('"NDATA"'));
    expect(metricsOut(sink, 'out/e-nobirth/Flow').filter((m) => m.messageType === 'NDATA')).toEqual([
      { topic: 'out/e-nobirth/Flow', messageType: 'NDATA', name: 'Flow', alias: 7, datatype: 'Double', value: 4.25 },
    ]);
  });

  it('an alias its BIRTH did not declare is passed on without a name, reported, and answered by a rebirth request', async () => {
    await sim.send('NBIRTH', 'e-unknown', nbirth(0, [{ name: 'Known', alias: 1, type: 'Int32', value: 1 }]));
    await sim.send('NDATA', 'e-unknown', { seq: 1, metrics: [{ alias: 1, type: 'Int32', value: 2 }, { alias: 99, type: 'Int32', value: 3 }] });
    await sim.waitForCommand('NCMD', 'e-unknown');
    await sink.waitFor(2, (m) => m.topic.startsWith('out/e-unknown/') && m.text.includes('"NDATA"'));
    expect(metricsOut(sink, 'out/e-unknown/').filter((m) => m.messageType === 'NDATA')).toEqual([
      { topic: 'out/e-unknown/Known', messageType: 'NDATA', name: 'Known', alias: 1, datatype: 'Int32', value: 2 },
      { topic: 'out/e-unknown/alias-99', messageType: 'NDATA', alias: 99, datatype: 'Int32', value: 3 },
    ]);
    await mqflow!.waitFor((l) => l.event === 'sparkplug' && l.node === 'plant/e-unknown' && l.kind === 'rebirth_requested');
    expect(sparkplugReports(mqflow!, 'plant/e-unknown').map((l) => l.kind)).toEqual(['unknown_alias', 'rebirth_requested']);
    expect(sim.rebirthRequests('e-unknown')).toHaveLength(1);
  });

  it('seq wraps from 255 to 0 without a gap report', async () => {
    await sim.send('NBIRTH', 'e-wrap', nbirth(0, [{ name: 'Level', alias: 1, type: 'Int32', value: 0 }]));
    // seq 1 … 255, then 0 and 1 again: 257 NDATA.
    const seqs = [...Array.from({ length: 255 }, (_, i) => i + 1), 0, 1];
    for (const [i, seq] of seqs.entries()) await sim.send('NDATA', 'e-wrap', { seq, metrics: [{ alias: 1, type: 'Int32', value: i }] });
    await sink.waitFor(seqs.length, (m) => m.topic === 'seen/e-wrap/NDATA', 20_000);
    expect((sink.json('seen/e-wrap/NDATA') as { seq: number }[]).map((m) => m.seq)).toEqual(seqs);
    expect(sparkplugReports(mqflow!, 'plant/e-wrap')).toEqual([]);
    expect(sim.commands('NCMD', 'e-wrap')).toEqual([]);
  }, 30_000);

  it('reports each sequence gap, and requests a rebirth only once within the rebirth interval', async () => {
    await sim.send('NBIRTH', 'e-gap', nbirth(0, [{ name: 'Speed', alias: 1, type: 'Double', value: 0 }]));
    for (const seq of [1, 5, 6, 9, 10]) await sim.send('NDATA', 'e-gap', { seq, metrics: [{ alias: 1, type: 'Double', value: seq }] });
    await sink.waitFor(5, (m) => m.topic === 'seen/e-gap/NDATA');
    await sim.waitForCommand('NCMD', 'e-gap');
    // A later message, a fence: whatever the gaps caused has been sent before its output.
    await sim.send('NDATA', 'e-gap', { seq: 11, metrics: [{ alias: 1, type: 'Double', value: 11 }] });
    await sink.waitFor(6, (m) => m.topic === 'seen/e-gap/NDATA');
    await sleep(300);

    const gaps = sparkplugReports(mqflow!, 'plant/e-gap', 'sequence_gap');
    expect(gaps).toHaveLength(2);
    expect(gaps.every((l) => l.level === 40 && l.trigger === 'sparkplug')).toBe(true);
    expect(gaps.map((l) => l.msg)).toEqual([expect.stringMatching(/seq 5, 2 expected/), expect.stringMatching(/seq 9, 7 expected/)]);
    expect(sparkplugReports(mqflow!, 'plant/e-gap', 'rebirth_requested')).toHaveLength(1);
    expect(sim.commands('NCMD', 'e-gap')).toHaveLength(1);
    expect(sim.rebirthRequests('e-gap')).toHaveLength(1);
    // The messages themselves were processed, names resolved.
    expect(metricsOut(sink, 'out/e-gap/').filter((m) => m.messageType === 'NDATA').map((m) => [m.name, m.value])).toEqual([1, 5, 6, 9, 10, 11].map((v) => ['Speed', v]));
    // Counted too: no other node of this file had a gap before.
    const admin = await mqflow!.waitFor((l) => l.event === 'admin');
    const metrics = await (await fetch(`${admin.url as string}/metrics`)).text();
    expect(metrics).toMatch(/mqflow_sparkplug_events_total\{store="memory",kind="sequence_gap"\} 2\n/);
    expect(metrics).toMatch(/mqflow_sparkplug_edge_nodes\{store="memory"\} [1-9]/);
  });

  it('a stale NDEATH (an older bdSeq) does not run the service; the NDEATH of the current NBIRTH does', async () => {
    await sim.send('NBIRTH', 'e-death', nbirth(3, [{ name: 'Online', alias: 1, type: 'Boolean', value: true }]));
    await sink.waitFor(1, (m) => m.topic === 'seen/e-death/NBIRTH');
    // The NDEATH of a previous session (the will of a connection that has been replaced), then the current one.
    await sim.send('NDEATH', 'e-death', { metrics: [{ name: 'bdSeq', type: 'Int64', value: 2 }] });
    await sim.send('NDEATH', 'e-death', { metrics: [{ name: 'bdSeq', type: 'Int64', value: 3 }] });
    await sink.waitFor(1, (m) => m.topic === 'seen/e-death/NDEATH');
    await mqflow!.waitFor((l) => l.event === 'sparkplug' && l.node === 'plant/e-death' && l.kind === 'stale_death');
    // Serial processing: the stale one came first, so it was done before the output of the current one.
    const deaths = sink.json('seen/e-death/NDEATH') as { metrics: { name: string; value: unknown }[] }[];
    expect(deaths).toHaveLength(1);
    expect(deaths[0]!.metrics).toEqual([expect.objectContaining({ name: 'bdSeq', value: 3 })]);
    expect(sparkplugReports(mqflow!, 'plant/e-death').map((l) => l.kind)).toEqual(['stale_death']);
    expect(sink.on('errors/sparkplug')).toEqual([]);
  });

  it('64-bit values beyond 2^53 arrive exact, as decimal strings', async () => {
    await sim.send('NBIRTH', 'e-big', nbirth(0, [
      { name: 'Max', alias: 1, type: 'UInt64', value: Long.fromString('18446744073709551615', true) },
      { name: 'Odd', alias: 2, type: 'UInt64', value: Long.fromString('9007199254740993', true) },
      { name: 'Small', alias: 3, type: 'UInt64', value: 42 },
      { name: 'Negative', alias: 4, type: 'Int64', value: Long.fromString('-9007199254740993', false) },
    ]));
    await sim.send('NDATA', 'e-big', {
      seq: 1,
      metrics: [
        { alias: 1, type: 'UInt64', value: Long.fromString('18446744073709551614', true) },
        { alias: 2, type: 'UInt64', value: Long.fromString('9007199254740995', true) },
        { alias: 3, type: 'UInt64', value: 43 },
        { alias: 4, type: 'Int64', value: Long.fromString('-9223372036854775808', false) },
      ],
    });
    await sink.waitFor(4, (m) => m.topic.startsWith('out/e-big/') && m.text.includes('"NDATA"'));
    const values = (type: string): [string | undefined, unknown][] => metricsOut(sink, 'out/e-big/').filter((m) => m.messageType === type).map((m) => [m.name, m.value]);
    expect(values('NBIRTH')).toEqual([['bdSeq', 0], ['Max', '18446744073709551615'], ['Odd', '9007199254740993'], ['Small', 42], ['Negative', '-9007199254740993']]);
    expect(values('NDATA')).toEqual([['Max', '18446744073709551614'], ['Odd', '9007199254740995'], ['Small', 43], ['Negative', '-9223372036854775808']]);
    // And on the wire, as JSON text: quoted, digit for digit.
    expect(sink.on('out/e-big/Max').map((m) => m.text)).toEqual([expect.stringContaining('"value":"18446744073709551615"'), expect.stringContaining('"value":"18446744073709551614"')]);
  });

  it('a publish with codec sparkplugB sends a DCMD that Tahu decodes: names, datatypes and values right', async () => {
    const driver = await TestClient.connect(broker.url);
    await driver.publish('commands/e-cmd/valve-1', { name: 'Valve/Setpoint', datatype: 'Double', value: 42.5 });
    await driver.publish('commands/e-cmd/valve-1', { name: 'Counter', datatype: 'UInt64', value: '18446744073709551615' });
    await driver.publish('commands/e-cmd/valve-1', { name: 'Open', datatype: 'Boolean', value: true });
    await sim.waitForCommand('DCMD', 'e-cmd', 3, 'valve-1');
    const commands = sim.commands('DCMD', 'e-cmd', 'valve-1');
    expect(commands.map((c) => c.metrics!.map((m) => ({ name: m.name, type: m.type, value: m.value?.toString() })))).toEqual([
      [{ name: 'Valve/Setpoint', type: 'Double', value: '42.5' }],
      [{ name: 'Counter', type: 'UInt64', value: '18446744073709551615' }],
      [{ name: 'Open', type: 'Boolean', value: 'true' }],
    ]);
    expect(typeof commands[0]!.metrics![0]!.value).toBe('number');
    expect(commands[2]!.metrics![0]!.value).toBe(true);
    // The payload's timestamp is filled in; a DCMD carries no seq.
    for (const c of commands) {
      expect(Number(c.timestamp?.toString())).toBeGreaterThan(Date.parse('2024-01-01'));
      expect(c.seq).toBeUndefined();
    }
    await driver.close();
  });

  it('keeps the alias table across a hot reload: after an edit of the service, DATA with aliases only still resolves, without a new BIRTH', async () => {
    await sim.send('NBIRTH', 'e-reload', nbirth(0, [{ name: 'Humidity', alias: 5, type: 'Float', value: 40 }]));
    await sim.send('DBIRTH', 'e-reload', { seq: 1, metrics: [{ name: 'Vibration', alias: 6, type: 'Double', value: 0.5 }] }, 'fan-2');
    await sink.waitFor(1, (m) => m.topic === 'seen/e-reload/DBIRTH');

    const reloads = (): number => mqflow!.lines.filter((l) => l.event === 'reload-applied').length;
    const before = reloads();
    writeFileSync(join(dir, 'flow.yaml.tmp'), flowFile({ group: 'plant', payload: 'sparkplugB', flowVersion: 2 }));
    renameSync(join(dir, 'flow.yaml.tmp'), join(dir, 'flow.yaml'));
    await mqflow!.waitFor(() => reloads() > before, 10_000);

    await sim.send('NDATA', 'e-reload', { seq: 2, metrics: [{ alias: 5, type: 'Float', value: 41.5 }] });
    await sim.send('DDATA', 'e-reload', { seq: 3, metrics: [{ alias: 6, type: 'Double', value: 0.75 }] }, 'fan-2');
    await sink.waitFor(1, (m) => m.topic.startsWith('out/e-reload/fan-2/') && m.text.includes('"DDATA"'));
    const data = metricsOut(sink, 'out/e-reload/').filter((m) => m.messageType.endsWith('DATA'));
    expect(data).toEqual([
      { topic: 'out/e-reload/Humidity', messageType: 'NDATA', name: 'Humidity', alias: 5, datatype: 'Float', value: 41.5, flowVersion: 2 },
      { topic: 'out/e-reload/fan-2/Vibration', messageType: 'DDATA', name: 'Vibration', alias: 6, datatype: 'Double', value: 0.75, flowVersion: 2 },
    ]);
    // Nor was the sequence lost: no report, no rebirth request.
    expect(sparkplugReports(mqflow!, 'plant/e-reload')).toEqual([]);
    expect(sparkplugReports(mqflow!, 'plant/e-reload/fan-2')).toEqual([]);
    expect(sim.commands('NCMD', 'e-reload')).toEqual([]);
  });
});

describe.runIf(RUN_MOSQUITTO)('Sparkplug B alias tables in a disk store, across a SIGKILL, against mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  let state: string;
  let mqflow: MqflowProcess | undefined;

  beforeAll(async () => {
    broker = await startMosquitto();
    state = mkdtempSync(join(tmpdir(), 'mqflow-sparkplug-state-'));
    dir = flowFolder({
      'flow.yaml': flowFile({
        group: 'site2',
        payload: '{ sparkplugB: { store: tables, rebirth: 30s, sequence: check } }',
        stores: `stores:
  tables:
    type: disk
    path: \${env:STATE_DIR}
`,
      }),
    });
  }, 30_000);

  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await mqflow?.exited;
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (state !== undefined) rmSync(state, { recursive: true, force: true });
  });

  it('a restarted mqflow resolves the aliases of the BIRTH its killed predecessor stored, with no rebirth request and no gap report', async () => {
    const env = { MQTT_URL: broker.url, STATE_DIR: state };
    const sink = await TestClient.connect(broker.url);
    await sink.subscribe(['out/#', 'seen/#', 'errors/#'], 1);
    const sim = await EdgeNodes.connect(broker.url, 'site2');

    mqflow = startMqflow(dir, env);
    await mqflow.ready(['sparkplug']);
    await sim.send('NBIRTH', 'e-disk', nbirth(4, [{ name: 'Voltage', alias: 1, type: 'Double', value: 230 }]));
    await sim.send('DBIRTH', 'e-disk', { seq: 1, metrics: [{ name: 'Current', alias: 2, type: 'Float', value: 1.25 }] }, 'meter-1');
    // A BIRTH's outputs leave after its table was stored.
    await sink.waitFor(1, (m) => m.topic === 'seen/e-disk/DBIRTH');

    mqflow.kill('SIGKILL');
    await mqflow.exited;
    mqflow = startMqflow(dir, env);
    await mqflow.ready(['sparkplug']);

    // The node went on meanwhile (seq 2–4 lost with mqflow): after a restart seq is unknown, so this is no gap.
    await sim.send('DDATA', 'e-disk', { seq: 5, metrics: [{ alias: 2, type: 'Float', value: 1.5 }] }, 'meter-1');
    await sim.send('NDATA', 'e-disk', { seq: 6, metrics: [{ alias: 1, type: 'Double', value: 231.5 }] });
    await sink.waitFor(1, (m) => m.topic.startsWith('out/e-disk/') && m.text.includes('"NDATA"'));
    await sleep(300);

    const data = metricsOut(sink, 'out/e-disk').filter((m) => m.messageType.endsWith('DATA'));
    expect(data).toEqual([
      { topic: 'out/e-disk/meter-1/Current', messageType: 'DDATA', name: 'Current', alias: 2, datatype: 'Float', value: 1.5 },
      { topic: 'out/e-disk/Voltage', messageType: 'NDATA', name: 'Voltage', alias: 1, datatype: 'Double', value: 231.5 },
    ]);
    expect(mqflow.lines.filter((l) => l.event === 'sparkplug')).toEqual([]);
    expect(sim.commands('NCMD', 'e-disk')).toEqual([]);
    expect(sink.on('errors/sparkplug')).toEqual([]);

    mqflow.kill('SIGTERM');
    expect(await mqflow.exited).toBe(0);
    await sim.client.close();
    await sink.close();
  }, 30_000);
});
