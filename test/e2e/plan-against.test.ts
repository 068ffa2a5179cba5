/**
 * `mqflow plan --against` a running mqflow (real Mosquitto), `--from-git`, and the revision a
 * running instance reports (docs/gitops.md): the plan against the instance is the plan of the two
 * folders, /api/definitions needs the token and holds no secret, and /api/status names the commit
 * (dirty after an uncommitted edit is applied; clean again once it is committed).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { CapturedMqflow } from '../support/captured-runtime.js';
import { mqflow as cli } from '../support/cli.js';
import { startMosquitto } from '../support/mosquitto.js';
import type { LogLine } from '../support/runtime.js';

const PASSWORD = 'pl4n-Against-Passw0rd-31c';
const TOKEN = 'plan-token-5d0e7a1b9c';

const FLOWS: Record<string, string> = {
  'connections.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    username: mqflow
    password: \${env:PLANT_PASSWORD}
    reconnectPeriod: 200ms
`,
  'main.yaml': `triggers:
  temps:
    connection: plant
    topic: plant/+/temperature
    qos: 1
    service: stamp
services:
  stamp:
    steps:
      - transform: '{"celsius": celsius}'
      - publish:
          topic: out/temperature
          qos: 1
`,
};

/** The edit under review: a topic more, a service changed, a trigger added. */
function edit(dir: string): void {
  const main = readFileSync(join(dir, 'main.yaml'), 'utf8')
    .replace('topic: plant/+/temperature', 'topic: [plant/+/temperature, plant/+/humidity]')
    .replace('out/temperature', 'out/readings');
  writeFileSync(join(dir, 'main.yaml'), `${main}  doors:
    steps:
      - publish:
          topic: out/doors
`.replace('triggers:\n', 'triggers:\n  doors-in:\n    connection: plant\n    topic: plant/+/door\n    service: doors\n'));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(RUN_MOSQUITTO)('plan against a running mqflow (Mosquitto)', () => {
  let broker: { url: string; stop(): Promise<void> };
  let root: string;
  let flows: string;
  let mq: CapturedMqflow;
  let base: string;
  const bodies: string[] = [];
  const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: root, encoding: 'utf8' }).trim();
  const env = (): Record<string, string> => ({ MQTT_URL: broker.url, PLANT_PASSWORD: PASSWORD });
  const plan = (...args: string[]) => cli(['plan', ...args], { env: { ...env(), MQFLOW_ADMIN_TOKEN: TOKEN } });
  async function get(path: string, token: string | null = TOKEN): Promise<{ status: number; text: string }> {
    const res = await fetch(`${base}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, text };
  }
  const status = async (): Promise<{ flowVersion: number; revision?: { commit: string; dirty: boolean } }> => JSON.parse((await get('/api/status')).text) as { flowVersion: number; revision?: { commit: string; dirty: boolean } };
  async function reload(event: string): Promise<LogLine> {
    const seen = mq.lines.filter((l) => l.event === event).length;
    mq.kill('SIGHUP');
    for (let i = 0; i < 200; i++) {
      const lines = mq.lines.filter((l) => l.event === event);
      if (lines.length > seen) return lines.at(-1)!;
      await sleep(50);
    }
    throw new Error(`no ${event} after SIGHUP:\n${mq.stdout}`);
  }

  beforeAll(async () => {
    broker = await startMosquitto();
    root = mkdtempSync(join(tmpdir(), 'mqflow-gitops-'));
    flows = join(root, 'flows');
    mkdirSync(flows);
    for (const [name, text] of Object.entries(FLOWS)) writeFileSync(join(flows, name), text);
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'flows');
    mq = new CapturedMqflow(flows, { ...env(), MQFLOW_ADMIN_TOKEN: TOKEN });
    for (let i = 0; i < 200 && !mq.lines.some((l) => l.event === 'subscribed'); i++) await sleep(50);
    const admin = mq.lines.find((l) => l.event === 'admin');
    if (admin === undefined) throw new Error(`mqflow did not start its admin server:\n${mq.stdout}\n${mq.stderr}`);
    base = admin.url as string;
  }, 30_000);

  afterAll(async () => {
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
    await broker?.stop();
  }, 30_000);

  it('reports the commit it runs in /api/status, the start log and /metrics', async () => {
    const s = await status();
    expect(s.revision).toEqual({ commit: git('rev-parse', 'HEAD'), dirty: false });
    expect(mq.lines.find((l) => l.event === 'started')?.revision).toBe(git('rev-parse', 'HEAD'));
    expect((await get('/metrics')).text).toContain(`mqflow_flow_revision_info{revision="${git('rev-parse', 'HEAD')}",dirty="false"} 1`);
  });

  it('refuses /api/definitions without the token, and holds no secret with it', async () => {
    const refused = await get('/api/definitions', null);
    expect(refused.status).toBe(401);
    const answered = await get('/api/definitions');
    expect(answered.status).toBe(200);
    const doc = JSON.parse(answered.text) as { versionId: string; flowVersion: number; definitions: { connections: Record<string, { value: { password: string } }> } };
    expect(doc.versionId).toMatch(/^[0-9a-f]{16}$/);
    expect(doc.definitions.connections.plant!.value.password).toMatch(/^\[secret:[0-9a-f]{16}\]$/);
    for (const body of bodies) expect(body).not.toContain(PASSWORD);
  });

  it('plans against the instance exactly what it plans between the two folders', () => {
    const edited = mkdtempSync(join(tmpdir(), 'mqflow-edited-'));
    cpSync(flows, edited, { recursive: true });
    edit(edited);
    const folders = plan(flows, edited);
    const against = plan(edited, '--against', base);
    expect(folders.stderr).toBe('');
    expect(folders.status).toBe(3);
    expect(against.status).toBe(folders.status);
    expect(against.stdout).toBe(folders.stdout);
    expect(against.stdout).toContain('+ trigger doors-in\n');
    // The same folder against the instance: nothing to change.
    const same = plan(flows, '--against', base);
    expect([same.status, same.stdout]).toEqual([0, `no changes: ${flows} runs exactly as ${base}\n`]);
    // A changed secret shows as a changed field, without its value.
    const secret = cli(['plan', edited, '--against', base, '--token', TOKEN], { env: { ...env(), PLANT_PASSWORD: 'another-Passw0rd-7' } });
    expect(secret.stdout).toContain('~ connection plant (password: reconnects)');
    expect(secret.stdout).not.toContain(PASSWORD);
    const markdown = plan(edited, '--against', base, '--format', 'markdown');
    expect(markdown.status).toBe(3);
    expect(markdown.stdout).toContain(`\`\`\`diff\n${folders.stdout.split('\nplan: ')[0]}\n\`\`\`\n`);
    expect(markdown.stdout).toContain(`commit \`${git('rev-parse', 'HEAD').slice(0, 12)}\``);
    const refused = cli(['plan', edited, '--against', base], { env: env() });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('401');
    rmSync(edited, { recursive: true, force: true });
  });

  it('plans from a commit to the folder now (--from-git), and reports a dirty then a clean revision', async () => {
    const committed = git('rev-parse', 'HEAD');
    const copy = mkdtempSync(join(tmpdir(), 'mqflow-committed-'));
    cpSync(flows, copy, { recursive: true });
    edit(flows);
    const folders = plan(copy, flows);
    const fromGit = cli(['plan', '--from-git', 'HEAD', 'flows'], { cwd: root, env: env() });
    expect(fromGit.status).toBe(3);
    expect(fromGit.stdout).toBe(folders.stdout);
    rmSync(copy, { recursive: true, force: true });

    const applied = await reload('reload-applied');
    expect(applied).toMatchObject({ revision: committed, dirty: true });
    expect((await status()).revision).toEqual({ commit: committed, dirty: true });
    expect(plan(flows, '--against', base).status).toBe(0);

    git('add', '.');
    git('commit', '-q', '-m', 'doors');
    await reload('reload-unchanged');
    const s = await status();
    expect(s.revision).toEqual({ commit: git('rev-parse', 'HEAD'), dirty: false });
    expect(s.flowVersion).toBe(2);
  });
});
