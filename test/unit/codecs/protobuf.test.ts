/**
 * The protobuf codec: compiling a .proto file (problems at their line, imports kept inside the
 * folder), the proto3 JSON form a service sees, what a publish sends, and hostile payloads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PayloadCodec } from '../../../src/codecs/codec.js';
import { compileProtobuf, type ProtobufProblem } from '../../../src/codecs/protobuf.js';
import { MessageFailure } from '../../../src/pipeline/execution.js';

const TELEMETRY = `syntax = "proto3";
package acme;

import "units.proto";
import "google/protobuf/timestamp.proto";

message Telemetry {
  string device_id = 1;
  double temperature = 2;
  float ratio = 3;
  int64 total_wh = 4;
  uint64 counter = 5;
  int32 level = 6;
  uint32 flags = 7;
  sint64 delta = 8;
  bool on = 9;
  bytes raw = 10;
  repeated double samples = 11;
  map<string, Unit> units = 12;
  Unit unit = 13;
  Status status = 14;
  oneof value {
    int32 number = 15;
    string label = 16;
  }
  optional int32 spare = 17;
  google.protobuf.Timestamp at = 18;
  map<int32, string> names = 19;
}

message Node {
  Node child = 1;
  string name = 2;
}
`;

const UNITS = `syntax = "proto3";
package acme;

message Unit { string name = 1; }
enum Status { STATUS_UNKNOWN = 0; OK = 1; FAULT = 2; }
`;

let dir: string;
const file = (relative: string): string => path.join(dir, relative);
const read = (absolutePath: string): string => fs.readFileSync(absolutePath, 'utf8');

function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(file(name)), { recursive: true });
    fs.writeFileSync(file(name), text);
  }
}

function compile(relative: string, type: string): PayloadCodec {
  const compiled = compileProtobuf({ file: file(relative), type, readFile: read });
  if ('problem' in compiled) throw new Error(`unexpected problem: ${JSON.stringify(compiled.problem)}`);
  return compiled.codec;
}

function problem(relative: string, type: string): ProtobufProblem {
  const compiled = compileProtobuf({ file: file(relative), type, readFile: read });
  if (!('problem' in compiled)) throw new Error('expected a problem');
  return compiled.problem;
}

function failure(run: () => unknown, code: string): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MessageFailure);
    expect((error as MessageFailure).code).toBe(code);
    return (error as MessageFailure).message;
  }
  throw new Error('expected a MessageFailure');
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqflow-protobuf-'));
  write({ 'telemetry.proto': TELEMETRY, 'units.proto': UNITS });
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every field of a Telemetry in the proto3 JSON form, as decode gives it. */
const FULL = {
  samples: [0.1, -2.5, 1e300],
  units: { 'ü😀': { name: 'Celsius' }, __proto__x: { name: '' } },
  names: { '-3': 'minus three', 7: 'seven' },
  deviceId: 'ofen-3 ✓',
  temperature: 21.5,
  ratio: 0.5,
  totalWh: '9007199254740993',
  counter: '18446744073709551615',
  level: -2147483648,
  flags: 4294967295,
  delta: '-9223372036854775808',
  on: true,
  raw: 'AAEC/w==',
  unit: { name: 'K' },
  status: 'FAULT',
  at: { seconds: '1700000000', nanos: 500 },
  label: 'hot',
  spare: 0,
};

describe('compileProtobuf', () => {
  it('compiles a type, reading its imports beside it and Google types from protobufjs', () => {
    const compiled = compileProtobuf({ file: file('telemetry.proto'), type: 'acme.Telemetry', readFile: read });
    expect('problem' in compiled).toBe(false);
    if ('problem' in compiled) return;
    expect(compiled.files).toEqual([file('telemetry.proto'), file('units.proto')]);
    expect(compiled.codec.label).toBe('protobuf acme.Telemetry');
  });

  it('uses google.protobuf well-known types, two of them from one file tree', () => {
    write({ 'times.proto': 'syntax = "proto3";\nimport "google/protobuf/timestamp.proto";\nimport "google/protobuf/duration.proto";\nmessage Window { google.protobuf.Timestamp start = 1; google.protobuf.Duration length = 2; }\n' });
    const codec = compile('times.proto', 'Window');
    const value = { start: { seconds: '1700000000', nanos: 1 }, length: { seconds: '60', nanos: 0 } };
    expect(codec.decode(codec.encode(value))).toEqual(value);
    expect(codec.decode(Buffer.alloc(0))).toEqual({ start: null, length: null });
  });

  it('reports a syntax error at its line, with protobufjs\' message', () => {
    write({ 'broken.proto': 'syntax = "proto3";\n\nmessage Broken {\n  int32 a = ;\n}\n' });
    expect(problem('broken.proto', 'Broken')).toEqual({ file: file('broken.proto'), line: 4, message: "illegal id ';'" });
    write({ 'main.proto': 'syntax = "proto3";\nimport "bad-import.proto";\nmessage M { Bad b = 1; }\n', 'bad-import.proto': 'syntax = "proto3";\nmessage Bad {\n  int32 x = 1\n}\n' });
    expect(problem('main.proto', 'M')).toEqual({ file: file('bad-import.proto'), line: 4, message: "illegal token '}', ';' expected" });
  });

  it('names the types the file defines when the type is not one of them', () => {
    const p = problem('telemetry.proto', 'Telemetry');
    expect(p).toEqual({
      file: file('telemetry.proto'),
      message: 'telemetry.proto (with its imports) defines no message type Telemetry',
      hint: 'message types it defines: acme.Telemetry, acme.Node, acme.Unit',
    });
    write({ 'many.proto': `syntax = "proto3";\npackage many;\n${Array.from({ length: 12 }, (_, i) => `message M${i} {}`).join('\n')}\n` });
    expect(problem('many.proto', 'many.Nope').hint).toBe('message types it defines: many.M0, many.M1, many.M2, many.M3, many.M4, many.M5, many.M6, many.M7, many.M8, many.M9, … (12 in all)');
    expect(problem('telemetry.proto', 'acme.Status').message).toMatch(/defines no message type acme\.Status/); // an enum, not a message
  });

  it('reports a field of a type nobody defines, in the file of the field', () => {
    write({ 'undefined-type.proto': 'syntax = "proto3";\nimport "uses-missing.proto";\nmessage Outer { Inner inner = 1; }\n', 'uses-missing.proto': 'syntax = "proto3";\nmessage Inner { Missing m = 1; }\n' });
    expect(problem('undefined-type.proto', 'Outer')).toEqual({
      file: file('uses-missing.proto'),
      message: "no such Type or Enum 'Missing' in Type .Inner",
      hint: 'check the spelling and package of the type, and that its file is imported',
    });
  });

  it('finds an import beside the importing file or from the top folder, as protoc -I would', () => {
    write({
      'tree/top.proto': 'syntax = "proto3";\nimport "lib/a.proto";\nmessage Top { A a = 1; }\n',
      'tree/lib/a.proto': 'syntax = "proto3";\nimport "lib/b.proto";\nimport "c.proto";\nmessage A { B b = 1; C c = 2; }\n',
      'tree/lib/b.proto': 'syntax = "proto3";\nmessage B { string v = 1; }\n',
      'tree/lib/c.proto': 'syntax = "proto3";\nimport "b.proto";\nmessage C { B w = 1; }\n',
    });
    const reads: string[] = [];
    const compiled = compileProtobuf({ file: file('tree/top.proto'), type: 'Top', readFile: (p) => (reads.push(p), read(p)) });
    expect('problem' in compiled ? compiled.problem : compiled.files).toEqual([file('tree/top.proto'), file('tree/lib/a.proto'), file('tree/lib/b.proto'), file('tree/lib/c.proto')]);
    expect(reads.filter((p) => p === file('tree/lib/b.proto'))).toHaveLength(1); // imported twice, read once
  });

  it('refuses an import that leads outside the folder of the file, at its line', () => {
    write({ 'outside.proto': 'syntax = "proto3";\nmessage Secret {}\n', 'inner/escape.proto': 'syntax = "proto3";\n\nimport "../outside.proto";\nmessage E { Secret s = 1; }\n' });
    const folder = path.join(dir, 'inner');
    expect(problem('inner/escape.proto', 'E')).toEqual({
      file: file('inner/escape.proto'),
      line: 3,
      message: `import "../outside.proto" leads outside ${folder}`,
      hint: `a .proto file may import only files in its own folder tree (${folder})`,
    });
    write({ 'inner/absolute.proto': `syntax = "proto3";\nimport "${file('outside.proto')}";\n` });
    expect(problem('inner/absolute.proto', 'E').message).toBe(`import "${file('outside.proto')}" leads outside ${folder}`);
  });

  it('reports an import that is not there', () => {
    write({ 'lonely.proto': 'syntax = "proto3";\nimport "nowhere.proto";\nmessage L {}\n' });
    const p = problem('lonely.proto', 'L');
    expect(p).toMatchObject({ file: file('lonely.proto'), line: 2, hint: `looked for ${file('nowhere.proto')}` });
    expect(p.message).toMatch(/^import "nowhere\.proto" cannot be read: ENOENT/);
  });

  it('reports a file it cannot read', () => {
    expect(problem('absent.proto', 'X').message).toMatch(/^cannot read .*absent\.proto: ENOENT/);
  });

  it('refuses map fields whose keys protobufjs gets wrong', () => {
    write({ 'maps.proto': 'syntax = "proto3";\nmessage Outer { Inner inner = 1; }\nmessage Inner { map<int64, string> by_id = 1; }\nmessage Flags { map<bool, int32> counts = 1; }\n' });
    expect(problem('maps.proto', 'Outer')).toEqual({
      file: file('maps.proto'),
      message: 'Inner.byId: map<int64, …> is not supported (protobufjs decodes such keys as binary hashes)',
      hint: 'use string keys, or a repeated message of key and value',
    });
    expect(problem('maps.proto', 'Flags').message).toBe('Flags.counts: map<bool, …> is not supported (protobufjs encodes the key "false" as true)');
  });
});

describe('protobuf: decode and encode', () => {
  let codec: PayloadCodec;
  let Telemetry: protobuf.Type;
  beforeAll(() => {
    codec = compile('telemetry.proto', 'acme.Telemetry');
    const root = new protobuf.Root();
    protobuf.parse(UNITS, root);
    root.addJSON(protobuf.common.get('google/protobuf/timestamp.proto')!.nested!);
    protobuf.parse(TELEMETRY, root);
    root.resolveAll();
    Telemetry = root.lookupType('acme.Telemetry');
  });

  it('decodes an empty message to every field at its default', () => {
    expect(codec.decode(Buffer.alloc(0))).toEqual({
      samples: [], units: {}, names: {}, deviceId: '', temperature: 0, ratio: 0, totalWh: '0', counter: '0', level: 0, flags: 0,
      delta: '0', on: false, raw: '', unit: null, status: 'STATUS_UNKNOWN', at: null,
    });
  });

  it('gives back every field, 64-bit integers exact, unicode, floats and bytes', () => {
    const back = codec.decode(codec.encode(FULL));
    expect(back).toEqual(FULL);
    expect(JSON.parse(JSON.stringify(back))).toEqual(back); // plain JSON data: no Long, no Buffer
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it('reads a message protobufjs encoded itself', () => {
    const message = Telemetry.create({
      deviceId: 'd-1',
      totalWh: new protobuf.util.LongBits(1, 0x200000).toLong(), // 2^53 + 1
      counter: new protobuf.util.LongBits(0xffffffff, 0xffffffff).toLong(true), // 2^64 - 1
      raw: Buffer.from([1, 2, 3]),
      status: 1,
      number: 42,
      units: { a: { name: 'x' } },
      at: { seconds: 5, nanos: 6 },
    });
    expect(codec.decode(Buffer.from(Telemetry.encode(message).finish()))).toMatchObject({
      deviceId: 'd-1', totalWh: '9007199254740993', counter: '18446744073709551615', raw: 'AQID', status: 'OK', number: 42,
      units: { a: { name: 'x' } }, at: { seconds: '5', nanos: 6 },
    });
  });

  it('sends what protobufjs reads as the same message', () => {
    const decoded = Telemetry.toObject(Telemetry.decode(codec.encode({ totalWh: 12, counter: '7', level: '-5', status: 2, samples: ['1.5', 'NaN'] })), { longs: String });
    expect(decoded).toEqual({ totalWh: '12', counter: '7', level: -5, status: 2, samples: [1.5, Number.NaN] });
  });

  it('takes 64-bit integers as numbers or decimal strings, and numbers as numeric strings', () => {
    expect(codec.decode(codec.encode({ totalWh: 5, delta: -7, counter: 9007199254740991 }))).toMatchObject({ totalWh: '5', delta: '-7', counter: '9007199254740991' });
    expect(codec.decode(codec.encode({ totalWh: 2 ** 60 }))).toMatchObject({ totalWh: '1152921504606846976' });
    expect(codec.decode(codec.encode({ level: '12', flags: '4294967295', temperature: '-1.5e3', ratio: 'Infinity' }))).toMatchObject({ level: 12, flags: 4294967295, temperature: -1500, ratio: 'Infinity' });
    expect(codec.decode(codec.encode({ temperature: 'NaN' }))).toMatchObject({ temperature: 'NaN' });
    expect(codec.decode(codec.encode({ status: 1 }))).toMatchObject({ status: 'OK' });
    expect(codec.decode(codec.encode({ status: 9 }))).toMatchObject({ status: 9 }); // an unknown number stays a number
  });

  it('refuses a value that does not fit, naming the field', () => {
    const unfit = (value: unknown): string => failure(() => codec.encode(value), 'MQFLOW_ENCODE_PROTOBUF');
    expect(unfit({ nope: 1 })).toBe('the value does not fit acme.Telemetry: nope: acme.Telemetry has no field nope (fields: deviceId, temperature, ratio, totalWh, counter, level, flags, delta, on, raw, samples, units, unit, status, number, label, spare, at, names)');
    expect(unfit({ device_id: 'x' })).toMatch(/^the value does not fit acme\.Telemetry: device_id: acme\.Telemetry has no field device_id/);
    expect(unfit({ level: 'abc' })).toBe('the value does not fit acme.Telemetry: level: an integer (int32) expected, got the string "abc"');
    expect(unfit({ level: 1.5 })).toBe('the value does not fit acme.Telemetry: level: an integer (int32) expected, got 1.5');
    expect(unfit({ deviceId: {} })).toBe('the value does not fit acme.Telemetry: deviceId: a string expected, got an object');
    expect(unfit({ level: 2147483648 })).toBe('the value does not fit acme.Telemetry: level: 2147483648 is out of range for int32');
    expect(unfit({ flags: -1 })).toBe('the value does not fit acme.Telemetry: flags: -1 is out of range for uint32');
    expect(unfit({ counter: '18446744073709551616' })).toBe('the value does not fit acme.Telemetry: counter: 18446744073709551616 is out of range for uint64');
    expect(unfit({ totalWh: '9223372036854775808' })).toBe('the value does not fit acme.Telemetry: totalWh: 9223372036854775808 is out of range for int64');
    expect(unfit({ totalWh: '1'.repeat(1000) })).toMatch(/totalWh: an integer \(int64\) expected, got the string "1111/);
    expect(unfit({ ratio: 1e39 })).toBe('the value does not fit acme.Telemetry: ratio: 1e+39 is out of range for float');
    expect(unfit({ on: 'true' })).toBe('the value does not fit acme.Telemetry: on: true or false expected, got the string "true"');
    expect(unfit({ raw: 'not base64!' })).toBe('the value does not fit acme.Telemetry: raw: base64 text expected, got the string "not base64!"');
    expect(unfit({ status: 'BROKEN' })).toBe('the value does not fit acme.Telemetry: status: one of STATUS_UNKNOWN, OK, FAULT (enum acme.Status) or its number expected, got the string "BROKEN"');
    expect(unfit({ samples: 1 })).toBe('the value does not fit acme.Telemetry: samples: an array expected, got 1');
    expect(unfit({ samples: [1, null] })).toBe('the value does not fit acme.Telemetry: samples[1]: a number expected, got null');
    expect(unfit({ units: { a: { name: 5 } } })).toBe('the value does not fit acme.Telemetry: units["a"].name: a string expected, got 5');
    expect(unfit({ units: { a: 'x' } })).toBe('the value does not fit acme.Telemetry: units["a"]: an object (acme.Unit) expected, got the string "x"');
    expect(unfit({ names: { one: 'x' } })).toBe('the value does not fit acme.Telemetry: names: key "one": an integer (int32) expected, got the string "one"');
    expect(unfit({ unit: { name: 'x', extra: 1 } })).toMatch(/^the value does not fit acme\.Telemetry: unit\.extra: acme\.Unit has no field extra/);
    expect(unfit({ number: 1, label: 'x' })).toBe('the value does not fit acme.Telemetry: number and label are members of oneof value; set one at most');
    expect(unfit([1])).toBe('the value does not fit acme.Telemetry: an object (acme.Telemetry) expected, got an array');
    expect(unfit('text')).toBe('the value does not fit acme.Telemetry: an object (acme.Telemetry) expected, got the string "text"');
  });

  it('keeps a map key __proto__ as data', () => {
    const back = codec.decode(codec.encode({ units: JSON.parse('{"__proto__": {"name": "p"}}') as unknown })) as { units: object };
    expect(Object.getPrototypeOf(back.units)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back.units, '__proto__')?.value).toEqual({ name: 'p' });
  });

  it('leaves out null and undefined fields', () => {
    expect(codec.encode({ unit: null, deviceId: undefined, label: null, number: 3 })).toEqual(Buffer.from([0x78, 3]));
  });
});

describe('protobuf: hostile payloads end in MQFLOW_PAYLOAD_PROTOBUF', () => {
  const unreadable = (codec: PayloadCodec, bytes: Buffer): string => failure(() => codec.decode(bytes), 'MQFLOW_PAYLOAD_PROTOBUF');

  it('refuses length prefixes beyond the payload, for strings, bytes and messages alike', () => {
    const codec = compile('telemetry.proto', 'acme.Telemetry');
    expect(unreadable(codec, Buffer.from([0x0a, 0x10, 0x41]))).toBe('the payload is not a valid acme.Telemetry: index out of range: 2 + 16 > 3');
    expect(unreadable(codec, Buffer.from([0x52, 0x05, 0x01]))).toBe('the payload is not a valid acme.Telemetry: index out of range: 2 + 5 > 3');
    expect(unreadable(codec, Buffer.from([0x6a, 0x7f, 0x0a, 0x01]))).toBe('the payload is not a valid acme.Telemetry: field unit is 127 bytes long, past the end of its message');
    expect(unreadable(codec, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toMatch(/index out of range/);
  });

  it('refuses a known field sent with another wire type than its type has (protobufjs alone would read it)', () => {
    const codec = compile('telemetry.proto', 'acme.Telemetry');
    // device_id (a string) as a varint; temperature (a double) as 32 bits; flags (uint32) as 64 bits.
    expect(unreadable(codec, Buffer.from([0x08, 0x01, 0x41]))).toBe('the payload is not a valid acme.Telemetry: field deviceId (string) comes with wire type 0, not 2');
    expect(unreadable(codec, Buffer.from([0x15, 0, 0, 0, 0]))).toBe('the payload is not a valid acme.Telemetry: field temperature (double) comes with wire type 5, not 1');
    expect(unreadable(codec, Buffer.from([0x39, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe('the payload is not a valid acme.Telemetry: field flags (uint32) comes with wire type 1, not 0');
    // A repeated scalar may come packed (2) or one by one (its own wire type).
    expect(codec.decode(Buffer.from([0x59, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x5a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x40]))).toMatchObject({ samples: [1, 2] });
  });

  it('refuses invalid UTF-8 in a string field, wrong wire types and endless varints', () => {
    const codec = compile('telemetry.proto', 'acme.Telemetry');
    expect(unreadable(codec, Buffer.from([0x0a, 0x02, 0xc3, 0x28]))).toBe('the payload is not a valid acme.Telemetry: the string ending at byte 4 is not valid UTF-8');
    expect(unreadable(codec, Buffer.from([0xa7, 0x06]))).toMatch(/^the payload is not a valid acme\.Telemetry: invalid wire type 7/); // field 100, unknown
    expect(unreadable(codec, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toMatch(/index out of range|invalid varint/);
  });

  it('refuses 100,000 nested messages without exhausting the stack', () => {
    const codec = compile('telemetry.proto', 'acme.Node');
    const levels = 100_000;
    const lengths = [0]; // lengths[i]: the bytes of a Node i levels deep
    for (let i = 0; i < levels; i++) {
      const inner = lengths[i]!;
      lengths.push(1 + (inner < 2 ** 7 ? 1 : inner < 2 ** 14 ? 2 : inner < 2 ** 21 ? 3 : 4) + inner);
    }
    const bytes = Buffer.alloc(lengths[levels]!);
    let at = 0;
    for (let i = levels - 1; i >= 0; i--) {
      bytes[at++] = 0x0a; // field 1 (child), length-delimited
      for (let n = lengths[i]!; ; n >>>= 7) {
        if (n < 128) {
          bytes[at++] = n;
          break;
        }
        bytes[at++] = (n & 127) | 128;
      }
    }
    expect(at).toBe(bytes.length);
    expect(unreadable(codec, bytes)).toBe('the payload is not a valid acme.Node: maximum nesting depth exceeded (more than 100 messages deep)');
  });

  it('reads nesting protobuf allows, and refuses to encode deeper', () => {
    const codec = compile('telemetry.proto', 'acme.Node');
    let value: Record<string, unknown> = { child: null, name: 'leaf' };
    for (let i = 0; i < 50; i++) value = { child: value, name: '' };
    expect(codec.decode(codec.encode(value))).toEqual(value);
    const loop: Record<string, unknown> = { name: 'x' };
    loop.child = loop;
    expect(failure(() => codec.encode(loop), 'MQFLOW_ENCODE_PROTOBUF')).toMatch(/nested more than 100 messages deep$/);
  });
});
