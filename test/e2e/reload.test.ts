/**
 * Hot reload end to end, on both brokers: `mqflow run --watch` (and SIGHUP) applies edits by
 * difference, keeps the running version when an edit is broken, and `mqflow plan` prints what a
 * change would do (docs/hot-reload.md). The load test is in reload-load.test.ts.
 */
import { renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, type TestBroker } from '../support/brokers.js';
import { mqflow as cli } from '../support/cli.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type LogLine, type MqflowProcess } from '../support/runtime.js';

const CONNECTIONS = `connections:
  plant:
    url: \${env:MQTT_URL}
    reconnectPeriod: 200ms
`;

const service = (name: string, version: number): string => `services:
  ${name}:
    steps:
      - transform: '{"n": n, "v": ${version}}'
      - publish:
          topic: out/${name}
`;

const trigger = (name: string, topics: string, svc: string): string => `triggers:
  ${name}:
    connection: plant
    topic: ${topics}
    service: ${svc}
`;

function atomicWrite(path: string, text: string): void {
  writeFileSync(`${path}.swp~`, text);
  renameSync(`${path}.swp~`, path);
}

const reloadEvents = (m: MqflowProcess): LogLine[] => m.lines.filter((l) => l.event === 'reload-applied' || l.event === 'reload-failed' || l.event === 'reload-unchanged');

describe.each(BROKERS)('hot reload against the $name', ({ start }) => {
  let broker: TestBroker;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    broker = await start();
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
  });

  async function run(files: Record<string, string>, triggers: string[], args: string[] = ['--watch', '--watch-debounce', '50ms']): Promise<{ dir: string; mqflow: MqflowProcess }> {
    const dir = flowFolder(files);
    const mqflow = startMqflow(dir, { MQTT_URL: broker.url }, args);
    cleanup.push(async () => {
      mqflow.kill('SIGTERM');
      await mqflow.exited;
      rmSync(dir, { recursive: true, force: true });
    });
    await mqflow.ready(triggers, 20_000);
    if (args.includes('--watch')) await mqflow.waitFor((l) => l.event === 'watching');
    return { dir, mqflow };
  }

  async function client(...filters: string[]): Promise<TestClient> {
    const c = await TestClient.connect(broker.url);
    cleanup.push(() => c.close());
    if (filters.length > 0) await c.subscribe(filters, 1);
    return c;
  }

  /** Makes an edit and resolves with the reload it caused. */
  async function edit(m: MqflowProcess, change: () => void): Promise<LogLine> {
    const before = reloadEvents(m).length;
    change();
    await m.waitFor(() => reloadEvents(m).length > before, 10_000);
    return reloadEvents(m)[before]!;
  }

  it('a broken edit changes nothing and logs every problem as file:line:col; the next valid edit is applied', async () => {
    const { dir, mqflow } = await run({ 'connections.yaml': CONNECTIONS, 'main.yaml': `${trigger('main-in', 'main/in', 'main')}${service('main', 1)}` }, ['main-in']);
    const out = await client('out/main');

    const broken = await edit(mqflow, () => writeFileSync(join(dir, 'main.yaml'), `${trigger('main-in', 'main/in', 'mian')}${service('main', 2)}`));
    expect(broken.event).toBe('reload-failed');
    const problems = mqflow.lines.filter((l) => l.event === 'reload-problem').map((l) => l.msg);
    expect(problems).toEqual([expect.stringMatching(/main\.yaml:5:5 error: triggers\.main-in\.service: no service named "mian".*/)]);
    expect(broken.msg).toMatch(/failed: 1 error in the flow folder; version 1 stays in force/);

    // Still version 1, still running.
    await out.client.publishAsync('main/in', JSON.stringify({ n: 1 }), { qos: 1 });
    await out.waitFor(1);
    expect(out.json('out/main')).toEqual([{ n: 1, v: 1 }]);

    const fixed = await edit(mqflow, () => atomicWrite(join(dir, 'main.yaml'), `${trigger('main-in', 'main/in', 'main')}${service('main', 3)}`));
    expect(fixed.event).toBe('reload-applied');
    expect(fixed.version).toBe(2);
    await out.client.publishAsync('main/in', JSON.stringify({ n: 2 }), { qos: 1 });
    await out.waitFor(2);
    expect(out.json('out/main')).toEqual([
      { n: 1, v: 1 },
      { n: 2, v: 3 },
    ]);
    expect(mqflow.lines.filter((l) => l.event === 'subscribed')).toHaveLength(1);
  }, 60_000);

  it('adds, resubscribes by difference and removes triggers as files come, change and go', async () => {
    const { dir, mqflow } = await run({ 'connections.yaml': CONNECTIONS, 'svc.yaml': service('svc', 1), 'a.yaml': trigger('a-in', 'a/in', 'svc') }, ['a-in']);
    const out = await client('out/svc');
    const send = async (topic: string, n: number): Promise<void> => out.client.publishAsync(topic, JSON.stringify({ n }), { qos: 1 }).then(() => undefined);

    const added = await edit(mqflow, () => atomicWrite(join(dir, 'b.yaml'), trigger('b-in', 'b/in', 'svc')));
    expect(added.event).toBe('reload-applied');
    expect(mqflow.lines.filter((l) => l.event === 'reload-change').map((l) => l.change)).toEqual(['+ trigger b-in']);
    await send('b/in', 1);
    await out.waitFor(1);

    // a-in: a/in stays, c/in is added: subscribe c/in only, and the client stays the same.
    const resubscribed = await edit(mqflow, () => atomicWrite(join(dir, 'a.yaml'), trigger('a-in', '[a/in, c/in]', 'svc')));
    expect(resubscribed.event).toBe('reload-applied');
    expect(mqflow.lines.filter((l) => l.event === 'reload-change').map((l) => l.change).slice(-1)).toEqual(['~ trigger a-in (topic: +c/in)']);
    const resub = await mqflow.waitFor((l) => l.event === 'resubscribed');
    expect(resub).toMatchObject({ trigger: 'a-in', subscribed: ['c/in'], unsubscribed: [] });
    await send('c/in', 2);
    await send('a/in', 3);
    await out.waitFor(3);

    const removed = await edit(mqflow, () => unlinkSync(join(dir, 'b.yaml')));
    expect(removed.event).toBe('reload-applied');
    expect(mqflow.lines.filter((l) => l.event === 'reload-change').map((l) => l.change).slice(-1)).toEqual(['- trigger b-in']);
    await send('b/in', 4); // nobody subscribes b/in any more
    await send('a/in', 5);
    await out.waitFor(4);
    await new Promise((r) => setTimeout(r, 300));
    expect(out.json('out/svc').map((o) => (o as { n: number }).n).sort()).toEqual([1, 2, 3, 5]);
    // Only the added trigger ever subscribed anew.
    expect(mqflow.lines.filter((l) => l.event === 'subscribed').map((l) => l.trigger)).toEqual(['a-in', 'b-in']);
  }, 60_000);

  it('disabling a connection removes its triggers; enabling it brings them back', async () => {
    const { dir, mqflow } = await run({ 'connections.yaml': CONNECTIONS, 'main.yaml': `${trigger('main-in', 'main/in', 'main')}${service('main', 1)}` }, ['main-in']);
    const disabled = await edit(mqflow, () => atomicWrite(join(dir, 'connections.yaml'), `${CONNECTIONS}    enabled: false\n`));
    expect(disabled.event).toBe('reload-applied');
    expect(mqflow.lines.filter((l) => l.event === 'reload-change').map((l) => l.change)).toEqual(['- connection plant (disabled)', '- trigger main-in (connection plant disabled)']);
    const enabled = await edit(mqflow, () => atomicWrite(join(dir, 'connections.yaml'), CONNECTIONS));
    expect(enabled.event).toBe('reload-applied');
    await mqflow.waitFor((l) => l.event === 'subscribed' && mqflow.lines.filter((x) => x.event === 'subscribed').length === 2);
    const out = await client('out/main');
    await out.client.publishAsync('main/in', JSON.stringify({ n: 7 }), { qos: 1 });
    await out.waitFor(1);
    expect(out.json('out/main')).toEqual([{ n: 7, v: 1 }]);
  }, 60_000);

  it('without --watch, SIGHUP reloads; an unchanged folder changes nothing', async () => {
    const { dir, mqflow } = await run({ 'connections.yaml': CONNECTIONS, 'main.yaml': `${trigger('main-in', 'main/in', 'main')}${service('main', 1)}` }, ['main-in'], []);
    const out = await client('out/main');
    const unchanged = await edit(mqflow, () => mqflow.kill('SIGHUP'));
    expect(unchanged.event).toBe('reload-unchanged');
    writeFileSync(join(dir, 'main.yaml'), `${trigger('main-in', 'main/in', 'main')}${service('main', 2)}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(reloadEvents(mqflow)).toHaveLength(1); // not watching
    const applied = await edit(mqflow, () => mqflow.kill('SIGHUP'));
    expect(applied).toMatchObject({ event: 'reload-applied', reason: 'SIGHUP', version: 2 });
    await out.client.publishAsync('main/in', JSON.stringify({ n: 1 }), { qos: 1 });
    await out.waitFor(1);
    expect(out.json('out/main')).toEqual([{ n: 1, v: 2 }]);
  }, 60_000);
});

describe('mqflow plan', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const folder = (files: Record<string, string>): string => {
    const d = flowFolder(files);
    dirs.push(d);
    return d;
  };
  const env = { MQTT_URL: 'mqtt://127.0.0.1:1883' };

  it('prints one line per change and exits 3; 0 when nothing would change; 1 with the problems when a folder is invalid', () => {
    const old = folder({ 'connections.yaml': CONNECTIONS, 'main.yaml': `${trigger('main-in', 'main/in', 'main')}${service('main', 1)}`, 'b.yaml': trigger('b-in', 'b/in', 'main') });
    const next = folder({ 'connections.yaml': CONNECTIONS, 'main.yaml': `${trigger('main-in', '[main/in, main/more]', 'main')}${service('main', 2)}`, 'c.yaml': trigger('c-in', 'c/in', 'main') });
    const changed = cli(['plan', old, next], { env });
    expect(changed.stdout).toBe('+ trigger c-in\n~ trigger main-in (topic: +main/more)\n- trigger b-in\n~ service main\nplan: 1 to add, 2 to change, 1 to remove\n');
    expect(changed.status).toBe(3);

    const same = cli(['plan', old, old], { env });
    expect(same.status).toBe(0);
    expect(same.stdout).toMatch(/^no changes/);

    const broken = folder({ 'connections.yaml': CONNECTIONS, 'main.yaml': trigger('main-in', 'main/in', 'nowhere') });
    const invalid = cli(['plan', old, broken], { env });
    expect(invalid.status).toBe(1);
    expect(invalid.stdout).toMatch(/main\.yaml:5:5 error: triggers\.main-in\.service: no service named "nowhere"/);

    const json = cli(['plan', old, next, '--format', 'json'], { env });
    expect(json.status).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, counts: { added: 1, changed: 2, removed: 1 } });

    expect(cli(['plan', old], { env }).status).toBe(2);
  });
});
