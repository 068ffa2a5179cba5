/**
 * Stopping `mqflow run` however it was started (README.md, "Running under a supervisor"). npx puts
 * npm and a shell between the caller and mqflow (npm → sh -c → node); npm forwards SIGINT and
 * SIGTERM to the shell only, and a shell that does not exec its command (dash, Debian's sh) dies
 * of them, leaving mqflow orphaned. So: Ctrl-C (the whole process group) reaches mqflow through
 * npx; a SIGTERM to npx alone reaches it when the shell execs mqflow (`npx -c 'exec mqflow …'`);
 * bin/mqflow.js runs the runtime in its own process, with no child, so a signal to it is enough.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { repoRoot } from '../support/cli.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { flowFolder } from '../support/runtime.js';

const flows = {
  'plant.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
triggers:
  readings-in:
    connection: plant
    topic: plant/readings
    service: forward
services:
  forward:
    steps:
      - publish: { topic: plant/forwarded }
`,
};

/** A command started as a user would start it, and its output (stdout and stderr). */
interface Started {
  readonly wrapper: ChildProcess;
  readonly output: () => string;
  /** Resolves once a log line with this event was printed. */
  waitForEvent(event: string, timeoutMs?: number): Promise<void>;
}

function start(command: string, args: readonly string[], env: Record<string, string>): Started {
  // detached: a process group of its own, as a terminal gives a foreground job (Ctrl-C signals the group).
  const wrapper = spawn(command, args, { cwd: repoRoot, env: { ...userEnv(), ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  wrapper.stdout.on('data', (d: Buffer) => (output += d.toString()));
  wrapper.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return {
    wrapper,
    output: () => output,
    waitForEvent: async (event, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(`"event":"${event}"`)) {
        if (Date.now() > deadline) throw new Error(`no "${event}" log line within ${timeoutMs} ms; output:\n${output}`);
        await sleep(50);
      }
    },
  };
}

/** The environment of a user's shell: no npm_* variables from the `npm test` running this. */
function userEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !/^npm_(lifecycle|package|command|config_(global|prefix))/i.test(key)) env[key] = value;
  return { ...env, npm_config_update_notifier: 'false' };
}

/** Parent and state of every process, read from /proc. */
function processTable(): Map<number, { ppid: number; state: string; cmdline: string }> {
  const table = new Map<number, { ppid: number; state: string; cmdline: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after its last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      table.set(Number(name), { ppid: Number(ppid), state: state!, cmdline });
    } catch {
      // The process ended while the table was read.
    }
  }
  return table;
}

/** The pids of every process under `root`, with their command lines. */
function descendants(root: number): { pid: number; cmdline: string }[] {
  const table = processTable();
  const found: { pid: number; cmdline: string }[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, p] of table) {
      if (p.ppid === parent) {
        found.push({ pid, cmdline: p.cmdline });
        queue.push(pid);
      }
    }
  }
  return found;
}

/** The node process running mqflow's runtime under `root` (root itself when it is that process). */
async function runtimePid(root: number): Promise<number> {
  const isRuntime = (cmdline: string): boolean => /^\S*node\S* \S*mqflow(\.js)? run /.test(cmdline);
  for (let i = 0; i < 200; i++) {
    if (isRuntime(processTable().get(root)?.cmdline ?? '')) return root;
    const runtime = descendants(root).find((p) => isRuntime(p.cmdline));
    if (runtime !== undefined) return runtime.pid;
    await sleep(50);
  }
  throw new Error(`no mqflow runtime process under ${root}: ${JSON.stringify(descendants(root))}`);
}

/** A process is gone when it no longer exists or is a zombie waiting for its parent to read its status. */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  const state = processTable().get(pid)?.state;
  return state !== undefined && state !== 'Z';
}

/** Waits (generously: the runtime drains first) for the process to be gone; false if it is not. */
async function gone(pid: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!RUN_MOSQUITTO)('stopping mqflow run started through npx, or without it (Mosquitto)', () => {
  let broker: Mosquitto;
  let dir: string;
  const leftovers: number[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    dir = flowFolder(flows);
  });
  afterEach(() => {
    for (const pid of leftovers.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  afterAll(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const runArgs = (): string[] => ['run', dir, '--no-admin', '--no-pretty'];

  it('Ctrl-C (SIGINT to the process group) reaches the runtime under `npx mqflow run`, which drains and exits', async () => {
    const p = start('npx', ['mqflow', ...runArgs()], { MQTT_URL: broker.url });
    const runtime = await runtimePid(p.wrapper.pid!);
    leftovers.push(runtime, p.wrapper.pid!);
    expect(runtime).not.toBe(p.wrapper.pid);
    await p.waitForEvent('subscribed');
    process.kill(-p.wrapper.pid!, 'SIGINT');
    expect(await gone(runtime), `the runtime (pid ${runtime}) is still running; output:\n${p.output()}`).toBe(true);
    expect(p.output()).toContain('"event":"stopped"');
  });

  it("SIGTERM to npx alone reaches the runtime when npx's shell execs it (`npx -c 'exec mqflow run …'`)", async () => {
    // In the clone, --package=. puts the clone's own mqflow on the PATH of `npx -c`.
    const p = start('npx', ['--package=.', '-c', `exec mqflow ${runArgs().join(' ')}`], { MQTT_URL: broker.url });
    const runtime = await runtimePid(p.wrapper.pid!);
    leftovers.push(runtime, p.wrapper.pid!);
    await p.waitForEvent('subscribed');
    process.kill(p.wrapper.pid!, 'SIGTERM');
    expect(await gone(runtime), `the runtime (pid ${runtime}) is still running; output:\n${p.output()}`).toBe(true);
    expect(p.output()).toContain('"event":"stopping","signal":"SIGTERM"');
    expect(p.output()).toContain('"event":"stopped"');
  });

  it('bin/mqflow.js runs the runtime in its own process, with no child: SIGTERM to it drains and exits', async () => {
    const p = start(process.execPath, ['bin/mqflow.js', ...runArgs()], { MQTT_URL: broker.url });
    expect(await runtimePid(p.wrapper.pid!)).toBe(p.wrapper.pid);
    leftovers.push(p.wrapper.pid!);
    await p.waitForEvent('subscribed');
    expect(descendants(p.wrapper.pid!)).toEqual([]);
    process.kill(p.wrapper.pid!, 'SIGTERM');
    expect(await gone(p.wrapper.pid!), `mqflow (pid ${p.wrapper.pid}) is still running; output:\n${p.output()}`).toBe(true);
    expect(p.output()).toContain('"event":"stopped"');
  });
});
