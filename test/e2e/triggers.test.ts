/**
 * Every trigger option end to end (docs/flow-language.md section 4, docs/architecture.md): topic
 * lists and wildcards, $-topics, overlapping triggers, serial and concurrent processing with
 * in-order acknowledgements, qos, retry, onError (publish, service, suspend), maxPayloadBytes,
 * enabled, disabled connections, ack: onReceipt, queueSize, share groups and the SIGTERM drain.
 *
 * Each test runs its own `mqflow run` process with its own `--instance`, so client ids (and the
 * persistent sessions of `cleanSession: false`) never carry over from one test to the next.
 * Where a test must see the MQTT packets themselves (acknowledgement order, who connected), mqflow
 * connects through a recording proxy (test/support/proxy.ts).
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, type TestBroker } from '../support/brokers.js';
import { TestClient, type Received } from '../support/mqtt.js';
import { startProxy, type MqttProxy, type ProxiedPacket } from '../support/proxy.js';
import { flowFolder, startMqflow, type LogLine, type MqflowProcess } from '../support/runtime.js';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

const connection = (options: { cleanSession?: boolean; name?: string; url?: string; extra?: string } = {}): string => `connections:
  ${options.name ?? 'plant'}:
    url: ${options.url ?? '${env:MQTT_URL}'}
    reconnectPeriod: 200ms
${options.cleanSession === false ? '    cleanSession: false\n' : ''}${options.extra ?? ''}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `test` until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(test: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

describe.each(BROKERS)('triggers against the $name', ({ name: brokerName, start }) => {
  let broker: TestBroker;
  const processes: MqflowProcess[] = [];
  const folders: string[] = [];
  const clients: TestClient[] = [];
  const proxies: MqttProxy[] = [];
  let instances = 0;

  beforeAll(async () => {
    broker = await start();
  });
  afterAll(async () => {
    await broker?.stop();
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      p.kill('SIGKILL');
      await p.exited;
    }
    for (const c of clients.splice(0)) await c.close();
    for (const x of proxies.splice(0)) await x.close();
    for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
  });

  function folder(files: Record<string, string>): string {
    const dir = flowFolder(files);
    folders.push(dir);
    return dir;
  }

  function newInstance(): string {
    return `i${++instances}`;
  }

  /** Starts mqflow on `dir` and waits until `triggers` subscribed. */
  async function launch(dir: string, triggers: readonly string[], options: { instance: string; url?: string; args?: string[] }): Promise<MqflowProcess> {
    const p = startMqflow(dir, { MQTT_URL: options.url ?? broker.url }, ['--instance', options.instance, ...(options.args ?? [])]);
    processes.push(p);
    await p.ready(triggers, 20_000);
    return p;
  }

  /** Writes the flows, starts mqflow on them (with a fresh instance id) and waits for `triggers`. */
  async function run(files: Record<string, string>, triggers: readonly string[], options: { url?: string; args?: string[] } = {}): Promise<{ mqflow: MqflowProcess; dir: string; instance: string }> {
    const dir = folder(files);
    const instance = newInstance();
    const mqflow = await launch(dir, triggers, { instance, ...options });
    return { mqflow, dir, instance };
  }

  async function client(...filters: string[]): Promise<TestClient> {
    const c = await TestClient.connect(broker.url);
    clients.push(c);
    if (filters.length > 0) await c.subscribe(filters, 2);
    return c;
  }

  async function proxy(): Promise<MqttProxy> {
    const x = await startProxy(broker.url);
    proxies.push(x);
    return x;
  }

  const jsonOf = (messages: readonly Received[]): unknown[] => messages.map((m) => JSON.parse(m.text) as unknown);
  const logSteps = (p: MqflowProcess, trigger: string): LogLine[] => p.lines.filter((l) => l.event === 'log-step' && l.trigger === trigger);

  // ---------------------------------------------------------------- topic filters

  it('topic list: every filter of the list delivers; $wildcards come from the first filter that matches', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  listed:
    connection: plant
    topic:
      - list/+/a
      - list/b/#
    service: echo
services:
  echo:
    steps:
      - publish:
          topic: out/list
          payload: '{ "topic": $topic, "wildcards": $wildcards }'
`,
      },
      ['listed'],
    );
    const c = await client('out/list');
    await c.publish('list/x/a', {});
    await c.publish('list/b/c/d', {});
    await c.publish('list/b/a', {}); // matches both filters
    await c.publish('list/z/z', {}); // matches neither
    await c.publish('list/b', { last: true });
    await c.waitFor(1, (m) => m.text.includes('"list/b"'));
    const outs = jsonOf(c.on('out/list')) as { topic: string; wildcards: string[] }[];
    expect(outs.filter((o) => o.topic !== 'list/b/a')).toEqual([
      { topic: 'list/x/a', wildcards: ['x'] },
      { topic: 'list/b/c/d', wildcards: ['c/d'] },
      { topic: 'list/b', wildcards: [''] },
    ]);
    // A broker may deliver a message that matches two filters of one client once or once per filter;
    // either way $wildcards come from the first filter of the list.
    const both = outs.filter((o) => o.topic === 'list/b/a');
    expect(both.length).toBeGreaterThanOrEqual(1);
    expect(both.every((o) => JSON.stringify(o.wildcards) === '["b"]')).toBe(true);
  });

  it('"#" gives the rest of the topic as one string in $wildcards, after the "+" values', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  hashes:
    connection: plant
    topic: hash/+/#
    service: echo
services:
  echo:
    steps:
      - publish:
          topic: out/hash
          payload: '{ "topic": $topic, "wildcards": $wildcards, "levels": $levels }'
`,
      },
      ['hashes'],
    );
    const c = await client('out/hash');
    for (const topic of ['hash/a', 'hash/a/b', 'hash/a/b/c/d', 'hash/a//x', 'hash/a/b/', 'hash//']) await c.publish(topic, {});
    await c.waitFor(6);
    expect(jsonOf(c.on('out/hash'))).toEqual([
      { topic: 'hash/a', wildcards: ['a', ''], levels: ['hash', 'a'] },
      { topic: 'hash/a/b', wildcards: ['a', 'b'], levels: ['hash', 'a', 'b'] },
      { topic: 'hash/a/b/c/d', wildcards: ['a', 'b/c/d'], levels: ['hash', 'a', 'b', 'c', 'd'] },
      { topic: 'hash/a//x', wildcards: ['a', '/x'], levels: ['hash', 'a', '', 'x'] },
      { topic: 'hash/a/b/', wildcards: ['a', 'b/'], levels: ['hash', 'a', 'b', ''] },
      { topic: 'hash//', wildcards: ['', ''], levels: ['hash', '', ''] },
    ]);
  });

  it('"#" and "+/…" triggers do not get topics that start with "$"; a "$app/#" trigger does', async (context) => {
    const c = await client();
    // Can a client publish to a "$" topic on this broker at all? Check with a plain subscriber first.
    const probe = await client('$app/#');
    await c.publish('$app/probe', 'probe');
    const routed = await probe.waitFor(1, () => true, 3_000).then(
      () => true,
      () => false,
    );
    if (!routed) {
      context.skip(`the ${brokerName} does not route messages published to "$app/…" topics, so this case cannot be observed`);
      return;
    }
    const { mqflow } = await run(
      {
        'flow.yaml': `${connection()}triggers:
  everything:
    connection: plant
    topic: '#'
    payload: text
    service: note
  first-plus:
    connection: plant
    topic: +/x
    payload: text
    service: note
  dollar:
    connection: plant
    topic: $app/#
    payload: text
    service: note
services:
  note:
    steps:
      - log: "{{ $topic }}"
`,
      },
      ['everything', 'first-plus', 'dollar'],
    );
    await c.publish('$app/x', 'dollar');
    await c.publish('app/x', 'plain');
    await mqflow.waitFor((l) => l.event === 'log-step' && l.trigger === 'dollar' && l.msg === '$app/x');
    // Messages from one client reach a subscriber in order: once "app/x" is in, "$app/x" would have been.
    await mqflow.waitFor((l) => l.event === 'log-step' && l.trigger === 'everything' && l.msg === 'app/x');
    await mqflow.waitFor((l) => l.event === 'log-step' && l.trigger === 'first-plus' && l.msg === 'app/x');
    expect(logSteps(mqflow, 'everything').map((l) => l.msg)).toEqual(['app/x']);
    expect(logSteps(mqflow, 'first-plus').map((l) => l.msg)).toEqual(['app/x']);
    expect(logSteps(mqflow, 'dollar').map((l) => l.msg)).toEqual(['$app/x']);
  });

  it('two triggers with overlapping filters each get each message exactly once', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  narrow:
    connection: plant
    topic: ov/+/data
    service: to-a
  wide:
    connection: plant
    topic: ov/#
    service: to-b
services:
  to-a:
    steps:
      - publish: { topic: out/ov/narrow }
  to-b:
    steps:
      - publish: { topic: out/ov/wide }
`,
      },
      ['narrow', 'wide'],
    );
    const c = await client('out/ov/#');
    for (let seq = 1; seq <= 5; seq++) await c.publish(`ov/s${seq}/data`, { seq });
    await c.publish('ov/other', { seq: 6 }); // only the wide one
    await c.publish('ov/last/data', { seq: 99 });
    await c.waitFor(1, (m) => m.topic === 'out/ov/narrow' && m.text.includes('99'));
    await c.waitFor(1, (m) => m.topic === 'out/ov/wide' && m.text.includes('99'));
    expect(jsonOf(c.on('out/ov/narrow'))).toEqual([1, 2, 3, 4, 5, 99].map((seq) => ({ seq })));
    expect(jsonOf(c.on('out/ov/wide'))).toEqual([1, 2, 3, 4, 5, 6, 99].map((seq) => ({ seq })));
  });

  // ---------------------------------------------------------------- qos

  it('qos caps the delivery QoS: a qos 0 trigger gets a QoS 1 message at QoS 0', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  at-most-once:
    connection: plant
    topic: qos0/in
    qos: 0
    service: echo
services:
  echo:
    steps:
      - publish:
          topic: out/qos0
          payload: '{ "seq": seq, "qos": $message.qos }'
`,
      },
      ['at-most-once'],
    );
    const c = await client('out/qos0');
    await c.publish('qos0/in', { seq: 1 }, 1);
    await c.publish('qos0/in', { seq: 2 }, 2);
    await c.waitFor(2);
    expect(jsonOf(c.on('out/qos0'))).toEqual([
      { seq: 1, qos: 0 },
      { seq: 2, qos: 0 },
    ]);
  });

  it('qos 2: a QoS 2 message is processed once, and its PUBREC is sent only after its output was acknowledged', async () => {
    const x = await proxy();
    const { instance } = await run(
      {
        'flow.yaml': `${connection()}triggers:
  exactly-once:
    connection: plant
    topic: qos2/in
    qos: 2
    service: echo
services:
  echo:
    steps:
      - publish:
          topic: out/qos2
          payload: '{ "seq": seq, "qos": $message.qos }'
`,
      },
      ['exactly-once'],
      { url: x.url },
    );
    const c = await client('out/qos2');
    await c.publish('qos2/in', { seq: 1 }, 2);
    await c.publish('qos2/in', { seq: 2 }, 1); // serial: once its output is in, the first one's would be too
    await c.waitFor(1, (m) => m.text.includes('"seq":2'), 10_000);
    await sleep(200);
    expect.soft(jsonOf(c.on('out/qos2'))).toEqual([
      { seq: 1, qos: 2 },
      { seq: 2, qos: 1 },
    ]);
    // No early acknowledgement: the PUBREC of the input leaves after the broker's PUBACK of its output.
    const [sub] = x.connectionsOf(`mqflow-plant-${instance}-exactly-once`);
    const [pub] = x.connectionsOf(`mqflow-plant-${instance}`);
    const input = sub!.packets.find((p) => p.direction === 'toClient' && p.type === 'publish' && p.qos === 2)!;
    const pubrec = sub!.packets.find((p) => p.direction === 'toBroker' && p.type === 'pubrec' && p.messageId === input.messageId);
    const output = pub!.packets.find((p) => p.direction === 'toBroker' && p.type === 'publish' && p.payload === '{"seq":1,"qos":2}');
    const outputAck = output && pub!.packets.find((p) => p.direction === 'toClient' && p.type === 'puback' && p.messageId === output.messageId && p.index > output.index);
    expect(pubrec, 'PUBREC of the QoS 2 input').toBeDefined();
    expect(outputAck, 'PUBACK of the output of the QoS 2 input').toBeDefined();
    expect(pubrec!.index).toBeGreaterThan(outputAck!.index);
  });

  it('QoS 2 concurrently (invariant 24): a QoS 2 message waiting for its retry does not hold up the next one', async () => {
    const { mqflow } = await run(
      {
        'flow.yaml': `${connection()}triggers:
  qos2-parallel:
    connection: plant
    topic: qos2p/in
    qos: 2
    processing: concurrent
    service: maybe-fail
    # $error() is deterministic: failures: all retries it.
    retry: { maxAttempts: 2, delay: 1s, failures: all }
    onError:
      publish: { topic: out/qos2p/dead }
services:
  maybe-fail:
    steps:
      - transform: 'fail ? $error("fails on purpose") : $'
      - publish:
          topic: out/qos2p/ok
          payload: '{ "seq": seq }'
`,
      },
      ['qos2-parallel'],
    );
    const c = await client('out/qos2p/#');
    await c.publish('qos2p/in', { seq: 1, fail: true }, 2);
    await c.publish('qos2p/in', { seq: 2 }, 2);
    await c.waitFor(2, () => true, 10_000);
    // Message 2 was read and processed while message 1 waited a second for its retry (its PUBREC held).
    expect(c.received.map((m) => m.topic)).toEqual(['out/qos2p/ok', 'out/qos2p/dead']);
    expect(jsonOf(c.on('out/qos2p/ok'))).toEqual([{ seq: 2 }]);
    expect(mqflow.lines.filter((l) => l.event === 'retry')).toHaveLength(1);
  });

  // ---------------------------------------------------------------- processing

  it('serial processing keeps the arrival order (100 messages)', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  in-order:
    connection: plant
    topic: serial/in
    service: uneven
services:
  uneven:
    description: uneven work per message, so a message overtaking another would show
    steps:
      - set:
          seq: seq
      - split:
          items: '[1..(seq % 7) * 3]'
          steps:
            - publish:
                topic: out/serial/work
                payload: '{ "seq": $seq, "i": $item }'
      - publish:
          topic: out/serial/done
          payload: '{ "seq": seq }'
`,
      },
      ['in-order'],
    );
    const c = await client('out/serial/done');
    await Promise.all(Array.from({ length: 100 }, (_, seq) => c.publish('serial/in', { seq })));
    await c.waitFor(100, () => true, 30_000);
    expect(jsonOf(c.on('out/serial/done'))).toEqual(Array.from({ length: 100 }, (_, seq) => ({ seq })));
  });

  it('concurrent processing (maxConcurrency 8) processes every message and acknowledges them in arrival order, each after its outputs', async () => {
    const x = await proxy();
    const { instance } = await run(
      {
        'flow.yaml': `${connection()}triggers:
  parallel:
    connection: plant
    topic: conc/in
    processing: concurrent
    maxConcurrency: 8
    service: uneven
services:
  uneven:
    description: every eighth message does much more work, so later ones finish first
    steps:
      - set:
          seq: seq
      - split:
          items: '[1..(seq % 8 = 0 ? 40 : 1)]'
          steps:
            - publish:
                topic: out/conc/work
                payload: '{ "seq": $seq, "i": $item }'
      - publish:
          topic: out/conc/done
          payload: '{ "seq": seq }'
`,
      },
      ['parallel'],
      { url: x.url },
    );
    const c = await client('out/conc/done');
    await Promise.all(Array.from({ length: 100 }, (_, seq) => c.publish('conc/in', { seq })));
    await c.waitFor(100, () => true, 30_000);
    const done = (jsonOf(c.on('out/conc/done')) as { seq: number }[]).map((d) => d.seq);
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, seq) => seq));

    const connections = x.connectionsOf(`mqflow-plant-${instance}-parallel`);
    expect(connections).toHaveLength(1); // no reconnect: one ack window
    const packets = connections[0]!.packets;
    const inputs = packets.filter((p) => p.direction === 'toClient' && p.type === 'publish');
    const acks = (): ProxiedPacket[] => packets.filter((p) => p.direction === 'toBroker' && p.type === 'puback');
    await eventually(() => acks().length >= 100);
    expect(inputs).toHaveLength(100);
    expect(acks().map((a) => a.messageId)).toEqual(inputs.map((i) => i.messageId));

    // Each PUBACK leaves after the broker acknowledged that message's last output.
    const publisher = x.connectionsOf(`mqflow-plant-${instance}`)[0]!.packets;
    for (const input of inputs) {
      const seq = (JSON.parse(input.payload!) as { seq: number }).seq;
      const output = publisher.find((p) => p.direction === 'toBroker' && p.type === 'publish' && p.topic === 'out/conc/done' && p.payload === JSON.stringify({ seq }))!;
      const outputAck = publisher.find((p) => p.direction === 'toClient' && p.type === 'puback' && p.messageId === output.messageId && p.index > output.index)!;
      const ack = acks().find((a) => a.messageId === input.messageId)!;
      expect(ack.index, `PUBACK of message ${seq}`).toBeGreaterThan(outputAck.index);
    }
  });

  it('queueSize: a trigger that holds at most 2 messages still processes all 50, in order (backpressure, no loss)', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  small-queue:
    connection: plant
    topic: queue/in
    queueSize: 2
    service: echo
services:
  echo:
    steps:
      - publish: { topic: out/queue }
`,
      },
      ['small-queue'],
    );
    const c = await client('out/queue');
    await Promise.all(Array.from({ length: 50 }, (_, seq) => c.publish('queue/in', { seq })));
    await c.waitFor(50, () => true, 30_000);
    expect(jsonOf(c.on('out/queue'))).toEqual(Array.from({ length: 50 }, (_, seq) => ({ seq })));
  });

  // ---------------------------------------------------------------- retry and onError

  it('retry: maxAttempts 3 makes three attempts (two "retry" events), then the dead letter says attempts: 3; onError.publish honours connection, qos and retain', async () => {
    const { mqflow } = await run(
      {
        'flow.yaml': `${connection({ extra: `  ops:
    url: \${env:MQTT_URL}
    clientId: mqflow-ops-retry
` })}triggers:
  flaky:
    connection: plant
    topic: retry/in
    service: always-fails
    retry:
      maxAttempts: 3
      delay: 50ms
      backoff: exponential
      maxDelay: 100ms
      failures: all
    onError:
      publish:
        connection: ops
        topic: out/retry/dead
        qos: 2
        retain: true
services:
  always-fails:
    steps:
      - publish:
          topic: out/retry/attempt
      - transform: '$error("always " & seq)'
`,
      },
      ['flaky'],
    );
    const c = await client('out/retry/#');
    await c.publish('retry/in', { seq: 7 });
    await c.waitFor(1, (m) => m.topic === 'out/retry/dead');
    // Steps of failed attempts are not undone: the publish before the failing step ran three times.
    expect(jsonOf(c.on('out/retry/attempt'))).toEqual([{ seq: 7 }, { seq: 7 }, { seq: 7 }]);
    const [dead] = jsonOf(c.on('out/retry/dead')) as { error: { message: string; code: string; step: string }; attempts: number; trigger: string; message: { payload: unknown } }[];
    expect(dead).toMatchObject({ attempts: 3, trigger: 'flaky', message: { payload: { seq: 7 } }, error: { code: 'D3137', step: 'services.always-fails.steps[1]' } });
    expect(dead!.error.message).toMatch(/^services\.always-fails\.steps\[1\]: JSONata error D3137: always 7/);
    // The log lines come through a pipe and may trail the dead letter: wait for the last one.
    await mqflow.waitFor((l) => l.event === 'message-failed' && l.trigger === 'flaky');
    const retries = mqflow.lines.filter((l) => l.event === 'retry' && l.trigger === 'flaky');
    expect(retries.map((l) => [l.attempt, l.topic])).toEqual([
      [1, 'retry/in'],
      [2, 'retry/in'],
    ]);
    expect(retries.every((l) => String(l.reason).includes('always 7'))).toBe(true);
    const failed = mqflow.lines.filter((l) => l.event === 'message-failed' && l.trigger === 'flaky');
    expect(failed.map((l) => [l.attempt, l.code])).toEqual([[3, 'D3137']]);
    // The dead letter went out through "ops", at QoS 2, retained: a late subscriber gets it.
    const late = await client('out/retry/dead');
    await late.waitFor(1);
    expect(late.received.map((m) => [m.packet.qos, m.packet.retain, JSON.parse(m.text) as unknown])).toEqual([[2, true, dead]]);
    await c.publish('out/retry/dead', '', 1, true);
  });

  it('the failure document (onError service payload and onError.publish dead letter) is { error, message: $message of the failed message, trigger, attempts, failedAt }', async () => {
    const { mqflow } = await run(
      {
        'flow.yaml': `${connection()}triggers:
  with-handler:
    connection: plant
    topic: onerr/+/service
    service: needs-temp
    onError:
      service: record-failure
  with-dead-letter:
    connection: plant
    topic: onerr/+/publish
    service: needs-temp
    onError:
      publish:
        topic: out/onerr/dead
services:
  needs-temp:
    input:
      type: object
      required: [temp_f]
    steps:
      - publish: { topic: out/onerr/ok }
  record-failure:
    steps:
      - log:
          level: warn
          message: "{{ message.topic }} failed after {{ attempts }} attempts: {{ error.message }}"
      - publish:
          topic: out/onerr/report
      - publish:
          topic: out/onerr/context
          payload: '{ "topic": $topic, "levels": $levels, "wildcards": $wildcards, "message": $message }'
`,
      },
      ['with-handler', 'with-dead-letter'],
    );
    const c = await client('out/onerr/#');
    await c.publish('onerr/north/service', { temp: 187.2 });
    await c.publish('onerr/south/publish', { temp: 10 });
    await c.waitFor(1, (m) => m.topic === 'out/onerr/context');
    await c.waitFor(1, (m) => m.topic === 'out/onerr/dead');

    const expected = (topic: string, site: string, trigger: string, payload: unknown): unknown => ({
      error: expect.objectContaining({
        message: "services.needs-temp.input: the payload does not match the schema: payload must have required property 'temp_f'",
        code: 'MQFLOW_INPUT',
        kind: 'deterministic',
      }) as unknown,
      message: {
        topic,
        levels: topic.split('/'),
        wildcards: [site],
        payload,
        qos: 1,
        retain: false,
        dup: false,
        messageId: expect.any(Number) as unknown,
        receivedAt: expect.stringMatching(ISO_UTC) as unknown,
        trigger,
        connection: 'plant',
      },
      trigger,
      attempts: 1,
      failedAt: expect.stringMatching(ISO_UTC) as unknown,
    });
    const [report] = jsonOf(c.on('out/onerr/report'));
    const [dead] = jsonOf(c.on('out/onerr/dead'));
    expect.soft(report, 'onError.service payload').toEqual(expected('onerr/north/service', 'north', 'with-handler', { temp: 187.2 }));
    expect.soft(dead, 'onError.publish dead letter').toEqual(expected('onerr/south/publish', 'south', 'with-dead-letter', { temp: 10 }));

    // Inside the error service, $topic, $levels, $wildcards and $message describe the failed message.
    const [context] = jsonOf(c.on('out/onerr/context')) as { message: Record<string, unknown> }[];
    expect(context).toMatchObject({ topic: 'onerr/north/service', levels: ['onerr', 'north', 'service'], wildcards: ['north'] });
    expect(context!.message).toMatchObject({ topic: 'onerr/north/service', wildcards: ['north'], payload: { temp: 187.2 }, trigger: 'with-handler', connection: 'plant' });
    const log = await mqflow.waitFor((l) => l.event === 'log-step' && l.trigger === 'with-handler');
    expect(log.msg).toBe("onerr/north/service failed after 1 attempts: services.needs-temp.input: the payload does not match the schema: payload must have required property 'temp_f'");
    expect(c.on('out/onerr/ok')).toEqual([]);
  });

  it('onError suspend: the trigger suspends, resumes after resumeAfter, and (cleanSession: false) the failed message is redelivered and processed', async () => {
    // The service fails the first delivery only. A redelivery is recognised by its DUP flag (MQTT
    // 3.1.1 §3.3.1.1, which Mosquitto sets), or by arriving a second or more after it was sent:
    // the embedded broker (aedes) redelivers with dup false.
    const { mqflow } = await run(
      {
        'flow.yaml': `${connection({ cleanSession: false })}triggers:
  fragile:
    connection: plant
    topic: suspend/in
    service: fails-first-time
    onError:
      suspend:
        resumeAfter: 1s
services:
  fails-first-time:
    steps:
      - transform: '$message.dup or $toMillis($message.receivedAt) - sentAt >= 900 ? $ : $error("first time")'
      - publish:
          topic: out/suspend
          payload: '{ "seq": seq, "dup": $message.dup }'
`,
      },
      ['fragile'],
    );
    const c = await client('out/suspend');
    await c.publish('suspend/in', { seq: 1, sentAt: Date.now() });
    const failed = await mqflow.waitFor((l) => l.event === 'message-failed' && l.trigger === 'fragile');
    expect(failed).toMatchObject({ topic: 'suspend/in', attempt: 1, code: 'D3137' });
    const suspended = await mqflow.waitFor((l) => l.event === 'suspended' && l.trigger === 'fragile');
    expect(suspended.resumeAfterMs).toBe(1000);
    await mqflow.waitFor((l) => l.event === 'resumed' && l.trigger === 'fragile');
    await c.waitFor(1, () => true, 15_000);
    const outs = jsonOf(c.on('out/suspend')) as { seq: number; dup: boolean }[];
    expect(outs.map((o) => o.seq)).toEqual([1]);
    if (brokerName === 'mosquitto') expect(outs[0]!.dup).toBe(true);
    // The redelivery succeeded: one failure, one suspension.
    expect(mqflow.lines.filter((l) => l.event === 'message-failed')).toHaveLength(1);
    expect(mqflow.lines.filter((l) => l.event === 'suspended')).toHaveLength(1);
  });

  it('maxPayloadBytes: a payload over the limit goes to the dead letter with MQFLOW_PAYLOAD_TOO_LARGE; the next one flows', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  small-only:
    connection: plant
    topic: size/in
    maxPayloadBytes: 32
    service: echo
    onError:
      publish:
        topic: out/size/dead
services:
  echo:
    steps:
      - publish: { topic: out/size/ok }
`,
      },
      ['small-only'],
    );
    const c = await client('out/size/#');
    const big = JSON.stringify({ text: 'x'.repeat(40) }); // 51 bytes
    const exact = JSON.stringify({ t: 'y'.repeat(24) }); // 32 bytes
    expect(Buffer.byteLength(exact)).toBe(32);
    await c.publish('size/in', big);
    await c.publish('size/in', { n: 1 });
    await c.publish('size/in', exact);
    await c.waitFor(2, (m) => m.topic === 'out/size/ok');
    expect(c.on('out/size/ok').map((m) => m.text)).toEqual(['{"n":1}', exact]);
    const dead = jsonOf(c.on('out/size/dead')) as { error: { code: string; message: string }; message: { payload: unknown; payloadEncoding?: string }; attempts: number }[];
    expect(dead).toHaveLength(1);
    expect(dead[0]!.error).toMatchObject({ code: 'MQFLOW_PAYLOAD_TOO_LARGE', message: "the payload is 51 bytes, over the trigger's maxPayloadBytes (32)" });
    expect(dead[0]!.message).toMatchObject({ topic: 'size/in', payload: big, payloadEncoding: 'utf8' });
    expect(dead[0]!.attempts).toBe(1);
  });

  // ---------------------------------------------------------------- enabled, ack

  it('enabled: false: the trigger does not subscribe (no client connects for it) and its service never runs', async () => {
    const x = await proxy();
    const { mqflow, instance } = await run(
      {
        'flow.yaml': `${connection()}triggers:
  active:
    connection: plant
    topic: en/in
    service: to-active
  paused:
    connection: plant
    topic: en/in
    enabled: false
    service: to-paused
services:
  to-active:
    steps:
      - publish: { topic: out/en/active }
  to-paused:
    steps:
      - publish: { topic: out/en/paused }
`,
      },
      ['active'],
      { url: x.url },
    );
    const c = await client('out/en/#');
    await c.publish('en/in', { n: 1 });
    await c.publish('en/in', { n: 2 });
    await c.waitFor(2);
    await sleep(500);
    expect(c.received.map((m) => [m.topic, m.text])).toEqual([
      ['out/en/active', '{"n":1}'],
      ['out/en/active', '{"n":2}'],
    ]);
    expect(x.connections.map((cn) => cn.clientId).sort()).toEqual([`mqflow-plant-${instance}`, `mqflow-plant-${instance}-active`]);
    expect(mqflow.lines.filter((l) => l.trigger === 'paused')).toEqual([]);
  });

  it('a trigger on a disabled connection does not run, and its connection is never opened', async () => {
    const x = await proxy();
    const { mqflow } = await run(
      {
        'flow.yaml': `${connection({
          extra: `  standby:
    url: ${x.url}
    enabled: false
`,
        })}triggers:
  live:
    connection: plant
    topic: dc/in
    service: to-live
  on-standby:
    connection: standby
    topic: dc/in
    service: to-standby
services:
  to-live:
    steps:
      - publish: { topic: out/dc/live }
  to-standby:
    steps:
      - publish: { topic: out/dc/standby }
`,
      },
      ['live'],
    );
    const c = await client('out/dc/#');
    await c.publish('dc/in', { n: 1 });
    await c.waitFor(1);
    await sleep(500);
    expect(c.received.map((m) => m.topic)).toEqual(['out/dc/live']);
    expect(x.connections).toEqual([]);
    expect(mqflow.lines.find((l) => l.event === 'disabled' && l.connection === 'standby')).toBeDefined();
    expect(mqflow.lines.find((l) => l.event === 'flow-warning' && l.code === 'MQFLOW_DISABLED_CONNECTION')).toBeDefined();
    expect(mqflow.lines.filter((l) => l.trigger === 'on-standby')).toEqual([]);
  });

  it('ack: onReceipt still processes every message', async () => {
    await run(
      {
        'flow.yaml': `${connection()}triggers:
  fast:
    connection: plant
    topic: receipt/in
    ack: onReceipt
    service: echo
services:
  echo:
    steps:
      - transform: '{ "seq": seq, "qos": $message.qos }'
      - publish: { topic: out/receipt }
`,
      },
      ['fast'],
    );
    const c = await client('out/receipt');
    for (let seq = 0; seq < 10; seq++) await c.publish('receipt/in', { seq }, seq % 2 === 0 ? 1 : 0);
    await c.waitFor(10);
    expect(jsonOf(c.on('out/receipt'))).toEqual(Array.from({ length: 10 }, (_, seq) => ({ seq, qos: seq % 2 === 0 ? 1 : 0 })));
  });

  // ---------------------------------------------------------------- share

  // Shared subscriptions are a Mosquitto feature here (aedes has none): the test exists for Mosquitto only, rather than as a skipped test.
  if (brokerName === 'mosquitto') it('share: two instances with the same flows split the messages of a share group; each message is processed once', async () => {
    const dir = folder({
      'flow.yaml': `${connection()}triggers:
  shared:
    connection: plant
    topic: shared/+/in
    share: g
    service: take
services:
  take:
    steps:
      - log: "took {{ seq }}"
      - publish:
          topic: out/shared
          payload: '{ "seq": seq, "wildcards": $wildcards, "topic": $topic }'
`,
    });
    const a = await launch(dir, ['shared'], { instance: newInstance() });
    const b = await launch(dir, ['shared'], { instance: newInstance() });
    const c = await client('out/shared');
    await Promise.all(Array.from({ length: 40 }, (_, seq) => c.publish('shared/x/in', { seq })));
    await c.waitFor(40, () => true, 20_000);
    await sleep(500); // anything processed twice would show up by now
    const outs = jsonOf(c.on('out/shared')) as { seq: number; wildcards: string[]; topic: string }[];
    expect(outs.map((o) => o.seq).sort((p, q) => p - q)).toEqual(Array.from({ length: 40 }, (_, seq) => seq));
    expect(outs.every((o) => o.topic === 'shared/x/in' && JSON.stringify(o.wildcards) === '["x"]')).toBe(true);
    const tookA = logSteps(a, 'shared').map((l) => l.msg);
    const tookB = logSteps(b, 'shared').map((l) => l.msg);
    expect(tookA.length + tookB.length).toBe(40);
    expect(new Set([...tookA, ...tookB]).size).toBe(40);
    expect(tookA.length).toBeGreaterThan(0);
    expect(tookB.length).toBeGreaterThan(0);
  });

  // ---------------------------------------------------------------- shutdown

  /** A serial trigger whose service makes `publishes` sequential QoS 1 publishes per message, then a "done" one. */
  const slowFlows = (publishes: number): Record<string, string> => ({
    'flow.yaml': `${connection({ cleanSession: false })}triggers:
  slow:
    connection: plant
    topic: drain/in
    service: many-publishes
services:
  many-publishes:
    steps:
      - set:
          seq: seq
      - split:
          items: '[1..${publishes}]'
          steps:
            - publish:
                topic: out/drain/work
                payload: '{ "seq": $seq, "i": $item }'
      - publish:
          topic: out/drain/done
          payload: '{ "seq": seq }'
`,
  });

  it('SIGTERM drains: exit code 0, the message in flight is finished, and every message sent before the signal is processed (now or after a restart)', async () => {
    const dir = folder(slowFlows(300));
    const instance = newInstance();
    const first = await launch(dir, ['slow'], { instance });
    const work = await client('out/drain/work');
    const c = await client('out/drain/done');
    for (let seq = 0; seq < 10; seq++) await c.publish('drain/in', { seq });
    await work.waitFor(1); // the first message is being processed
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(await first.waitFor((l) => l.event === 'stopping', 5_000)).toMatchObject({ signal: 'SIGTERM' });
    await first.waitFor((l) => l.event === 'stopped', 5_000);
    expect(first.lines.find((l) => l.event === 'drain-timeout')).toBeUndefined();
    // Let the done messages published before the exit arrive.
    await sleep(300);
    const doneBefore = (jsonOf(c.on('out/drain/done')) as { seq: number }[]).map((d) => d.seq);
    expect(doneBefore).toContain(0);

    const second = await launch(dir, ['slow'], { instance });
    await c.waitFor(1, (m) => m.text === '{"seq":9}', 30_000);
    const all = new Set((jsonOf(c.on('out/drain/done')) as { seq: number }[]).map((d) => d.seq));
    expect([...all].sort((p, q) => p - q)).toEqual(Array.from({ length: 10 }, (_, seq) => seq));
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);

  it('SIGTERM with a drain timeout too short: exit code 0, and the messages not finished are redelivered and processed after a restart', async () => {
    // Publishes no longer hold up the steps (invariant 22): enough of them that a message outlasts 200 ms.
    const dir = folder(slowFlows(5000));
    const instance = newInstance();
    const first = await launch(dir, ['slow'], { instance, args: ['--drain-timeout', '200ms'] });
    const work = await client('out/drain/work');
    const c = await client('out/drain/done');
    for (let seq = 0; seq < 10; seq++) await c.publish('drain/in', { seq });
    await work.waitFor(1);
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await first.waitFor((l) => l.event === 'drain-timeout', 5_000);
    await first.waitFor((l) => l.event === 'stopped', 5_000);

    const second = await launch(dir, ['slow'], { instance });
    const all = (): Set<number> => new Set((jsonOf(c.on('out/drain/done')) as { seq: number }[]).map((d) => d.seq));
    await eventually(() => all().size === 10, 40_000);
    expect([...all()].sort((p, q) => p - q)).toEqual(Array.from({ length: 10 }, (_, seq) => seq));
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);
});
