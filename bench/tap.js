/**
 * What `mqflow tap` costs the process it watches: CPU of the mqflow process per message with no
 * tap attached, and with one attached (`mqflow tap` itself, as a user runs it, at its default
 * --rate 10 and at --rate 1000), in the same mqflow process, rounds alternating the order.
 *
 * One `mqflow run` (flow: a QoS 1 trigger on load/in → a JSONata transform → a QoS 1 publish to
 * load/out) against Mosquitto. Per run, bench/_load.js publishes `messages` ~200-byte readings
 * at QoS 1 at a fixed `rate` (so both modes see the same load, not as many as each can take); the
 * run ends when /api/status says every message was processed. CPU per message = utime + stime of
 * the mqflow process (/proc) from just before the load starts to the last message processed,
 * ÷ messages. The tap command's own CPU is not counted (it is another process, as it would be
 * for a user, often on another machine). A warm-up run (not reported) comes first. A run throws
 * unless every message was processed, and a tapped run unless the tap printed messages.
 *
 *   npm run bench -- --only tap
 *   node bench/tap.js [--messages 20000] [--rate 4000] [--rounds 3]      (after npm run build)
 *   MQFLOW_BENCH_TAP_MESSAGES / MQFLOW_BENCH_ROUNDS set the same through run.js.
 *   Results: bench/results/tap.json.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanUpOnSignal, cpuMicros, freePort, live, median, mosquittoVersion, MQFLOW, r1, r2, ROOT, sleep, spawnNode, startBroker, stopChild, track } from './_harness.js';

export const name = 'tap';
export const description = 'CPU per message of mqflow run with mqflow tap attached (--rate 10 and 1000) vs none, same process, fixed-rate QoS 1 load';

const RESULTS = join(ROOT, 'bench', 'results', 'tap.json');
const MODES = [
  { name: 'no tap', rate: undefined },
  { name: 'tap --rate 10', rate: 10 },
  { name: 'tap --rate 1000', rate: 1000 },
];

function flowYaml() {
  return `connections:
  broker:
    url: \${env:MQTT_URL}
triggers:
  load-in:
    connection: broker
    topic: load/in
    qos: 1
    service: relay
services:
  relay:
    steps:
      - transform: '{ "device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "seq": seq }'
      - publish:
          topic: load/out/{{ device }}
          qos: 1
`;
}

function optionsFrom(argv) {
  const value = (flag, fallback) => {
    const i = argv.indexOf(flag);
    return i === -1 ? fallback : Number(argv[i + 1]);
  };
  return {
    messages: value('--messages', Number(process.env.MQFLOW_BENCH_TAP_MESSAGES ?? 20000)),
    rate: value('--rate', 4000),
    rounds: value('--rounds', Number(process.env.MQFLOW_BENCH_ROUNDS ?? 3)),
  };
}

async function processed(admin) {
  const status = await (await fetch(`${admin}/api/status`)).json();
  return status.triggers.find((t) => t.name === 'load-in').counters.processed;
}

/** One run: `messages` at `rate` through the running mqflow, with a tap at `mode.rate` (or none). */
async function measure(mq, mode, { url, admin, messages, rate }) {
  const base = await processed(admin);
  let tap;
  if (mode.rate !== undefined) {
    tap = spawnNode([MQFLOW, 'tap', '--admin', admin, '--rate', String(mode.rate)], { label: 'tap' });
    track(tap.child);
    // Attached once the server counts its stream.
    for (let i = 0; i < 100; i++) {
      const s = await (await fetch(`${admin}/api/status`)).json();
      if (s.tap.streams.length === 1) break;
      await sleep(50);
    }
  }
  const cpuBefore = cpuMicros(mq.pid);
  const started = performance.now();
  const load = track(spawnNode([join(ROOT, 'bench', '_load.js'), url, '1', String(messages), '200', String(rate)], { label: 'load' }).child);
  const deadline = Date.now() + 300_000;
  let done = 0;
  while ((done = (await processed(admin)) - base) < messages) {
    if (Date.now() > deadline) throw new Error(`${mode.name}: ${done} of ${messages} processed after 300 s`);
    await sleep(20);
  }
  const cpuUs = cpuMicros(mq.pid) - cpuBefore;
  const ms = performance.now() - started;
  await stopChild(load);
  let streams;
  if (tap !== undefined) {
    streams = (await (await fetch(`${admin}/api/status`)).json()).tap.streams;
    await stopChild(tap.child, 'SIGINT');
    if (tap.out.stdout === '') throw new Error(`${mode.name}: the tap printed nothing`);
  }
  return { mode: mode.name, cpuUsPerMsg: cpuUs / messages, msgPerSec: (messages * 1000) / ms, ...(streams === undefined ? {} : { tapSent: streams[0]?.sent ?? 0, tapDropped: streams[0]?.dropped ?? 0 }) };
}

export async function run({ log = console.log, argv = [] } = {}) {
  const { messages, rate, rounds } = optionsFrom(argv);
  const { codeVersion, machine } = await import('./loader.js');
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-tap-'));
  const code = codeVersion();
  let broker;
  const signalCleanUp = cleanUpOnSignal(work, () => broker);
  try {
    broker = await startBroker(work);
    const flows = join(work, 'flows');
    mkdirSync(flows);
    writeFileSync(join(flows, 'flows.yaml'), flowYaml());
    const port = await freePort();
    const admin = `http://127.0.0.1:${port}`;
    const mq = spawnNode([MQFLOW, 'run', flows, '--no-pretty', '--log-level', 'warn', '--admin', `127.0.0.1:${port}`], { env: { MQTT_URL: broker.url }, label: 'mqflow' });
    track(mq.child);
    for (let i = 0; ; i++) {
      try {
        const s = await (await fetch(`${admin}/api/status`)).json();
        if (s.triggers[0]?.state === 'subscribed') break;
      } catch {
        // not listening yet
      }
      if (i > 200) throw new Error(`mqflow did not subscribe\n${mq.out.stderr}${mq.out.stdout}`);
      await sleep(50);
    }
    const before = loadavg();
    log(`tap: Mosquitto ${mosquittoVersion()} at ${broker.url}; ${messages} QoS 1 messages per run at ${rate} msg/s, ${rounds} rounds; modes ${MODES.map((m) => m.name).join(', ')}`);
    const ctx = { url: broker.url, admin, messages, rate };
    await measure(mq.child, MODES[0], { ...ctx, messages: Math.min(messages, 10000) });
    const runs = [];
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const m = await measure(mq.child, mode, ctx);
        runs.push({ round, ...m });
        log(`  round ${round} ${mode.name.padEnd(16)} ${r2(m.cpuUsPerMsg)} µs CPU/msg, ${Math.round(m.msgPerSec)} msg/s${m.tapSent === undefined ? '' : `, tap sent ${m.tapSent} events, dropped ${m.tapDropped}`}`);
      }
    }
    await stopChild(mq.child);
    const base = median(runs.filter((r) => r.mode === 'no tap').map((r) => r.cpuUsPerMsg));
    const rows = MODES.map((mode) => {
      const values = runs.filter((r) => r.mode === mode.name).map((r) => r.cpuUsPerMsg);
      const med = median(values);
      return { metric: `CPU/msg, ${mode.name}`, median: r2(med), min: r2(Math.min(...values)), max: r2(Math.max(...values)), runs: values.length, unit: 'µs', note: mode.rate === undefined ? '' : `${r1(((med - base) / base) * 100)} % vs no tap` };
    });
    const summary = rows.slice(1).map((r) => `${r.metric.replace('CPU/msg, ', '')}: ${r.note} (median CPU per message ${r.median} µs vs ${r2(base)} µs)`);
    const results = { date: new Date().toISOString(), code, machine: machine(), messages, rate, rounds, versions: { mosquitto: mosquittoVersion() }, loadAverage: { before: before.map(r2), after: loadavg().map(r2) }, runs, rows };
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    return { rows, summary };
  } finally {
    signalCleanUp();
    for (const child of live) child.kill('SIGKILL');
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { printResults } = await import('./run.js');
    printResults([{ name, ...(await run({ argv: process.argv.slice(2) })) }]);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
}
