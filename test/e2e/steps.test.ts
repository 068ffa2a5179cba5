/**
 * Every step kind end to end (docs/flow-language.md, section 5 and 6): real messages go in through
 * a broker, `mqflow run` processes them, and the tests assert exactly what comes out.
 *
 * One mqflow process per broker runs all the flows of this file; each test has its own trigger,
 * input topics (`<test>/…`) and output topics (`out/<test>/…`). Serial triggers process messages
 * in arrival order, so a last "sentinel" message whose output has arrived means every message
 * before it was processed: what did not come out by then never will.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, type TestBroker } from '../support/brokers.js';
import { TestClient, type Received } from '../support/mqtt.js';
import { flowFolder, startMqflow, type LogLine, type MqflowProcess } from '../support/runtime.js';

const CONNECTION = `connections:
  plant:
    url: \${env:MQTT_URL}
    reconnectPeriod: 200ms
`;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

interface DeadLetter {
  error: { message: string; code: string; step?: string };
  message: { topic: string; payload: unknown };
  trigger: string;
  attempts: number;
}

describe.each(BROKERS)('steps against the $name', ({ start }) => {
  /** Flow files of this file's mqflow process, added next to the test that uses them. */
  const files: Record<string, string> = { 'connections.yaml': CONNECTION };
  const triggers: string[] = [];
  const flow = (name: string, trigger: string[], yaml: string): void => {
    files[`${name}.yaml`] = yaml;
    triggers.push(...trigger);
  };

  let broker: TestBroker;
  let mqflow: MqflowProcess;
  let dir: string;
  let ctxObserver: TestClient | undefined;
  const clients: TestClient[] = [];
  const startedAt = Date.now();

  beforeAll(async () => {
    broker = await start();
    // A retained message that is there before mqflow subscribes: the $message test expects it with
    // retain true. Its output comes out as soon as mqflow subscribes, so its observer subscribes first.
    ctxObserver = await TestClient.connect(broker.url);
    await ctxObserver.subscribe('out/ctx', 2);
    await ctxObserver.publish('ctx/r/retained', { kind: 'retained' }, 1, true);
    dir = flowFolder(files);
    mqflow = startMqflow(dir, { MQTT_URL: broker.url });
    await mqflow.ready(triggers, 20_000);
  }, 40_000);

  afterAll(async () => {
    if (mqflow !== undefined) {
      mqflow.kill('SIGTERM');
      const timer = setTimeout(() => mqflow.kill('SIGKILL'), 15_000);
      await mqflow.exited;
      clearTimeout(timer);
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await ctxObserver?.close();
    await broker?.stop();
  }, 30_000);

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
  });

  /** A test client subscribed (QoS 2, so each message keeps the QoS it was published with) to `filters`. */
  async function subscriber(...filters: string[]): Promise<TestClient> {
    const c = await TestClient.connect(broker.url);
    clients.push(c);
    await c.subscribe(filters, 2);
    return c;
  }

  const under = (prefix: string) => (m: Received): boolean => m.topic.startsWith(prefix);
  const failuresOf = (trigger: string): LogLine[] => mqflow.lines.filter((l) => l.event === 'message-failed' && l.trigger === trigger);

  // ---------------------------------------------------------------- transform

  flow('transform', ['transform-in'], `triggers:
  transform-in:
    connection: plant
    topic: transform/in
    service: transform-svc
services:
  transform-svc:
    steps:
      - transform: |
          { "sum": a + b, "name": $uppercase(name), "tags": tags[$ != "x"] }
      - transform: '{ "result": sum * 10, "from": name, "tagCount": $count(tags) }'
      - publish:
          topic: out/transform
`);

  it('transform replaces the payload, and the next step sees the new one', async () => {
    const c = await subscriber('out/transform');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('transform/in', { a: 2, b: 3, name: 'oven', tags: ['x', 'y', 'z'] });
    await p.publish('transform/in', { a: -1, b: 1, name: 'press', tags: [] });
    await c.waitFor(2);
    expect(c.json('out/transform')).toEqual([
      { result: 50, from: 'OVEN', tagCount: 2 },
      { result: 0, from: 'PRESS', tagCount: 0 },
    ]);
  });

  // ---------------------------------------------------------------- filter

  flow('filter', ['filter-in'], `triggers:
  filter-in:
    connection: plant
    topic: filter/in
    service: filter-svc
services:
  filter-svc:
    steps:
      - filter: pass
      - publish:
          topic: out/filter
`);

  it('filter: a false condition ends the message (nothing published, not a failure); the next message still flows', async () => {
    const c = await subscriber('out/filter');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('filter/in', { seq: 1, pass: false });
    await p.publish('filter/in', { seq: 2, pass: true });
    await p.publish('filter/in', { seq: 3 }); // missing field: no result, false
    await p.publish('filter/in', { seq: 4, pass: 0 });
    await p.publish('filter/in', { seq: 5, pass: '' });
    await p.publish('filter/in', { seq: 6, pass: 'yes' });
    await p.publish('filter/in', { seq: 7, pass: [] });
    await p.publish('filter/in', { seq: 8, pass: 1, last: true });
    await c.waitFor(1, (m) => m.text.includes('"last"'));
    expect(c.json('out/filter')).toEqual([
      { seq: 2, pass: true },
      { seq: 6, pass: 'yes' },
      { seq: 8, pass: 1, last: true },
    ]);
    expect(failuresOf('filter-in')).toEqual([]);
  });

  // ---------------------------------------------------------------- set

  flow('set', ['set-in'], `triggers:
  set-in:
    connection: plant
    topic: set/+/in
    service: set-svc
services:
  set-svc:
    steps:
      - set:
          site: $wildcards[0]
          label: '"site-" & $site'
          n: count
          twice: $n * 2
      - transform: '{ "changed": true }'
      - set:
          n: $n + 1
      - publish:
          topic: out/set/{{ $label }}/{{ $twice }}
          payload: '{ "site": $site, "label": $label, "n": $n, "twice": $twice, "payload": $ }'
`);

  it('set binds variables in order (each sees the ones before), for later steps and topic templates; a later set replaces a value', async () => {
    const c = await subscriber('out/set/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('set/north/in', { count: 4 });
    await c.waitFor(1);
    expect(c.received.map((m) => m.topic)).toEqual(['out/set/site-north/8']);
    expect(c.json('out/set/site-north/8')).toEqual([{ site: 'north', label: 'site-north', n: 5, twice: 8, payload: { changed: true } }]);
  });

  flow('set-scope', ['set-scope-in'], `triggers:
  set-scope-in:
    connection: plant
    topic: set-scope/in
    service: set-scope-svc
services:
  set-scope-svc:
    steps:
      - set:
          outer: '"outer"'
      - choice:
          - when: 'true'
            steps:
              - set:
                  inBranch: '"branch"'
              - publish:
                  topic: out/set-scope/branch
                  payload: '{ "outer": $outer, "inBranch": $inBranch }'
      - split:
          items: '[1]'
          steps:
            - set:
                inBody: '"body"'
                outer: '"shadowed"'
            - publish:
                topic: out/set-scope/body
                payload: '{ "outer": $outer, "inBody": $inBody }'
      - publish:
          topic: out/set-scope/after
          payload: '{ "outer": $outer, "inBranch": $inBranch, "inBody": $inBody }'
`);

  it('set: a variable set inside a choice branch or a split body is visible to the rest of that branch or body only', async () => {
    const c = await subscriber('out/set-scope/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('set-scope/in', {});
    await c.waitFor(1, under('out/set-scope/after'));
    expect(c.json('out/set-scope/branch')).toEqual([{ outer: 'outer', inBranch: 'branch' }]);
    expect(c.json('out/set-scope/body')).toEqual([{ outer: 'shadowed', inBody: 'body' }]);
    expect(c.json('out/set-scope/after')).toEqual([{ outer: 'outer' }]);
  });

  // ---------------------------------------------------------------- validate

  flow('validate', ['validate-in'], `triggers:
  validate-in:
    connection: plant
    topic: validate/in
    service: validate-svc
    onError:
      publish:
        topic: out/validate/dead
services:
  validate-svc:
    steps:
      - transform: '{ "id": id, "at": at }'
      - validate:
          schema:
            type: object
            required: [id]
            properties:
              id: { type: integer }
              at: { type: string, format: date-time }
      - publish:
          topic: out/validate/ok
`);

  it('validate: a payload that does not match goes to the onError publish with the schema reason; a valid one goes on', async () => {
    const c = await subscriber('out/validate/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('validate/in', { id: 'seven' });
    await p.publish('validate/in', { other: 1 });
    await p.publish('validate/in', { id: 1, at: 'yesterday' });
    await p.publish('validate/in', { id: 3, at: '2025-11-25T16:31:02Z' });
    await c.waitFor(1, under('out/validate/ok'));
    await c.waitFor(3, under('out/validate/dead'));
    expect(c.json('out/validate/ok')).toEqual([{ id: 3, at: '2025-11-25T16:31:02Z' }]);
    const dead = c.json('out/validate/dead') as DeadLetter[];
    expect(dead.map((d) => d.error)).toEqual([
      expect.objectContaining({ code: 'MQFLOW_VALIDATE', step: 'services.validate-svc.steps[1]', message: 'services.validate-svc.steps[1]: the payload does not match the schema: payload.id must be integer' }),
      expect.objectContaining({ code: 'MQFLOW_VALIDATE', message: "services.validate-svc.steps[1]: the payload does not match the schema: payload must have required property 'id'" }),
      expect.objectContaining({ code: 'MQFLOW_VALIDATE', message: 'services.validate-svc.steps[1]: the payload does not match the schema: payload.at must match format "date-time"' }),
    ]);
    // The dead letter carries the payload as received, not what the transform made of it.
    expect(dead.map((d) => d.message.payload)).toEqual([{ id: 'seven' }, { other: 1 }, { id: 1, at: 'yesterday' }]);
    expect(dead.every((d) => d.trigger === 'validate-in' && d.attempts === 1 && d.message.topic === 'validate/in')).toBe(true);
  });

  // ---------------------------------------------------------------- publish

  flow('publish', ['publish-in'], `triggers:
  publish-in:
    connection: plant
    topic: publish/+/in
    service: publish-svc
services:
  publish-svc:
    steps:
      - publish:
          topic: out/publish/literal
      - publish:
          topic: 'out/publish/{{ device }}/{{ $wildcards[0] }}/{{ value > 10 ? "high" : "low" }}'
          payload: '{ "device": device, "tenfold": value * 10 }'
      - publish:
          topic: out/publish/as/string
          payload: '"plain " & device'
      - publish:
          topic: out/publish/as/number
          payload: value
      - publish:
          topic: out/publish/as/boolean
          payload: value > 10
      - publish:
          topic: out/publish/as/null
          payload: 'null'
      - publish:
          topic: out/publish/as/array
          payload: '[device, value]'
`);

  it('publish: literal topic, {{ }} template topic (evaluated against the current payload), payload expression, and how payloads are encoded', async () => {
    const c = await subscriber('out/publish/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('publish/north/in', { device: 'oven-3', value: 42 });
    await c.waitFor(7);
    expect(c.received.map((m) => [m.topic, m.text])).toEqual([
      ['out/publish/literal', '{"device":"oven-3","value":42}'],
      ['out/publish/oven-3/north/high', '{"device":"oven-3","tenfold":420}'],
      ['out/publish/as/string', 'plain oven-3'],
      ['out/publish/as/number', '42'],
      ['out/publish/as/boolean', 'true'],
      ['out/publish/as/null', 'null'],
      ['out/publish/as/array', '["oven-3",42]'],
    ]);
  });

  flow('publish-raw', ['publish-raw-in'], `triggers:
  publish-raw-in:
    connection: plant
    topic: publish-raw/in
    service: publish-raw-svc
services:
  publish-raw-svc:
    steps:
      - set:
          seen: value
      - publish:
          topic: out/publish-raw/unchanged
      - publish:
          topic: out/publish-raw/dollar
          payload: $
      - publish:
          topic: out/publish-raw/inner
          payload: inner
      - transform: '$merge([$, {"checked": true}])'
      - publish:
          topic: out/publish-raw/changed
`);

  it('publish: a JSON payload passed on unchanged goes out as the bytes received; a new or partial value is encoded as JSON', async () => {
    const c = await subscriber('out/publish-raw/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    const text = '{ "device" : "oven-3",\n  "value": 42.0, "inner": {"a" : [1, 2]} }';
    await p.publish('publish-raw/in', text);
    await c.waitFor(4);
    expect(c.received.map((m) => [m.topic, m.text])).toEqual([
      ['out/publish-raw/unchanged', text],
      ['out/publish-raw/dollar', text],
      ['out/publish-raw/inner', '{"a":[1,2]}'],
      ['out/publish-raw/changed', '{"device":"oven-3","value":42,"inner":{"a":[1,2]},"checked":true}'],
    ]);
  });

  flow('publish-qos', ['publish-qos-in'], `triggers:
  publish-qos-in:
    connection: plant
    topic: publish-qos/in
    service: publish-qos-svc
services:
  publish-qos-svc:
    steps:
      - publish:
          topic: out/publish-qos/0
          qos: 0
      - publish:
          topic: out/publish-qos/1
          qos: 1
      - publish:
          topic: out/publish-qos/2
          qos: 2
      - publish:
          topic: out/publish-qos/default
`);

  it('publish: qos 0, 1 and 2 (default 1) reach a QoS 2 subscriber at that QoS', async () => {
    const c = await subscriber('out/publish-qos/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('publish-qos/in', { n: 1 });
    await c.waitFor(4);
    const byTopic = Object.fromEntries(c.received.map((m) => [m.topic, { qos: m.packet.qos, text: m.text }]));
    expect(byTopic).toEqual({
      'out/publish-qos/0': { qos: 0, text: '{"n":1}' },
      'out/publish-qos/1': { qos: 1, text: '{"n":1}' },
      'out/publish-qos/2': { qos: 2, text: '{"n":1}' },
      'out/publish-qos/default': { qos: 1, text: '{"n":1}' },
    });
  });

  flow('publish-retain', ['publish-retain-in'], `triggers:
  publish-retain-in:
    connection: plant
    topic: publish-retain/in
    service: publish-retain-svc
services:
  publish-retain-svc:
    steps:
      - publish:
          topic: out/publish-retain/kept
          retain: true
      - publish:
          topic: out/publish-retain/not-kept
`);

  it('publish: retain true is kept by the broker, so a late subscriber receives it (flagged retained); retain false is not', async () => {
    const live = await subscriber('out/publish-retain/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('publish-retain/in', { status: 'online' });
    await live.waitFor(2);
    const late = await subscriber('out/publish-retain/#');
    await late.waitFor(1);
    // Give the broker a moment to send anything else it holds for the new subscription.
    await new Promise((r) => setTimeout(r, 300));
    expect(late.received.map((m) => [m.topic, m.text, m.packet.retain])).toEqual([['out/publish-retain/kept', '{"status":"online"}', true]]);
    // Clean up the retained message.
    await p.publish('out/publish-retain/kept', '', 1, true);
  });

  flow('publish-topic', ['publish-topic-in'], `triggers:
  publish-topic-in:
    connection: plant
    topic: publish-topic/in
    service: publish-topic-svc
    onError:
      publish:
        topic: out/publish-topic/dead
services:
  publish-topic-svc:
    steps:
      - publish:
          topic: '{{ prefix }}{{ name }}'
          topicLevels: any
      - publish:
          topic: out/publish-topic/after
`);

  it('publish: a template that renders an empty topic or one with + or # fails the message with MQFLOW_PUBLISH_TOPIC; nothing is published', async () => {
    const c = await subscriber('out/publish-topic/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('publish-topic/in', { seq: 1 }); // '{{ missing }}' parts render '': the topic is empty
    await p.publish('publish-topic/in', { seq: 2, prefix: 'out/publish-topic/', name: '+' });
    await p.publish('publish-topic/in', { seq: 3, prefix: 'out/publish-topic/', name: 'x/#' });
    await p.publish('publish-topic/in', { seq: 4, prefix: 'out/publish-topic/', name: 'ok' });
    await c.waitFor(1, under('out/publish-topic/after'));
    expect(c.received.filter((m) => m.topic !== 'out/publish-topic/dead').map((m) => [m.topic, JSON.parse(m.text) as unknown])).toEqual([
      ['out/publish-topic/ok', { seq: 4, prefix: 'out/publish-topic/', name: 'ok' }],
      ['out/publish-topic/after', { seq: 4, prefix: 'out/publish-topic/', name: 'ok' }],
    ]);
    const dead = c.json('out/publish-topic/dead') as DeadLetter[];
    expect(dead.map((d) => [(d.message.payload as { seq: number }).seq, d.error.code, d.error.step])).toEqual([
      [1, 'MQFLOW_PUBLISH_TOPIC', 'services.publish-topic-svc.steps[0]'],
      [2, 'MQFLOW_PUBLISH_TOPIC', 'services.publish-topic-svc.steps[0]'],
      [3, 'MQFLOW_PUBLISH_TOPIC', 'services.publish-topic-svc.steps[0]'],
    ]);
    expect(dead[0]!.error.message).toContain('(topic "")');
    expect(dead[1]!.error.message).toContain('the value of {{ name }} ("+") contains "+", a wildcard');
    expect(dead[2]!.error.message).toContain('the value of {{ name }} ("x/#") contains "#", a wildcard');
  });

  // Invariant 32: a message cannot choose where its outputs go.
  flow('publish-levels', ['publish-levels-in', 'publish-levels-any-in'], `triggers:
  publish-levels-in:
    connection: plant
    topic: publish-levels/in
    service: publish-levels-svc
    onError:
      publish:
        topic: out/publish-levels/dead
  publish-levels-any-in:
    connection: plant
    topic: publish-levels/any/in
    service: publish-levels-any-svc
    onError:
      publish:
        topic: out/publish-levels/dead
services:
  publish-levels-svc:
    steps:
      - publish:
          topic: '{{ site }}/publish-levels/{{ device }}'
      - publish:
          topic: '$aws/things/{{ device }}/publish-levels'
  publish-levels-any-svc:
    steps:
      - publish:
          topic: 'out/publish-levels/any/{{ path }}'
          topicLevels: any
`);

  it('publish: a {{ }} value fills one topic level: $, /, +, # and NUL from the payload fail the message with MQFLOW_PUBLISH_TOPIC and nothing goes elsewhere; a literal $ works; topicLevels: any spans levels', async () => {
    // Everything a client may see: every ordinary topic, the $ topics these payloads aim at.
    const all = await subscriber('#', '$SYS/#', '$aws/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    const bad = [
      { seq: 1, site: '$SYS', device: 'd1' },
      { seq: 2, site: '$aws', device: 'd2' },
      { seq: 3, site: 'out', device: 'a/../../b' },
      { seq: 4, site: 'tenant-b/out', device: 'd4' },
      { seq: 5, site: 'out', device: '+' },
      { seq: 6, site: 'out', device: '#' },
      { seq: 7, site: 'out', device: 'a\u0000b' },
    ];
    for (const payload of bad) await p.publish('publish-levels/in', payload);
    await p.publish('publish-levels/in', { seq: 8, site: 'out', device: 'ok' });
    for (const path of ['a/b', 'a/+', '#', 'c']) await p.publish('publish-levels/any/in', { path });
    await all.waitFor(1, (m) => m.topic === '$aws/things/ok/publish-levels');
    await all.waitFor(1, (m) => m.topic === 'out/publish-levels/any/c');
    await all.waitFor(9, (m) => m.topic === 'out/publish-levels/dead');
    await all.waitFor(12, under('publish-levels/'));

    // Exactly these arrived (retained messages of other tests aside; the broker's own $SYS topics aside).
    const ours = all.received.filter((m) => !m.packet.retain && !m.topic.startsWith('$SYS/')).map((m) => m.topic);
    expect(ours.sort()).toEqual([
      '$aws/things/ok/publish-levels',
      ...Array<string>(9).fill('out/publish-levels/dead'),
      'out/publish-levels/any/a/b',
      'out/publish-levels/any/c',
      'out/publish-levels/ok',
      ...Array<string>(4).fill('publish-levels/any/in'),
      ...Array<string>(8).fill('publish-levels/in'),
    ].sort());
    expect(all.received.filter((m) => m.topic.startsWith('$SYS/') && m.topic.includes('publish-levels'))).toEqual([]);

    const dead = all.json('out/publish-levels/dead') as DeadLetter[];
    const levels = dead.filter((d) => d.trigger === 'publish-levels-in');
    expect(levels.map((d) => [(d.message.payload as { seq: number }).seq, d.error.code, d.error.step])).toEqual(
      bad.map((b) => [b.seq, 'MQFLOW_PUBLISH_TOPIC', 'services.publish-levels-svc.steps[0]']),
    );
    const step = 'services.publish-levels-svc.steps[0]: not published: ';
    expect(levels.map((d) => d.error.message)).toEqual([
      `${step}the value of {{ site }} ("$SYS") would start the topic with "$", which only a topic whose literal text starts with "$" may do (e.g. "$aws/things/{{ device }}"); a value never chooses a "$" topic`,
      `${step}the value of {{ site }} ("$aws") would start the topic with "$", which only a topic whose literal text starts with "$" may do (e.g. "$aws/things/{{ device }}"); a value never chooses a "$" topic`,
      `${step}the value of {{ device }} ("a/../../b") contains "/", so it would fill more than one topic level; give the publish topicLevels: any if its values may span levels`,
      `${step}the value of {{ site }} ("tenant-b/out") contains "/", so it would fill more than one topic level; give the publish topicLevels: any if its values may span levels`,
      `${step}the value of {{ device }} ("+") contains "+", a wildcard, which a topic to publish to must not contain; no setting allows it: check the value before it is published (a validate or filter step)`,
      `${step}the value of {{ device }} ("#") contains "#", a wildcard, which a topic to publish to must not contain; no setting allows it: check the value before it is published (a validate or filter step)`,
      `${step}the value of {{ device }} ("a\\u0000b") contains the NUL character (U+0000), which a topic must not contain; no setting allows it`,
    ]);
    const any = dead.filter((d) => d.trigger === 'publish-levels-any-in');
    expect(any.map((d) => [(d.message.payload as { path: string }).path, d.error.code, d.error.step])).toEqual([
      ['a/+', 'MQFLOW_PUBLISH_TOPIC', 'services.publish-levels-any-svc.steps[0]'],
      ['#', 'MQFLOW_PUBLISH_TOPIC', 'services.publish-levels-any-svc.steps[0]'],
    ]);
    expect(any[0]!.error.message).toContain('the value of {{ path }} ("a/+") contains "+", a wildcard');
  });

  // ---------------------------------------------------------------- log

  flow('log', ['log-in'], `triggers:
  log-in:
    connection: plant
    topic: log/+/in
    service: log-svc
services:
  log-svc:
    steps:
      - log: "reading from {{ device }}: {{ value }} at {{ $wildcards[0] }}"
      - log:
          level: warn
          message: "{{ $topic }} says {{ $ }}"
      - publish:
          topic: out/log/done
`);

  it('log writes its text to the JSON log, with the trigger, topic and step', async () => {
    const c = await subscriber('out/log/done');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('log/west/in', { device: 'press-1', value: 4.5 });
    await c.waitFor(1);
    const info = await mqflow.waitFor((l) => l.event === 'log-step' && l.trigger === 'log-in' && l.step === 'services.log-svc.steps[0]');
    const warn = await mqflow.waitFor((l) => l.event === 'log-step' && l.trigger === 'log-in' && l.step === 'services.log-svc.steps[1]');
    expect(info).toMatchObject({ level: 30, msg: 'reading from press-1: 4.5 at west', topic: 'log/west/in', trigger: 'log-in' });
    expect(warn).toMatchObject({ level: 40, msg: 'log/west/in says {"device":"press-1","value":4.5}', topic: 'log/west/in', trigger: 'log-in' });
  });

  // ---------------------------------------------------------------- invoke

  flow('invoke', ['invoke-in', 'invoke-filter-in', 'invoke-payload-in'], `triggers:
  invoke-in:
    connection: plant
    topic: invoke/in
    service: invoke-caller
  invoke-filter-in:
    connection: plant
    topic: invoke-filter/in
    service: invoke-gated-caller
  invoke-payload-in:
    connection: plant
    topic: invoke-payload/in
    service: invoke-payload-caller
services:
  invoke-caller:
    steps:
      - set:
          callerVar: '"caller"'
      - invoke: invoke-double
      - publish:
          topic: out/invoke/result
          payload: '{ "result": $, "callerVar": $callerVar }'
  invoke-double:
    input:
      type: object
      required: [n]
    steps:
      - transform: '{ "doubled": n * 2, "seenCallerVar": $callerVar, "topic": $topic, "trigger": $message.trigger }'
  invoke-gated-caller:
    steps:
      - publish:
          topic: out/invoke-filter/before
      - invoke: invoke-gate
      - publish:
          topic: out/invoke-filter/after
  invoke-gate:
    steps:
      - filter: ok
      - transform: '{ "seq": seq, "gated": true }'
  invoke-payload-caller:
    steps:
      - invoke:
          service: invoke-double
          payload: '{ "n": m + 1 }'
      - publish:
          topic: out/invoke-payload/result
`);

  it('invoke: the invoked service runs with the same message but its own variables; its result becomes the payload', async () => {
    const c = await subscriber('out/invoke/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('invoke/in', { n: 21 });
    await c.waitFor(1);
    expect(c.json('out/invoke/result')).toEqual([{ result: { doubled: 42, topic: 'invoke/in', trigger: 'invoke-in' }, callerVar: 'caller' }]);
  });

  it('invoke: a false filter in the invoked service ends the whole message', async () => {
    const c = await subscriber('out/invoke-filter/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('invoke-filter/in', { seq: 1, ok: false });
    await p.publish('invoke-filter/in', { seq: 2, ok: true });
    await c.waitFor(1, under('out/invoke-filter/after'));
    expect(c.received.map((m) => [m.topic, JSON.parse(m.text) as unknown])).toEqual([
      ['out/invoke-filter/before', { seq: 1, ok: false }],
      ['out/invoke-filter/before', { seq: 2, ok: true }],
      ['out/invoke-filter/after', { seq: 2, gated: true }],
    ]);
    expect(failuresOf('invoke-filter-in')).toEqual([]);
  });

  it('invoke with a payload expression passes its result to the service', async () => {
    const c = await subscriber('out/invoke-payload/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('invoke-payload/in', { m: 4 });
    await c.waitFor(1);
    expect(c.json('out/invoke-payload/result')).toEqual([{ doubled: 10, topic: 'invoke-payload/in', trigger: 'invoke-payload-in' }]);
  });

  // ---------------------------------------------------------------- choice

  flow('choice', ['choice-in', 'choice-no-otherwise-in'], `triggers:
  choice-in:
    connection: plant
    topic: choice/in
    service: choice-svc
  choice-no-otherwise-in:
    connection: plant
    topic: choice-no-otherwise/in
    service: choice-no-otherwise-svc
services:
  choice-svc:
    steps:
      - choice:
          - when: v >= 90
            steps:
              - transform: '{ "v": v, "level": "critical" }'
          - when: v >= 70
            steps:
              - transform: '{ "v": v, "level": "warning" }'
              - publish:
                  topic: out/choice/warning-branch
          - otherwise:
              - transform: '{ "v": v, "level": "normal" }'
      - publish:
          topic: out/choice/checked
  choice-no-otherwise-svc:
    steps:
      - choice:
          - when: v > 100
            steps:
              - publish:
                  topic: out/choice-no-otherwise/big
          - when: v < 0
            steps:
              - filter: 'false'
      - publish:
          topic: out/choice-no-otherwise/after
`);

  it('choice runs only the first branch that holds, otherwise when none does, and goes on with the payload the branch left', async () => {
    const c = await subscriber('out/choice/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('choice/in', { v: 95 }); // both conditions hold: only the first branch runs
    await p.publish('choice/in', { v: 75 });
    await p.publish('choice/in', { v: 10 });
    await c.waitFor(3, under('out/choice/checked'));
    expect(c.json('out/choice/checked')).toEqual([
      { v: 95, level: 'critical' },
      { v: 75, level: 'warning' },
      { v: 10, level: 'normal' },
    ]);
    expect(c.json('out/choice/warning-branch')).toEqual([{ v: 75, level: 'warning' }]);
  });

  it('choice without otherwise: when no branch holds, processing goes on after it; a false filter in a branch ends the message', async () => {
    const c = await subscriber('out/choice-no-otherwise/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('choice-no-otherwise/in', { v: 5 });
    await p.publish('choice-no-otherwise/in', { v: -1 });
    await p.publish('choice-no-otherwise/in', { v: 200 });
    await c.waitFor(2, under('out/choice-no-otherwise/after'));
    expect(c.received.map((m) => [m.topic, JSON.parse(m.text) as unknown])).toEqual([
      ['out/choice-no-otherwise/after', { v: 5 }],
      ['out/choice-no-otherwise/big', { v: 200 }],
      ['out/choice-no-otherwise/after', { v: 200 }],
    ]);
  });

  // ---------------------------------------------------------------- split

  flow('split', ['split-in'], `triggers:
  split-in:
    connection: plant
    topic: split/in
    service: split-svc
services:
  split-svc:
    steps:
      - set:
          gateway: gateway
      - split:
          items: readings
          steps:
            - filter: bar > 0
            - transform: '{ "dev": deviceId, "bar": bar }'
            - publish:
                topic: out/split/{{ $gateway }}/{{ $index }}
                payload: '{ "current": $, "item": $item, "index": $index, "gateway": $gateway }'
      - publish:
          topic: out/split/{{ gateway }}/after
`);

  it('split runs its steps once per element ($item, $index); a filter skips only its element; a single value is one element; the payload is restored after it', async () => {
    const c = await subscriber('out/split/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    const batch = { gateway: 'gw-1', readings: [{ deviceId: 'p1', bar: 1 }, { deviceId: 'p2', bar: 0 }, { deviceId: 'p3', bar: 3 }] };
    await p.publish('split/in', batch);
    await p.publish('split/in', { gateway: 'gw-2', readings: { deviceId: 'solo', bar: 2 } });
    await p.publish('split/in', { gateway: 'gw-3' });
    await c.waitFor(1, under('out/split/gw-3/after'));
    expect(c.received.map((m) => [m.topic, JSON.parse(m.text) as unknown])).toEqual([
      ['out/split/gw-1/0', { current: { dev: 'p1', bar: 1 }, item: { deviceId: 'p1', bar: 1 }, index: 0, gateway: 'gw-1' }],
      ['out/split/gw-1/2', { current: { dev: 'p3', bar: 3 }, item: { deviceId: 'p3', bar: 3 }, index: 2, gateway: 'gw-1' }],
      ['out/split/gw-1/after', batch],
      ['out/split/gw-2/0', { current: { dev: 'solo', bar: 2 }, item: { deviceId: 'solo', bar: 2 }, index: 0, gateway: 'gw-2' }],
      ['out/split/gw-2/after', { gateway: 'gw-2', readings: { deviceId: 'solo', bar: 2 } }],
      ['out/split/gw-3/after', { gateway: 'gw-3' }],
    ]);
  });

  // ---------------------------------------------------------------- payload decoding

  flow('decode', ['decode-text-in', 'decode-binary-in'], `triggers:
  decode-text-in:
    connection: plant
    topic: decode/text
    payload: text
    service: decode-text-svc
  decode-binary-in:
    connection: plant
    topic: decode/binary
    payload: binary
    service: decode-binary-svc
services:
  decode-text-svc:
    steps:
      - transform: '{ "text": $, "type": $type($), "length": $length($), "original": $message.payload }'
      - publish:
          topic: out/decode/text
  decode-binary-svc:
    steps:
      - transform: '{ "b64": $, "type": $type($), "original": $message.payload }'
      - publish:
          topic: out/decode/binary
`);

  it('payload: text gives the UTF-8 string, binary a base64 string, as $ and $message.payload', async () => {
    const c = await subscriber('out/decode/#');
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('decode/text', 'oven-3;187.2 "not json" °F');
    await p.publish('decode/text', '{"a":1}');
    await p.publish('decode/binary', Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x80]));
    await p.publish('decode/binary', Buffer.from('hi'));
    await c.waitFor(2, under('out/decode/text'));
    await c.waitFor(2, under('out/decode/binary'));
    expect(c.json('out/decode/text')).toEqual([
      { text: 'oven-3;187.2 "not json" °F', type: 'string', length: 26, original: 'oven-3;187.2 "not json" °F' },
      { text: '{"a":1}', type: 'string', length: 7, original: '{"a":1}' },
    ]);
    expect(c.json('out/decode/binary')).toEqual([
      { b64: 'AAH+/4A=', type: 'string', original: 'AAH+/4A=' },
      { b64: 'aGk=', type: 'string', original: 'aGk=' },
    ]);
  });

  // ---------------------------------------------------------------- $message

  flow('context', ['ctx-in'], `triggers:
  ctx-in:
    connection: plant
    topic: ctx/+/#
    service: ctx-svc
services:
  ctx-svc:
    steps:
      - transform: '{ "changed": true }'
      - publish:
          topic: out/ctx
          qos: 2
          payload: |
            {
              "message": $message,
              "topic": $topic,
              "levels": $levels,
              "wildcards": $wildcards,
              "current": $
            }
`);

  it('$message holds topic, levels, wildcards (the # remainder as one string), payload as received, qos, retain, dup, messageId, receivedAt, trigger and connection', async () => {
    const c = ctxObserver!;
    const p = await TestClient.connect(broker.url);
    clients.push(p);
    await p.publish('ctx/a/b/c', { n: 1 }, 1);
    await p.publish('ctx/x', { n: 2 }, 1);
    await p.publish('ctx/q0/z', { n: 0 }, 0);
    await c.waitFor(4);
    type Out = { message: Record<string, unknown>; topic: string; levels: string[]; wildcards: string[]; current: unknown };
    const outs = c.json('out/ctx') as Out[];
    const by = (topic: string): Out => {
      const found = outs.filter((o) => o.topic === topic);
      expect(found).toHaveLength(1);
      return found[0]!;
    };
    const common = { trigger: 'ctx-in', connection: 'plant', dup: false };

    const abc = by('ctx/a/b/c');
    expect(abc).toMatchObject({ topic: 'ctx/a/b/c', levels: ['ctx', 'a', 'b', 'c'], wildcards: ['a', 'b/c'], current: { changed: true } });
    expect(abc.message).toMatchObject({ ...common, topic: 'ctx/a/b/c', levels: ['ctx', 'a', 'b', 'c'], wildcards: ['a', 'b/c'], payload: { n: 1 }, qos: 1, retain: false });
    expect(abc.message.messageId).toEqual(expect.any(Number));

    const x = by('ctx/x'); // "#" matches the parent level too: an empty remainder
    expect(x.wildcards).toEqual(['x', '']);
    expect(x.message).toMatchObject({ ...common, topic: 'ctx/x', levels: ['ctx', 'x'], payload: { n: 2 }, qos: 1, retain: false, wildcards: ['x', ''] });

    const q0 = by('ctx/q0/z');
    expect(q0.message).toMatchObject({ ...common, payload: { n: 0 }, qos: 0, retain: false, wildcards: ['q0', 'z'] });
    expect(q0.message).not.toHaveProperty('messageId');

    // Published retained before mqflow subscribed: the broker sent it on subscribe, flagged retained.
    const retained = by('ctx/r/retained');
    expect(retained.message).toMatchObject({ ...common, payload: { kind: 'retained' }, qos: 1, retain: true, wildcards: ['r', 'retained'] });

    for (const o of outs) {
      expect(o.message.receivedAt).toMatch(ISO_UTC);
      const at = Date.parse(o.message.receivedAt as string);
      expect(at).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(at).toBeLessThanOrEqual(Date.now() + 1000);
      expect(o.message).not.toHaveProperty('properties'); // MQTT 3.1.1 connection
    }
  });
});
