/**
 * Hot reload under load, against a real Mosquitto (docs/architecture.md, invariants 10–15): a
 * steady QoS 1 stream flows through a service while the flow folder is edited 50 times, and
 * nothing the configuration in force subscribed to is lost; each output comes from the version in
 * force when its message arrived. Also: a service-only reload opens no new connection.
 */
import { renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { runsOf, startLoad } from '../support/qos1-load.js';
import { flowFolder, startMqflow, type LogLine, type MqflowProcess } from '../support/runtime.js';

const RATE = 2000; // messages per second
const SECONDS = 20;
const EDITS = 50;
const EDIT_EVERY_MS = 350;

const connections = (keepalive: number): string => `connections:
  plant:
    url: \${env:MQTT_URL}
    keepalive: ${keepalive}
    reconnectPeriod: 200ms
`;

const main = (version: number): string => `triggers:
  main-in:
    connection: plant
    topic: load/in
    qos: 1
    service: stamp
    processing: concurrent
    maxConcurrency: 8
services:
  stamp:
    steps:
      - transform: '{"seq": seq, "v": ${version}}'
      - publish:
          topic: out/main
          qos: 1
`;

const EXTRA = `triggers:
  extra-in:
    connection: plant
    topic: extra/in
    qos: 1
    service: stamp
`;

const reloads = (m: MqflowProcess): LogLine[] => m.lines.filter((l) => l.event === 'reload-applied' || l.event === 'reload-failed' || l.event === 'reload-unchanged');
const newClients = (broker: Mosquitto): string[] => broker.output().split('\n').filter((l) => l.includes('New client connected'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes a file the way editors save: a temporary file renamed over the original. */
function atomicWrite(path: string, text: string): void {
  writeFileSync(`${path}.tmp~`, text);
  renameSync(`${path}.tmp~`, path);
}

describe.runIf(RUN_MOSQUITTO)('hot reload against Mosquitto', () => {
  let broker: Mosquitto;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    // Mosquitto logs each CONNECT ("New client connected … as <id>") at notice level.
    broker = await startMosquitto('connection_messages true\n');
  });

  // Each test stops its mqflow: two processes with the same client ids would take over each other's sessions.
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  }, 30_000);

  afterAll(async () => {
    await broker?.stop();
  });

  async function mqflowOn(files: Record<string, string>, triggers: string[]): Promise<{ dir: string; mqflow: MqflowProcess }> {
    const dir = flowFolder(files);
    const mqflow = startMqflow(dir, { MQTT_URL: broker.url }, ['--watch', '--watch-debounce', '50ms', '--log-level', 'info']);
    cleanup.push(async () => {
      mqflow.kill('SIGTERM');
      await mqflow.exited;
      rmSync(dir, { recursive: true, force: true });
    });
    await mqflow.ready(triggers, 20_000);
    await mqflow.waitFor((l) => l.event === 'watching');
    return { dir, mqflow };
  }

  /** Resolves with the reload log line that follows `before` reloads. */
  const nextReload = (mqflow: MqflowProcess, before: number): Promise<LogLine> => mqflow.waitFor(() => reloads(mqflow).length > before, 10_000).then(() => reloads(mqflow)[before]!);

  it('a reload that changes only a service opens no new connection: the broker sees no new CONNECT', async () => {
    const { dir, mqflow } = await mqflowOn({ 'connections.yaml': connections(30), 'main.yaml': main(1) }, ['main-in']);
    await mqflow.waitFor((l) => l.event === 'connected' && l.connection === 'plant');
    const sink = await connectAsync(broker.url, { clientId: 'reload-session-sink' });
    cleanup.push(() => sink.endAsync());
    const outputs: { v: number }[] = [];
    sink.on('message', (_t, payload) => outputs.push(JSON.parse(payload.toString()) as { v: number }));
    await sink.subscribeAsync('out/main', { qos: 1 });
    const connectsBefore = newClients(broker).filter((l) => l.includes(' as mqflow-'));
    expect(connectsBefore.length).toBe(2); // the publishing client and the trigger's client

    const before = reloads(mqflow).length;
    atomicWrite(join(dir, 'main.yaml'), main(2));
    const reload = await nextReload(mqflow, before);
    expect(reload.event).toBe('reload-applied');
    expect(mqflow.lines.filter((l) => l.event === 'reload-change').map((l) => l.change)).toEqual(['~ service stamp']);

    await sink.publishAsync('load/in', JSON.stringify({ seq: 1 }), { qos: 1 });
    await expect.poll(() => outputs, { timeout: 10_000 }).toEqual([{ seq: 1, v: 2 }]);
    expect(newClients(broker).filter((l) => l.includes(' as mqflow-'))).toEqual(connectsBefore);
    expect(mqflow.lines.filter((l) => l.event === 'subscribed')).toHaveLength(1);
    expect(mqflow.lines.filter((l) => l.event === 'connected')).toHaveLength(1);
  }, 60_000);

  it(`keeps a ${RATE} msg/s QoS 1 stream whole through ${EDITS} edits: nothing lost, each output from the version in force when its message arrived`, async () => {
    const { dir, mqflow } = await mqflowOn({ 'connections.yaml': connections(30), 'main.yaml': main(0) }, ['main-in']);

    const sink: MqttClient = await connectAsync(broker.url, { clientId: 'reload-load-sink', clean: true });
    cleanup.push(() => sink.endAsync());
    const versionsOf = new Map<number, number[]>();
    const receivedAt = new Map<number, number>();
    sink.on('message', (_topic, payload) => {
      const { seq, v } = JSON.parse(payload.toString()) as { seq: number; v: number };
      const seen = versionsOf.get(seq);
      if (seen === undefined) {
        versionsOf.set(seq, [v]);
        receivedAt.set(seq, Date.now());
      } else seen.push(v);
    });
    await sink.subscribeAsync('out/main', { qos: 1 });

    // The load: RATE messages per second for SECONDS, QoS 1, paced in 10 ms slices (test/support/qos1-load.ts).
    const loadStream = await startLoad(broker.url, 'load/in', 'reload-load-publisher', RATE, SECONDS);
    const load = loadStream.client;
    cleanup.push(() => load.endAsync());
    const { total, publishedAt } = loadStream;
    const loadDone = loadStream.done;

    // The edits: transform versions, a trigger added then removed, an invalid edit and its fix,
    // a connection option. Each waits for its reload so every one is applied on its own.
    const written: { version: number; writtenAt: number }[] = [{ version: 0, writtenAt: 0 }];
    const liveAt = new Map<number, number>([[0, 0]]);
    const extraSent: number[] = [];
    let extraSending: Promise<void> | undefined;
    let extraOn = false;
    let version = 0;
    await sleep(1000);
    for (let edit = 1; edit <= EDITS; edit++) {
      const before = reloads(mqflow).length;
      const editStarted = Date.now();
      if (edit === 10) {
        atomicWrite(join(dir, 'extra.yaml'), EXTRA);
      } else if (edit === 20) {
        extraOn = false;
        await extraSending;
        unlinkSync(join(dir, 'extra.yaml'));
      } else if (edit === 25) {
        writeFileSync(join(dir, 'main.yaml'), `${main(version)}    broken: [\n`);
      } else if (edit === 30) {
        atomicWrite(join(dir, 'connections.yaml'), connections(45));
      } else {
        version = edit;
        written.push({ version, writtenAt: Date.now() });
        atomicWrite(join(dir, 'main.yaml'), main(version));
      }
      const reload = await nextReload(mqflow, before);
      expect(reload.event, `edit ${edit}`).toBe(edit === 25 ? 'reload-failed' : 'reload-applied');
      if (reload.event === 'reload-applied' && !liveAt.has(version)) liveAt.set(version, Date.now());
      if (edit === 10) {
        // While the added trigger exists, its topic is in force: everything sent to it must come out.
        extraOn = true;
        extraSending = (async () => {
          for (let k = 1; extraOn; k++) {
            const seq = 1_000_000 + k;
            extraSent.push(seq);
            await load.publishAsync('extra/in', JSON.stringify({ seq }), { qos: 1 });
            await sleep(20);
          }
        })();
      }
      await sleep(Math.max(0, EDIT_EVERY_MS - (Date.now() - editStarted)));
    }
    await loadDone;

    // Every message must come out (retries of the broker included); wait for the stragglers.
    const missing = (): number[] => [...Array(total).keys()].map((i) => i + 1).filter((seq) => !versionsOf.has(seq));
    await expect.poll(() => missing().length, { timeout: 30_000, interval: 250 }).toBe(0).catch(() => undefined);
    // On a failure, the missing runs with the time they were published, to set against the reload log.
    expect(runsOf(missing()).map(([from, to]) => `${from}-${to} published ${new Date(publishedAt[from]!).toISOString()}`)).toEqual([]);
    await expect.poll(() => extraSent.filter((s) => !versionsOf.has(s)), { timeout: 10_000 }).toEqual([]);
    expect(loadStream.failedPublishes()).toBe(0);
    expect(extraSent.length).toBeGreaterThan(50);

    // Versions in message order never go back: each message runs on the version it arrived under.
    let previous = 0;
    const regressions: string[] = [];
    for (let seq = 1; seq <= total; seq++) {
      const v = Math.min(...versionsOf.get(seq)!);
      if (v < previous) regressions.push(`seq ${seq}: v${v} after v${previous}`);
      previous = Math.max(previous, v);
    }
    expect(regressions.slice(0, 5)).toEqual([]);
    for (let seq = 1; seq <= total; seq++) {
      const v = Math.min(...versionsOf.get(seq)!);
      // Not from the future: the version was written before the output came out …
      const writtenAt = written.find((w) => w.version === v)?.writtenAt;
      expect(writtenAt, `seq ${seq} has v${v}, a version never written`).toBeDefined();
      expect(receivedAt.get(seq)!).toBeGreaterThanOrEqual(writtenAt!);
      // … and not from the past: a message published after a version was live ran on it (or a later one).
      const live = [...liveAt].filter(([, at]) => at <= publishedAt[seq]!).map(([ver]) => ver);
      expect(v, `seq ${seq}`).toBeGreaterThanOrEqual(Math.max(...live));
    }

    const events = (name: string): LogLine[] => mqflow.lines.filter((l) => l.event === name);
    expect(events('reload-failed')).toHaveLength(1);
    expect(events('reload-problem')[0]!.msg).toMatch(/main\.yaml:\d+:\d+ error: /);
    expect(events('reload-applied').length).toBe(EDITS - 1);
    const changes = events('reload-change').map((l) => l.change);
    expect(changes).toEqual(expect.arrayContaining(['+ trigger extra-in', '- trigger extra-in', '~ connection plant (keepalive: reconnects)', '~ trigger main-in (restarts, connection plant changed)']));
    // Duplicates are allowed (a restart overlaps two clients); losses are not.
    const duplicates = [...versionsOf.values()].reduce((n, vs) => n + vs.length - 1, 0);
    const times = events('reload-applied').map((l) => l.ms as number);
    console.log(`reload under load: ${total} messages, ${EDITS} edits, ${times.length} reloads applied, ${duplicates} duplicates, reload times ${Math.min(...times)}–${Math.max(...times)} ms`);
  }, 120_000);
});
