import { describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { buildFlowFolder } from '../../../src/flow/build.js';
import { buildMemory } from './helpers.js';

const connection = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
`;

describe('compiled flow model', () => {
  it('compiles the bundled example flows', () => {
    const result = buildFlowFolder(new URL('../../../flows', import.meta.url).pathname, { environment: { env: {}, readFile: () => '' } });
    expect(result.problems).toEqual([]);
    const model = result.model!;
    expect([...model.connections.keys()]).toEqual(['plant']);
    expect([...model.triggers.keys()].sort()).toEqual(['batches-in', 'temperature-in']);
    expect([...model.services.keys()].sort()).toEqual(['check-thresholds', 'normalize-temperature', 'record-failure', 'split-batch']);
    const plant = model.connections.get('plant')!;
    expect(plant.urls).toEqual(['mqtt://127.0.0.1:1883']);
    expect(plant.keepaliveSeconds).toBe(30);
    expect(plant.birth).toEqual({ topic: 'plant/mqflow/status', payload: 'online', qos: 1, retain: true });
    const temperature = model.triggers.get('temperature-in')!;
    expect(temperature.subscriptions).toEqual(['plant/+/sensors/+/temperature']);
    expect(temperature.retry).toEqual({ maxAttempts: 3, delayMs: 200, backoff: 'exponential', maxDelayMs: 30_000, failures: 'transient' });
    expect(temperature.onError).toEqual({ kind: 'publish', topic: 'plant/dead-letter/temperature', qos: 1, retain: false });
    expect(model.triggers.get('batches-in')!.processing).toEqual({ mode: 'concurrent', maxConcurrency: 4 });
    const steps = model.services.get('normalize-temperature')!.steps;
    expect(steps.map((s) => s.kind)).toEqual(['set', 'transform', 'publish', 'invoke']);
    expect(steps[1]!.name).toBe('to celsius');
    expect(steps[1]!.at.line).toBeGreaterThan(1);
  });

  it('fills in the documented defaults', () => {
    const { model, text } = buildMemory({
      files: {
        'a.yaml': `${connection}triggers:
  t:
    connection: plant
    topic: a/b
    service: s
services:
  s:
    steps:
      - publish: { topic: out }
`,
      },
    });
    expect(text).toEqual([]);
    const c = model!.connections.get('plant')!;
    expect({ v: c.protocolVersion, clean: c.cleanSession, ka: c.keepaliveSeconds, ct: c.connectTimeoutMs, rp: c.reconnectPeriodMs, en: c.enabled }).toEqual({
      v: 4, clean: true, ka: 60, ct: 30_000, rp: 1_000, en: true,
    });
    const t = model!.triggers.get('t')!;
    expect({ qos: t.qos, processing: t.processing, payload: t.payload, retry: t.retry, enabled: t.enabled }).toEqual({
      qos: 1, processing: { mode: 'serial' }, payload: 'json', retry: { maxAttempts: 1, delayMs: 1000, backoff: 'exponential', maxDelayMs: 30_000, failures: 'transient' }, enabled: true,
    });
    const publish = model!.services.get('s')!.steps[0]!;
    expect(publish).toMatchObject({ kind: 'publish', qos: 1, retain: false, connection: undefined, payload: undefined });
  });

  it('is immutable', () => {
    const { model } = buildMemory({ files: { 'a.yaml': connection } });
    const plant = model!.connections.get('plant')!;
    expect(Object.isFrozen(plant)).toBe(true);
    expect(Object.isFrozen(plant.urls)).toBe(true);
    expect(() => {
      (plant as { keepaliveSeconds: number }).keepaliveSeconds = 1;
    }).toThrow(TypeError);
  });

  it('coerces values from the environment to the type the schema expects, and keeps secrets opaque', () => {
    const { model, text } = buildMemory({
      env: { KEEPALIVE: '15', CLEAN: 'false', PW: '12345', USER: 'svc' },
      files: {
        'a.yaml': `connections:
  plant:
    url: mqtt://h
    keepalive: \${env:KEEPALIVE}
    cleanSession: \${env:CLEAN}
    username: \${env:USER}
    password: \${env:PW}
`,
      },
    });
    expect(text).toEqual([]);
    const c = model!.connections.get('plant')!;
    expect(c.keepaliveSeconds).toBe(15);
    expect(c.cleanSession).toBe(false);
    expect(c.password!.reveal()).toBe('12345');
    expect(JSON.stringify(c)).not.toContain('12345');
    expect(inspect(c, { depth: 5 })).not.toContain('12345');
    expect(model!.secrets).toEqual(['15', 'false', 'svc', '12345']);
  });

  it('subscribes with $share/<group>/ when share is set', () => {
    const { model } = buildMemory({
      files: { 'a.yaml': `${connection}triggers:\n  t:\n    connection: plant\n    topic: [a/+, b/#]\n    share: workers\n    service: s\nservices:\n  s:\n    steps: [{ log: hi }]\n` },
    });
    expect(model!.triggers.get('t')!.subscriptions).toEqual(['$share/workers/a/+', '$share/workers/b/#']);
    expect(model!.triggers.get('t')!.topics).toEqual(['a/+', 'b/#']);
  });

  it('reads TLS files relative to the flow file', () => {
    const { model, text } = buildMemory({
      files: { 'a.yaml': 'connections:\n  c:\n    url: mqtts://h:8883\n    tls: { ca: certs/ca.pem, cert: certs/c.pem, key: certs/c.key }\n' },
      extra: { '/flows/certs/ca.pem': 'CA', '/flows/certs/c.pem': 'CERT', '/flows/certs/c.key': 'KEY' },
    });
    expect(text).toEqual([]);
    const tls = model!.connections.get('c')!.tls!;
    expect([tls.ca, tls.cert, tls.key!.reveal(), tls.rejectUnauthorized]).toEqual(['CA', 'CERT', 'KEY', true]);
  });

  it('gives equal definitions equal fingerprints, whatever the key order, and changed ones new fingerprints', () => {
    const a = buildMemory({ files: { 'a.yaml': 'connections:\n  c: { url: mqtt://h, keepalive: 5, cleanSession: false }\n' } }).model!;
    const b = buildMemory({ files: { 'b.yaml': 'connections:\n  c: { cleanSession: false, keepalive: 5, url: mqtt://h }\n' } }).model!;
    const c = buildMemory({ files: { 'c.yaml': 'connections:\n  c: { cleanSession: false, keepalive: 6, url: mqtt://h }\n' } }).model!;
    expect(a.connections.get('c')!.fingerprint).toBe(b.connections.get('c')!.fingerprint);
    expect(a.connections.get('c')!.fingerprint).not.toBe(c.connections.get('c')!.fingerprint);
  });

  it('builds a model despite warnings', () => {
    const { model, text } = buildMemory({
      files: { 'a.yaml': `connections:\n  plant: { url: mqtt://h, enabled: false }\ntriggers:\n  t: { connection: plant, topic: a, service: s }\nservices:\n  s: { steps: [{ log: hi }] }\n` },
    });
    expect(text).toEqual([
      'a.yaml:4:8 warning: trigger "t" is enabled but its connection "plant" is disabled, so it will not run\n  hint: enable the connection, or set enabled: false on the trigger',
    ]);
    expect(model).toBeDefined();
  });

  it('never prints a secret, even where a message would quote the value', () => {
    const { text } = buildMemory({
      env: { QOS: 'high-secret-qos' , URL: 'tcp://secret-host' },
      files: { 'a.yaml': 'connections:\n  c: { url: "${env:URL}" }\ntriggers:\n  t: { connection: c, topic: a, service: s, qos: "${env:QOS}" }\n' },
    });
    expect(text.join('\n')).not.toMatch(/secret/);
    expect(text[0]).toBe('a.yaml:2:8 error: connections.c.url must start with mqtt://, mqtts://, ws:// or wss:// (got the value of ${env:URL})\n  hint: for example mqtt://127.0.0.1:1883 or mqtts://broker.example.com:8883');
  });

  it('masks a secret that contains another secret whole (found by the loader fuzz)', () => {
    const { text } = buildMemory({
      env: { SITE: 'plant', SECRET: 'plant/+/S3CRET-value/#' },
      files: { 'a.yaml': 'connections:\n  c: { url: "mqtt://127.0.0.1:1883", birth: { topic: "${env:SITE}/status" } }\ntriggers:\n  t:\n    connection: c\n    topic: ["${env:SECRET}", "${env:SECRET}"]\n    service: s\nservices:\n  s: { steps: [ { log: x } ] }\n' },
    });
    expect(text.join('\n')).toContain('listed twice');
    expect(text.join('\n')).not.toContain('S3CRET');
  });
});

describe('flow file conveniences and warnings', () => {
  it('ignores top-level x- keys, a place for shared YAML anchors', () => {
    const { model, text } = buildMemory({
      files: {
        'a.yaml': `x-broker: &broker
  url: mqtt://h
  keepalive: 10
connections:
  a: *broker
  b:
    <<: *broker
    keepalive: 20
`,
      },
    });
    expect(text).toEqual([]);
    expect(model!.connections.get('a')!.keepaliveSeconds).toBe(10);
    expect(model!.connections.get('b')!.keepaliveSeconds).toBe(20);
  });

  it('warns about a password written in the file, not about one from the environment', () => {
    const { model, text } = buildMemory({
      env: { PW: 'from-env' },
      files: { 'a.yaml': 'connections:\n  a: { url: mqtt://h, password: hunter2 }\n  b: { url: mqtt://h, password: "${env:PW}" }\n' },
    });
    expect(text).toEqual([
      'a.yaml:2:23 warning: connections.a.password is written in the flow file, where everyone who can read the repository sees it\n  hint: take it from the environment or a file: ${env:MQTT_PASSWORD} or ${file:secrets/mqtt-password}',
    ]);
    expect(model).toBeDefined();
  });

  it('checks string formats in payload schemas', () => {
    const { model } = buildMemory({
      files: { 'a.yaml': 'services:\n  s:\n    input: { type: object, properties: { at: { type: string, format: date-time } } }\n    steps: [{ log: hi }]\n' },
    });
    const input = model!.services.get('s')!.input!;
    expect(input.check({ at: '2026-11-25T16:00:00Z' })).toEqual([]);
    expect(input.check({ at: 'yesterday' })).toEqual(['payload.at must match format "date-time"']);
  });
});

describe('onError: suspend', () => {
  it('warns when suspending would lose the message', () => {
    const flow = (clean: boolean, ack: string) => `connections:
  plant: { url: mqtt://h, cleanSession: ${clean} }
triggers:
  t:
    connection: plant
    topic: a
    service: s
    ack: ${ack}
    onError:
      suspend: { resumeAfter: 5s }
services:
  s: { steps: [{ log: hi }] }
`;
    expect(buildMemory({ files: { 'a.yaml': flow(false, 'afterProcessing') } }).text).toEqual([]);
    expect(buildMemory({ files: { 'a.yaml': flow(true, 'afterProcessing') } }).text).toEqual([
      'a.yaml:10:7 warning: suspending trigger "t" would lose the failed message: connection "plant" has cleanSession: true, so the broker drops what was not acknowledged\n  hint: set cleanSession: false on the connection (and keep ack: afterProcessing), or route failures with publish or service',
    ]);
    expect(buildMemory({ files: { 'a.yaml': flow(false, 'onReceipt') } }).text[0]).toMatch(/with ack: onReceipt the message was acknowledged already/);
    expect(buildMemory({ files: { 'a.yaml': flow(false, 'afterProcessing') } }).model!.triggers.get('t')!.onError).toEqual({ kind: 'suspend', resumeAfterMs: 5000 });
  });
});

describe('inputs the loader fuzzer found crashing compile (now positioned problems)', () => {
  const connection = 'connections:\n  plant:\n    url: mqtt://127.0.0.1:1883\n';
  const trigger = 'triggers:\n  a:\n    connection: plant\n    topic: x\n    service: s\n';
  it.each([
    ['a service without steps', `${connection}services:\n  s:\n    description: d\n`, /^plant\.yaml:5:3 error: services\.s is missing "steps"/],
    ['a bad resumeAfter', `${connection}${trigger}    onError:\n      suspend:\n        resumeAfter: 10d\nservices:\n  s:\n    steps:\n      - log: x\n`, /^plant\.yaml:11:9 error: triggers\.a\.onError\.suspend\.resumeAfter must be a duration/],
    ['suspend: null', `${connection}${trigger}    onError:\n      suspend: null\nservices:\n  s:\n    steps:\n      - log: x\n`, /^plant\.yaml:10:7 error: triggers\.a\.onError\.suspend must be a map \(got null\)/],
    ['userProperties as a list holding null', `${connection}services:\n  s:\n    steps:\n      - publish:\n          topic: a\n          userProperties: [null]\n`, /^plant\.yaml:9:11 error: services\.s\.steps\[0\]\.publish\.userProperties must be a map \(got a list\)/],
  ])('%s', (_name, text, expected) => {
    const result = buildMemory({ files: { 'plant.yaml': text } });
    expect(result.model).toBeUndefined();
    expect(result.text.join('\n')).toMatch(expected);
    expect(result.text.join('\n')).not.toContain('MQFLOW_INTERNAL');
  });
});
