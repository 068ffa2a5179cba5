/**
 * Windows benchmark (issue 17): what a tumbling average per device costs beside a plain transform,
 * and what 100,000 open windows take in memory, against a real Mosquitto.
 *
 * - "transform": trigger → transform → publish, the default trigger, QoS 0 in and out.
 * - "tumbling average": trigger → collect into a window keyed by deviceId, tumbling 1s, with an
 *   average and a count → one publish per device per second. QoS 0: a window on the memory store
 *   holds the QoS 1 messages it gathers until it closes, which the broker's in-flight limit caps
 *   (docs/flow-language.md, "Windows"), so telemetry windows are fed at QoS 0.
 * - "100,000 open keys": the same window keyed by seq (every reading its own key), tumbling 1h, so
 *   every window stays open; RSS of mqflow before and after.
 *
 * N readings (bench/_load.js, ~200 bytes, 100 devices) at the maximum rate; CPU is utime + stime of
 * the mqflow process over the load and the closing of the windows; medians of `rounds`, variants
 * alternating. Every reading is checked to be counted: transform outputs, or the sum of the
 * windows' counts.
 *
 *   node bench/windows.js [--messages 100000] [--rounds 3]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { BENCH, MQFLOW, cpuMicros, median, r1, r2, rssMb, sleep, spawnNode, startBroker, stopChild } from './_harness.js';

export const name = 'windows';
export const description = 'a tumbling average per device beside a plain transform (CPU per message), and RSS with 100,000 open windows, QoS 0 on Mosquitto';

const FLOWS = {
  transform: `      - transform: '{ "device": deviceId, "celsius": (temp_f - 32) * 5 / 9, "seq": seq }'
      - publish:
          topic: load/out
          qos: 0
`,
  'tumbling average': `      - collect:
          window: per-device
          value: '{ "device": deviceId, "celsius": (temp_f - 32) * 5 / 9 }'
`,
};

function flow(variant, url) {
  const window = (key, every) => `windows:
  per-device:
    key: ${key}
    tumbling: ${every}
    aggregate:
      celsius: { average: celsius }
      readings: { count: true }
    steps:
      - publish:
          topic: load/out
          qos: 0
`;
  const windows = variant === 'tumbling average' ? window('device', '1s') : variant === '100,000 open keys' ? window('seq', '1h') : '';
  const steps = variant === '100,000 open keys' ? FLOWS['tumbling average'].replace('"device": deviceId', '"device": deviceId, "seq": seq') : FLOWS[variant];
  return `connections:
  bench:
    url: ${url}
${windows}triggers:
  load-in:
    connection: bench
    topic: load/in
    qos: 0
    service: s
services:
  s:
    steps:
${steps}`;
}

/** Counts the readings in what comes out: one per transform output, `count` per window. */
async function counter(url) {
  const client = await mqtt.connectAsync(url, { clientId: `bench-windows-sink-${process.pid}`, clean: true, reconnectPeriod: 0 });
  let readings = 0;
  let outputs = 0;
  client.on('message', (_t, payload) => {
    const p = JSON.parse(payload.toString());
    outputs++;
    readings += typeof p.count === 'number' ? p.count : 1;
  });
  await client.subscribeAsync('load/out', { qos: 0 });
  return { counts: () => ({ readings, outputs }), close: () => client.endAsync(true) };
}

async function runOnce(variant, url, messages, work) {
  const dir = join(work, `${variant.replace(/\W+/g, '-')}-${Date.now()}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'flow.yaml'), flow(variant, url));
  const sut = spawnNode([MQFLOW, 'run', dir, '--no-pretty', '--log-level', 'info'], { ready: (s) => s.includes('"event":"subscribed"'), label: `mqflow ${variant}` });
  const sink = await counter(url);
  try {
    await sut.started;
    await sleep(300);
    const rssBefore = rssMb(sut.child.pid);
    const cpuBefore = cpuMicros(sut.child.pid);
    const load = spawnNode([join(BENCH, '_load.js'), url, '0', String(messages), '1000', '0', '100'], { label: 'load' });
    const started = performance.now();
    await load.exited;
    const deadline = Date.now() + 30_000;
    const expected = variant === '100,000 open keys' ? 0 : messages;
    while (sink.counts().readings < expected && Date.now() < deadline) await sleep(50);
    const ms = performance.now() - started;
    if (variant === '100,000 open keys') await sleep(1_000);
    const cpu = cpuMicros(sut.child.pid) - cpuBefore;
    const rssAfter = rssMb(sut.child.pid);
    const { readings, outputs } = sink.counts();
    return { cpuPerMsg: cpu / messages, msgPerS: (messages / ms) * 1000, rssBefore, rssAfter, readings, outputs };
  } finally {
    await sink.close();
    await stopChild(sut.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run({ log = console.log, argv = [] } = {}) {
  const { values } = parseArgs({ args: argv, options: { messages: { type: 'string' }, rounds: { type: 'string' } } });
  const messages = Number(values.messages ?? 100_000);
  const rounds = Number(values.rounds ?? 3);
  const work = mkdtempSync(join(tmpdir(), 'mqflow-bench-windows-'));
  const broker = await startBroker(work);
  const load = loadavg().map(r2);
  const results = { transform: [], 'tumbling average': [], '100,000 open keys': [] };
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['transform', 'tumbling average'] : ['tumbling average', 'transform'];
      for (const variant of [...order, '100,000 open keys']) {
        const r = await runOnce(variant, broker.url, messages, work);
        results[variant].push(r);
        console.error(`windows: round ${round + 1} ${variant.padEnd(18)} ${Math.round(r.msgPerS)} msg/s, ${r1(r.cpuPerMsg)} µs CPU/msg, RSS ${r.rssBefore} → ${r.rssAfter} MB, readings counted ${r.readings}, outputs ${r.outputs}`);
      }
    }
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const m = (variant, f) => median(results[variant].map(f));
  const ratios = results.transform.map((t, i) => results['tumbling average'][i].cpuPerMsg / t.cpuPerMsg);
  const rows = [
    ['transform', Math.round(m('transform', (r) => r.msgPerS)), r1(m('transform', (r) => r.cpuPerMsg)), '1', m('transform', (r) => r.readings), '–'],
    ['tumbling average (1 s, 100 devices)', Math.round(m('tumbling average', (r) => r.msgPerS)), r1(m('tumbling average', (r) => r.cpuPerMsg)), `${r2(median(ratios))} (${ratios.map(r2).join(', ')})`, m('tumbling average', (r) => r.readings), '–'],
    ['100,000 open keys (tumbling 1 h)', Math.round(m('100,000 open keys', (r) => r.msgPerS)), r1(m('100,000 open keys', (r) => r.cpuPerMsg)), '–', '(windows open)', `${r1(m('100,000 open keys', (r) => r.rssBefore))} → ${r1(m('100,000 open keys', (r) => r.rssAfter))} MB`],
  ];
  const table = ['| variant | msg/s | CPU µs/msg | CPU ÷ transform (per round) | readings counted | RSS |', '|---|---:|---:|---:|---:|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const summary = `${messages} QoS 0 readings per run, ${rounds} rounds; load average before ${load.join(' ')}, after ${loadavg().map(r2).join(' ')}`;
  log(`${table}\n\n${summary}`);
  return { summary: [summary] };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run({ argv: process.argv.slice(2) });
}
