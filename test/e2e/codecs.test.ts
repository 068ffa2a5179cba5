/**
 * Payload codecs end to end (docs/codecs.md; docs/architecture.md, invariants 53 and 54): `mqflow
 * run` against Mosquitto, with a .proto file in its flow folder. A device publishes Protocol
 * Buffers (encoded here with protobufjs), the flow decodes them and publishes CBOR, which the test
 * reads with cbor-x; CBOR in becomes Protocol Buffers out. 64-bit integers beyond 2^53 stay exact
 * all the way. A payload its codec cannot read goes to the error route with the codec's code and
 * the raw bytes, and the next message is processed; editing the .proto file alone reloads.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder, Encoder } from 'cbor-x';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TELEMETRY_PROTO = `// A meter reading as a device sends it.
syntax = "proto3";

package acme.telemetry;

message Reading {
  string meter = 1;
  double kilowatts = 2;
  int64 total_wh = 3;
  Status status = 4;
  repeated double phases = 5;
  uint64 serial = 6;
  bytes raw = 7;
  int32 errors = 8;
}

enum Status {
  STATUS_UNKNOWN = 0;
  OK = 1;
  FAULT = 2;
}
`;

const STATE_PROTO = (field: string): string => `syntax = "proto3";
package acme.status;
message DeviceState {
  string device = 1;
  string ${field} = 2;
}
`;

const FLOW = `connections:
  plant:
    url: \${env:MQTT_URL}
triggers:
  readings:
    connection: plant
    topic: meters/+/reading
    payload:
      protobuf:
        file: proto/telemetry.proto
        type: acme.telemetry.Reading
    service: to-historian
    onError:
      publish:
        topic: errors/protobuf
  cbor-readings:
    connection: plant
    topic: cbor/+/reading
    payload: cbor
    service: to-protobuf
    onError:
      publish:
        topic: errors/cbor
  states:
    connection: plant
    topic: states/+
    payload:
      protobuf:
        file: proto/state.proto
        type: acme.status.DeviceState
    service: state-to-json
services:
  to-historian:
    steps:
      - transform: |
          {
            "meter": meter,
            "watts": kilowatts * 1000,
            "totalWh": totalWh,
            "serial": serial,
            "fault": status = "FAULT",
            "status": status,
            "phases": phases,
            "raw": raw,
            "errors": errors,
            "topic": $topic
          }
      - publish:
          topic: historian/{{ meter }}
          codec: cbor
  to-protobuf:
    steps:
      - publish:
          topic: protobuf-out/{{ $wildcards[0] }}
          codec:
            protobuf:
              file: proto/telemetry.proto
              type: acme.telemetry.Reading
          payload: '{ "meter": device, "kilowatts": kw, "totalWh": total, "status": state, "phases": phases }'
  state-to-json:
    steps:
      - publish:
          topic: states-json/{{ $wildcards[0] }}
`;

const cborIn = new Encoder({ useRecords: false });
const cborOut = new Decoder({ useRecords: false, mapsAsObjects: true });

interface ErrorReport {
  error: { code: string; message: string };
  message: { topic: string; payload: string; payloadEncoding: string };
  attempts: number;
}

describe.runIf(RUN_MOSQUITTO)('protobuf and CBOR through mqflow run, against mosquitto', () => {
  let broker: Mosquitto;
  let dir: string;
  let mqflow: MqflowProcess | undefined;
  let sink: TestClient;
  let device: TestClient;
  const Reading = protobuf.parse(TELEMETRY_PROTO).root.lookupType('acme.telemetry.Reading');

  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder({ 'flow.yaml': FLOW, 'proto/telemetry.proto': TELEMETRY_PROTO, 'proto/state.proto': STATE_PROTO('state') });
    mqflow = startMqflow(dir, { MQTT_URL: broker.url }, ['--watch']);
    sink = await TestClient.connect(broker.url);
    await sink.subscribe(['historian/#', 'protobuf-out/#', 'states-json/#', 'errors/#'], 1);
    device = await TestClient.connect(broker.url);
    await mqflow.ready(['readings', 'cbor-readings', 'states']);
    await mqflow.waitFor((l) => l.event === 'watching');
  }, 30_000);

  afterAll(async () => {
    mqflow?.kill('SIGKILL');
    await mqflow?.exited;
    await device?.close();
    await sink?.close();
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const historian = (meter: string): Record<string, unknown>[] => sink.on(`historian/${meter}`).map((m) => cborOut.decode(m.packet.payload as Buffer) as Record<string, unknown>);
  const errors = (topic: string): ErrorReport[] => sink.json(topic) as ErrorReport[];

  it('protobuf in, CBOR out: exact values, 64-bit integers beyond 2^53 as strings, defaults present, enums by name, bytes as base64', async () => {
    const reading = Reading.encode(
      Reading.fromObject({
        meter: 'm-17',
        kilowatts: 3.5,
        totalWh: '9007199254740993',
        status: 'FAULT',
        phases: [1.25, 1.5, 0.75],
        serial: '18446744073709551615',
        raw: Buffer.from([0, 1, 254, 255]),
        // errors left out: proto3 sends nothing for 0, and the JSON form has it as 0.
      }),
    ).finish();
    await device.publish('meters/m-17/reading', Buffer.from(reading));
    await sink.waitFor(1, (m) => m.topic === 'historian/m-17');
    const [out] = historian('m-17');
    expect(out).toEqual({
      meter: 'm-17',
      watts: 3500,
      totalWh: '9007199254740993',
      serial: '18446744073709551615',
      fault: true,
      status: 'FAULT',
      phases: [1.25, 1.5, 0.75],
      raw: Buffer.from([0, 1, 254, 255]).toString('base64'),
      errors: 0,
      topic: 'meters/m-17/reading',
    });
    // A small 64-bit value is a string too (the proto3 JSON mapping), exact either way.
    await device.publish('meters/m-18/reading', Buffer.from(Reading.encode(Reading.fromObject({ meter: 'm-18', totalWh: 42, status: 'OK' })).finish()));
    await sink.waitFor(1, (m) => m.topic === 'historian/m-18');
    expect(historian('m-18')[0]).toMatchObject({ meter: 'm-18', watts: 0, totalWh: '42', serial: '0', fault: false, status: 'OK', phases: [], raw: '', errors: 0 });
  });

  it('CBOR in, protobuf out: a CBOR 64-bit integer beyond 2^53 reaches the protobuf message exact', async () => {
    const payload = cborIn.encode({ device: 'c-1', kw: 0.25, total: 9007199254740993n, state: 'OK', phases: [230.5, 231] });
    await device.publish('cbor/c-1/reading', payload);
    await sink.waitFor(1, (m) => m.topic === 'protobuf-out/c-1');
    const decoded = Reading.toObject(Reading.decode(sink.on('protobuf-out/c-1')[0]!.packet.payload as Buffer), { longs: String, enums: String, defaults: true });
    expect(decoded).toMatchObject({ meter: 'c-1', kilowatts: 0.25, totalWh: '9007199254740993', status: 'OK', phases: [230.5, 231] });
  });

  it('a payload protobuf cannot read goes to the error route with MQFLOW_PAYLOAD_PROTOBUF and its raw bytes; the next message is processed', async () => {
    // A string field whose declared length runs far past the payload, one that is not UTF-8, and JSON sent by mistake.
    const bad = [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x41]), Buffer.from([0x0a, 0x02, 0xc3, 0x28]), Buffer.from('{"meter":"m-bad"}')];
    for (const payload of bad) await device.publish('meters/m-bad/reading', payload);
    await device.publish('meters/m-after/reading', Buffer.from(Reading.encode(Reading.fromObject({ meter: 'm-after', kilowatts: 1 })).finish()));
    await sink.waitFor(3, (m) => m.topic === 'errors/protobuf');
    await sink.waitFor(1, (m) => m.topic === 'historian/m-after');
    const reports = errors('errors/protobuf');
    expect(reports.map((r) => r.error.code)).toEqual(['MQFLOW_PAYLOAD_PROTOBUF', 'MQFLOW_PAYLOAD_PROTOBUF', 'MQFLOW_PAYLOAD_PROTOBUF']);
    expect(reports.map((r) => [r.message.topic, r.attempts])).toEqual(bad.map(() => ['meters/m-bad/reading', 1]));
    // The raw payload: base64 when it is not UTF-8, else its text.
    expect(reports.map((r) => [r.message.payloadEncoding, r.message.payload])).toEqual([
      ['base64', bad[0]!.toString('base64')],
      ['base64', bad[1]!.toString('base64')],
      ['utf8', '{"meter":"m-bad"}'],
    ]);
    expect(historian('m-after')).toEqual([expect.objectContaining({ meter: 'm-after', watts: 1000 })]);
    expect(sink.on('historian/m-bad')).toEqual([]);
  });

  it('a payload that is not CBOR goes to the error route with MQFLOW_PAYLOAD_CBOR; the next message is processed', async () => {
    // A byte string declaring 4 GiB in a 6-byte payload, a reserved initial byte, one item with trailing bytes.
    const bad = [Buffer.from([0x5a, 0xff, 0xff, 0xff, 0xff, 0x00]), Buffer.from([0x1c, 0x00]), Buffer.from([0x01, 0x02])];
    for (const payload of bad) await device.publish('cbor/c-bad/reading', payload);
    await device.publish('cbor/c-after/reading', cborIn.encode({ device: 'c-after', kw: 2, total: 7, state: 'FAULT', phases: [] }));
    await sink.waitFor(3, (m) => m.topic === 'errors/cbor');
    await sink.waitFor(1, (m) => m.topic === 'protobuf-out/c-after');
    const reports = errors('errors/cbor');
    expect(reports.map((r) => r.error.code)).toEqual(['MQFLOW_PAYLOAD_CBOR', 'MQFLOW_PAYLOAD_CBOR', 'MQFLOW_PAYLOAD_CBOR']);
    expect(reports.map((r) => Buffer.from(r.message.payload, r.message.payloadEncoding === 'base64' ? 'base64' : 'utf8').toString('base64'))).toEqual(bad.map((b) => b.toString('base64')));
    const after = Reading.toObject(Reading.decode(sink.on('protobuf-out/c-after')[0]!.packet.payload as Buffer), { longs: String, enums: String });
    expect(after).toMatchObject({ meter: 'c-after', kilowatts: 2, totalWh: '7', status: 'FAULT' });
    expect(sink.on('protobuf-out/c-bad')).toEqual([]);
  });

  it('a value of the wrong type for the protobuf message fails the publish with MQFLOW_ENCODE_PROTOBUF; nothing is sent', async () => {
    await device.publish('cbor/c-wrong/reading', cborIn.encode({ device: 'c-wrong', kw: 'not a number', total: 1, state: 'OK', phases: [] }));
    await device.publish('cbor/c-enum/reading', cborIn.encode({ device: 'c-enum', kw: 1, total: 1, state: 'NOT_A_STATUS', phases: [] }));
    await device.publish('cbor/c-last/reading', cborIn.encode({ device: 'c-last', kw: 1, total: 1, state: 'OK', phases: [] }));
    await sink.waitFor(1, (m) => m.topic === 'protobuf-out/c-last');
    await sink.waitFor(2, (m) => m.topic === 'errors/cbor' && m.text.includes('MQFLOW_ENCODE_PROTOBUF'));
    const encodeErrors = errors('errors/cbor').filter((r) => r.error.code === 'MQFLOW_ENCODE_PROTOBUF');
    expect(encodeErrors.map((r) => r.message.topic)).toEqual(['cbor/c-wrong/reading', 'cbor/c-enum/reading']);
    expect(encodeErrors[0]!.error.message).toMatch(/kilowatts/);
    expect(sink.on('protobuf-out/c-wrong')).toEqual([]);
    expect(sink.on('protobuf-out/c-enum')).toEqual([]);
  });

  it('editing only the .proto file reloads what uses it: a renamed field comes out under its new name', async () => {
    const Original = protobuf.parse(STATE_PROTO('state')).root.lookupType('acme.status.DeviceState');
    const bytes = Buffer.from(Original.encode(Original.fromObject({ device: 'pump-3', state: 'running' })).finish());
    await device.publish('states/pump-3', bytes);
    await sink.waitFor(1, (m) => m.topic === 'states-json/pump-3');

    const reloads = (): number => mqflow!.lines.filter((l) => l.event === 'reload-applied').length;
    const before = reloads();
    writeFileSync(join(dir, 'proto', 'state.proto.tmp'), STATE_PROTO('operating_mode'));
    renameSync(join(dir, 'proto', 'state.proto.tmp'), join(dir, 'proto', 'state.proto'));
    await mqflow!.waitFor(() => reloads() > before, 10_000);

    await device.publish('states/pump-3', bytes);
    await sink.waitFor(2, (m) => m.topic === 'states-json/pump-3');
    expect(sink.json('states-json/pump-3')).toEqual([
      { device: 'pump-3', state: 'running' },
      { device: 'pump-3', operatingMode: 'running' },
    ]);
  });
});
