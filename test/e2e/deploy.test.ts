/**
 * `mqflow deploy` and `mqflow rollback` against instances on a real Mosquitto (docs/gitops.md, "Deploying and rolling back",
 * docs/architecture.md invariants 66–68): a deploy under a 2,000 msg/s QoS 1 stream loses nothing;
 * a stale or broken deploy is refused and the running version keeps processing; a rollback brings
 * the previous behaviour back; deploys need the token, a same-origin client and a bounded body;
 * several instances are deployed in turn and the first refusal stops the rest.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { missingOf, runsOf, startLoad, startSink } from '../support/qos1-load.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOKEN = 'deploy-token-5b8e21c94d0f';
const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));

const CONNECTIONS = `connections:
  plant:
    url: \${env:MQTT_URL}
    reconnectPeriod: 200ms
`;

const main = (version: number, topic = 'load/in', out = 'out/main'): string => `triggers:
  main-in:
    connection: plant
    topic: ${topic}
    qos: 1
    service: stamp
    processing: concurrent
    maxConcurrency: 8
services:
  stamp:
    steps:
      - transform: '{"seq": seq, "v": ${version}}'
      - publish:
          topic: ${out}
          qos: 1
`;

interface Cli {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI without blocking this process (the load keeps publishing meanwhile). */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Cli> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A local folder to deploy from. */
function source(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-deploy-src-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe.runIf(RUN_MOSQUITTO)('deploy and rollback against Mosquitto', () => {
  let broker: Mosquitto;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
  });

  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  }, 30_000);

  afterAll(async () => {
    await broker?.stop();
  });

  async function instance(files: Record<string, string>, options: { token?: boolean; instance?: string } = {}): Promise<{ dir: string; mqflow: MqflowProcess; url: string }> {
    const dir = flowFolder(files);
    const args = [...(options.token === false ? [] : ['--admin-token', TOKEN]), ...(options.instance === undefined ? [] : ['--instance', options.instance]), '--log-level', 'info'];
    const mqflow = startMqflow(dir, { MQTT_URL: broker.url }, args);
    cleanup.push(async () => {
      mqflow.kill('SIGTERM');
      await mqflow.exited;
      rmSync(dir, { recursive: true, force: true });
    });
    await mqflow.ready(['main-in'], 20_000);
    const url = (await mqflow.waitFor((l) => l.event === 'admin')).url as string;
    return { dir, mqflow, url };
  }

  const versionId = async (url: string): Promise<string> => ((await (await fetch(`${url}/api/history`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { running: { versionId: string } }).running.versionId;
  const deploy = (dir: string, ...urls: string[]): Promise<Cli> => cli(['deploy', dir, ...urls.flatMap((u) => ['--to', u])], { MQFLOW_ADMIN_TOKEN: TOKEN });

  it('a deploy under 2,000 msg/s of QoS 1 traffic loses nothing, and what follows it runs the deployed version', async () => {
    const { url } = await instance({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(0) });
    const sink = await startSink(broker.url, 'out/main', 'deploy-load-sink');
    cleanup.push(() => sink.client.endAsync());
    const load = await startLoad(broker.url, 'load/in', 'deploy-load-publisher', 2000, 10);
    cleanup.push(() => load.client.endAsync());

    const sources: string[] = [];
    cleanup.push(() => sources.forEach((d) => rmSync(d, { recursive: true, force: true })));
    for (const version of [1, 2, 3]) {
      await new Promise((r) => setTimeout(r, 1500));
      const dir = source({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(version) });
      sources.push(dir);
      const result = await deploy(dir, url);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`${url}: applied, version ${version + 1} (`);
      expect(result.stdout).toContain('  ~ service stamp');
    }
    const liveAt = Date.now();
    await load.done;

    await expect.poll(() => missingOf(sink, load.total).length, { timeout: 30_000, interval: 250 }).toBe(0).catch(() => undefined);
    expect(runsOf(missingOf(sink, load.total)).map(([from, to]) => `${from}-${to} published ${new Date(load.publishedAt[from]!).toISOString()}`)).toEqual([]);
    expect(load.failedPublishes()).toBe(0);
    // Published after the last deploy answered: run on it.
    const after = [...sink.versionsOf].filter(([seq]) => load.publishedAt[seq]! > liveAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter(([, vs]) => Math.min(...vs) !== 3)).toEqual([]);
  }, 90_000);

  it('refuses a stale deploy (409) and a broken one (422, file:line:col) while the running version keeps processing; rollback restores the previous behaviour', async () => {
    const { dir, url, mqflow } = await instance({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(1) });
    const sink = await startSink(broker.url, 'out/main', 'deploy-refusal-sink');
    cleanup.push(() => sink.client.endAsync());
    const publisher = await connectAsync(broker.url, { clientId: 'deploy-refusal-publisher' });
    cleanup.push(() => publisher.endAsync());
    let seq = 0;
    const versionOfNext = async (): Promise<number> => {
      const mine = ++seq;
      await publisher.publishAsync('load/in', JSON.stringify({ seq: mine }), { qos: 1 });
      await expect.poll(() => sink.versionsOf.has(mine), { timeout: 10_000 }).toBe(true);
      return sink.versionsOf.get(mine)![0]!;
    };
    expect(await versionOfNext()).toBe(1);
    const v1 = await versionId(url);

    const good = source({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(2) });
    const broken = source({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(3).replace('service: stamp', 'service: stamps') });
    cleanup.push(() => [good, broken].forEach((d) => rmSync(d, { recursive: true, force: true })));

    // Stale: planned against a version the instance no longer runs.
    const stale = await fetch(`${url}/api/deploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ files: { 'connections.yaml': CONNECTIONS, 'main.yaml': main(2) }, expect: '0123456789abcdef' }),
    });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: string }).error).toBe(`the instance has moved on: planned against 0123456789abcdef, running ${v1}`);
    expect(await versionOfNext()).toBe(1);

    // Broken: refused with the problem's position, in the deployed folder's terms.
    const refused = await deploy(broken, url);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`${url}: refused (422): the deployed folder has 1 error; version 1 (${v1}) stays in force`);
    expect(refused.stderr).toContain(`${join(broken, 'main.yaml')}:6:5 error: triggers.main-in.service: no service named "stamps"`);
    expect(await versionOfNext()).toBe(1);
    expect(readFileSync(join(dir, 'main.yaml'), 'utf8')).toBe(main(1));

    const applied = await deploy(good, url);
    expect(applied.status).toBe(0);
    expect(await versionOfNext()).toBe(2);
    const v2 = await versionId(url);

    // The history: the version found in force, then the deploy; kept in a folder the loader skips.
    const history = (await (await fetch(`${url}/api/history`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { running: { versionId: string }; versions: { version: number; versionId: string; who: string }[] };
    expect(history.running.versionId).toBe(v2);
    expect(history.versions.map((v) => [v.version, v.versionId, v.who])).toEqual([
      [2, v2, 'admin-token'],
      [1, v1, 'folder'],
    ]);
    expect(existsSync(join(dir, '.mqflow', 'history', '1', 'files', 'main.yaml'))).toBe(true);

    const rollback = await cli(['rollback', '--to', url], { MQFLOW_ADMIN_TOKEN: TOKEN });
    expect(rollback.stderr).toBe('');
    expect(rollback.status).toBe(0);
    expect(rollback.stdout).toContain(`${url}: applied, version 3 (${v1}) in force`);
    expect(await versionOfNext()).toBe(1);
    expect(readFileSync(join(dir, 'main.yaml'), 'utf8')).toBe(main(1));
    expect(mqflow.lines.filter((l) => l.event === 'reload-failed')).toEqual([]);
  }, 90_000);

  it('refuses a deploy without the token, from a foreign Origin, over the size limit, and on an instance with no token at all', async () => {
    const files = { 'connections.yaml': CONNECTIONS, 'main.yaml': main(2) };
    const open = await instance({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(1) }, { token: false });
    const body = JSON.stringify({ files, expect: await versionId(open.url) });
    const noToken = await fetch(`${open.url}/api/deploy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { error: string }).error).toMatch(/^deploy needs --admin-token/);
    const src = source(files);
    cleanup.push(() => rmSync(src, { recursive: true, force: true }));
    expect((await deploy(src, open.url)).status).toBe(1);
    expect(readFileSync(join(open.dir, 'main.yaml'), 'utf8')).toBe(main(1));
    open.mqflow.kill('SIGTERM');
    await open.mqflow.exited;

    const guarded = await instance({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(1) });
    const post = (headers: Record<string, string>, text: string = body): Promise<Response> => fetch(`${guarded.url}/api/deploy`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: 'Bearer deploy-token-wrong-guess' })).status).toBe(401);
    expect((await post({ authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' })).status).toBe(403);
    // Over the limit as declared: refused before the body is read (only its first bytes are sent).
    const declared = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const { hostname, port } = new URL(guarded.url);
      const req = request({ host: hostname, port, method: 'POST', path: '/api/deploy', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': String(9 * 1024 * 1024) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write('{"files": {');
    });
    expect(declared.status).toBe(413);
    expect(declared.text).toContain('over the limit of 8 MiB');
    // Over the limit as sent (no length declared up front).
    const streamed = await fetch(`${guarded.url}/api/deploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify({ files: { 'big.txt': 'x'.repeat(9 * 1024 * 1024) }, expect: 'x' })));
          controller.close();
        },
      }),
      duplex: 'half',
    }).catch((error: unknown) => error as Error);
    if (streamed instanceof Response) expect(streamed.status).toBe(413);
    expect(readFileSync(join(guarded.dir, 'main.yaml'), 'utf8')).toBe(main(1));
    expect(guarded.mqflow.lines.filter((l) => l.event === 'deploy-refused').map((l) => l.status)).toEqual(expect.arrayContaining([413]));
  }, 90_000);

  it('deploys to two instances in turn with --to twice, and a refusal at the first stops before the second', async () => {
    const a = await instance({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(1) }, { instance: 'a' });
    const b = await instance({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(1) }, { instance: 'b' });
    const good = source({ 'connections.yaml': CONNECTIONS, 'main.yaml': main(2) });
    const broken = source({ 'connections.yaml': CONNECTIONS, 'main.yaml': `${main(3)}  broken: [\n` });
    cleanup.push(() => [good, broken].forEach((d) => rmSync(d, { recursive: true, force: true })));

    const both = await deploy(good, a.url, b.url);
    expect(both.stderr).toBe('');
    expect(both.status).toBe(0);
    const deployed = await versionId(a.url);
    expect(await versionId(b.url)).toBe(deployed);
    expect(both.stdout).toContain(`${a.url}: applied, version 2 (${deployed}) in force`);
    expect(both.stdout).toContain(`${b.url}: applied, version 2 (${deployed}) in force`);
    expect(both.stdout).toMatch(new RegExp(`instance versions now:\\n  ${a.url} +version 2 \\(${deployed}\\)\\n  ${b.url} +version 2 \\(${deployed}\\)`));

    const stopped = await cli(['deploy', broken, '--to', `${a.url},${b.url}`], { MQFLOW_ADMIN_TOKEN: TOKEN });
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain(`${a.url}: refused (422)`);
    expect(stopped.stderr).not.toContain(b.url);
    expect(a.mqflow.lines.filter((l) => l.event === 'deploy-refused')).toHaveLength(1);
    expect(b.mqflow.lines.filter((l) => l.event === 'deploy-refused')).toHaveLength(0);
    expect(stopped.stdout).toContain(`  ${b.url}  version 2 (${deployed})`);
    expect(readFileSync(join(b.dir, 'main.yaml'), 'utf8')).toBe(main(2));
  }, 90_000);
});
