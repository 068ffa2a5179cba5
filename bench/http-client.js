/**
 * HTTP client benchmark: which client the `http` step should use. A node:http server (HTTP/1.1,
 * keep-alive) in a child process — so its CPU is not counted — answers `GET /devices/:id` with a
 * 200-byte JSON body. The bench process sends N requests, 10 in flight at a time, reading and
 * JSON-parsing each body, with each of three clients:
 *
 *   fetch         global fetch (Node's built-in, its bundled undici)
 *   node:http     http.request with new http.Agent({ keepAlive: true, maxSockets: 10 })
 *   undici Pool   new Pool(origin, { connections: 10 }), pool.request(), body.json()
 *
 * Each measured run is preceded by a warm-up of the same client (2,000 requests, not counted).
 * The clients alternate (a, b, c, a, b, c, …) over the rounds so a noisy machine affects them
 * alike. Per run: requests per second (wall clock) and CPU µs per request of the bench process
 * (process.cpuUsage user + system, all its threads, ÷ N). Figures are medians of the rounds;
 * the summary gives each client's CPU per request ÷ undici Pool's, from the same run.
 * A run throws when a response is not 200 or its body is not the device asked for.
 *
 *   npm run bench -- --only http-client          (does not need dist/)
 *   node bench/http-client.js [--http-requests 20000] [--rounds 3]
 *   MQFLOW_BENCH_HTTP_REQUESTS / MQFLOW_BENCH_ROUNDS set the same through run.js (which passes
 *   no other arguments to the modules).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { Pool } from 'undici';
import { cpuMicros, median, r1, r2, stopChild } from './_harness.js';

export const name = 'http-client';
export const description = 'HTTP client for the http step: global fetch vs node:http Agent vs undici Pool, req/s and CPU/request against a local keep-alive server';

const CONCURRENCY = 10;
const WARMUP = 2000;
const DEVICES = 1000;
const BODY_BYTES = 200;

/**
 * The server, run with `node -e` in the child. Prints its port once listening; exits when its
 * stdin closes, so it cannot outlive the bench process.
 */
const SERVER_SOURCE = `
const http = require('node:http');
const BYTES = ${BODY_BYTES};
const bodyOf = (id) => {
  const base = { deviceId: 'oven-' + id, site: 'site-' + (id % 4), model: 'TX-400', firmware: '4.2.1', status: 'online', temp_f: 350 + (id % 10) / 2, setpoint_f: 350, lastSeen: '2024-05-01T12:00:00.000Z', pad: '' };
  base.pad = 'x'.repeat(Math.max(0, BYTES - Buffer.byteLength(JSON.stringify(base))));
  return Buffer.from(JSON.stringify(base));
};
const cache = new Map();
const server = http.createServer((req, res) => {
  const m = /^\\/devices\\/(\\d+)$/.exec(req.url);
  if (req.method !== 'GET' || m === null) {
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 9 });
    res.end('not found');
    return;
  }
  const id = Number(m[1]);
  let body = cache.get(id);
  if (body === undefined) cache.set(id, (body = bodyOf(id)));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
// Idle connections of one client stay open while the others run (Node's default is 5 s).
server.keepAliveTimeout = 600000;
server.headersTimeout = 610000;
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
`;

/** Starts the server child; returns { child, origin, port }. */
function startServer() {
  const child = spawn(process.execPath, ['-e', SERVER_SOURCE], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`HTTP server did not start in 10 s: ${err}`));
    }, 10_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`HTTP server exited (${code ?? signal}) before listening: ${err}`));
    });
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), origin: `http://127.0.0.1:${m[1]}` });
      }
    });
  });
}

function check(status, body, id, client) {
  if (status !== 200) throw new Error(`${client}: GET /devices/${id} answered ${status}`);
  if (body === null || typeof body !== 'object' || body.deviceId !== `oven-${id}` || body.model !== 'TX-400') {
    throw new Error(`${client}: GET /devices/${id} returned a wrong body: ${JSON.stringify(body).slice(0, 300)}`);
  }
}

/** The clients: each `get(id)` sends GET /devices/:id, reads and parses the body, and checks it. */
function makeClients(origin, port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const pool = new Pool(origin, { connections: CONCURRENCY });
  return [
    {
      name: 'fetch',
      get: async (id) => {
        const res = await fetch(`${origin}/devices/${id}`);
        const body = await res.json();
        check(res.status, body, id, 'fetch');
      },
      close: async () => {},
    },
    {
      name: 'node:http',
      get: (id) =>
        new Promise((resolve, reject) => {
          const req = http.request({ agent, host: '127.0.0.1', port, path: `/devices/${id}`, method: 'GET' }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk) => (text += chunk));
            res.on('error', reject);
            res.on('end', () => {
              try {
                check(res.statusCode, JSON.parse(text), id, 'node:http');
                resolve();
              } catch (error) {
                reject(error);
              }
            });
          });
          req.on('error', reject);
          req.end();
        }),
      close: async () => agent.destroy(),
    },
    {
      name: 'undici Pool',
      get: async (id) => {
        const { statusCode, body } = await pool.request({ path: `/devices/${id}`, method: 'GET' });
        check(statusCode, await body.json(), id, 'undici Pool');
      },
      close: () => pool.close(),
    },
  ];
}

/** Sends `count` requests with `CONCURRENCY` in flight; returns wall ms and bench-process CPU µs. */
async function drive(client, count, offset) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await client.get((offset + i) % DEVICES);
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuUs: used.user + used.system };
}

function optionsFrom(argv) {
  const positive = (flag, env, fallback) => {
    const i = argv.indexOf(flag);
    const raw = i === -1 ? process.env[env] : argv[i + 1];
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  return { requests: positive('--http-requests', 'MQFLOW_BENCH_HTTP_REQUESTS', 20000), rounds: positive('--rounds', 'MQFLOW_BENCH_ROUNDS', 3) };
}

const stat = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length });

export async function run({ log = console.log, argv = [] } = {}) {
  const { requests, rounds } = optionsFrom(argv);
  const undiciVersion = createRequire(import.meta.url)('undici/package.json').version;
  const loadBefore = loadavg();
  const server = await startServer();
  const onSignal = (signal) => {
    server.child.kill('SIGKILL');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const clients = makeClients(server.origin, server.port);
  const runs = [];
  try {
    log(`http-client: server (node:http, child pid ${server.child.pid}) at ${server.origin}; Node ${process.version} (built-in fetch: undici ${process.versions.undici}), undici ${undiciVersion}; ${requests} requests per run, ${CONCURRENCY} in flight, warm-up ${WARMUP}, ${rounds} rounds`);
    let offset = 0;
    for (let round = 1; round <= rounds; round++) {
      for (const client of clients) {
        await drive(client, WARMUP, offset);
        offset += WARMUP;
        const serverCpuBefore = cpuMicros(server.child.pid);
        const { ms, cpuUs } = await drive(client, requests, offset);
        const serverCpuUs = cpuMicros(server.child.pid) - serverCpuBefore;
        offset += requests;
        const m = { client: client.name, round, reqPerSec: requests / (ms / 1000), cpuUsPerReq: cpuUs / requests, serverCpuUsPerReq: serverCpuUs / requests };
        runs.push(m);
        log(`http-client: round ${round} ${client.name.padEnd(11)} ${String(Math.round(m.reqPerSec)).padStart(6)} req/s, ${r1(m.cpuUsPerReq)} µs CPU/req (server ${r1(m.serverCpuUsPerReq)} µs/req)`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const client of clients) await client.close().catch(() => {});
    await stopChild(server.child, 'SIGTERM', 5000);
  }
  const loadAfter = loadavg();

  const table = clients.map((c) => {
    const rs = runs.filter((r) => r.client === c.name);
    return { client: c.name, reqPerSec: stat(rs.map((r) => r.reqPerSec)), cpuUsPerReq: stat(rs.map((r) => r.cpuUsPerReq)), serverCpuUsPerReq: stat(rs.map((r) => r.serverCpuUsPerReq)) };
  });
  const pool = table.find((t) => t.client === 'undici Pool');
  const paired = (clientName, field) =>
    Array.from({ length: rounds }, (_, i) => {
      const a = runs.find((r) => r.client === clientName && r.round === i + 1);
      const b = runs.find((r) => r.client === 'undici Pool' && r.round === i + 1);
      return a[field] / b[field];
    });
  const rows = [];
  for (const t of table) {
    rows.push({ metric: `${t.client}: throughput`, ...t.reqPerSec, unit: 'req/s' });
    rows.push({ metric: `${t.client}: CPU per request`, ...t.cpuUsPerReq, unit: 'µs', note: 'bench process' });
  }
  const summary = [];
  for (const t of table) {
    if (t === pool) continue;
    summary.push(
      `${t.client} CPU/request ÷ undici Pool's: ${r2(t.cpuUsPerReq.median / pool.cpuUsPerReq.median).toFixed(2)} (per round: ${paired(t.client, 'cpuUsPerReq').map((x) => x.toFixed(2)).join(', ')}); req/s ÷ undici Pool's: ${r2(t.reqPerSec.median / pool.reqPerSec.median).toFixed(2)} (per round: ${paired(t.client, 'reqPerSec').map((x) => x.toFixed(2)).join(', ')})`,
    );
  }
  summary.push(`server CPU per request (child, not counted above), median: ${table.map((t) => `${t.client} ${r1(t.serverCpuUsPerReq.median)} µs`).join(', ')}`);
  summary.push(`workload: ${requests} GET /devices/:id per run (${BODY_BYTES}-byte JSON, keep-alive, HTTP/1.1), ${CONCURRENCY} in flight, ${WARMUP}-request warm-up before each run, ${rounds} rounds alternating the clients`);
  summary.push(`versions: Node ${process.version}, built-in fetch on undici ${process.versions.undici}, undici package ${undiciVersion}`);
  summary.push(`load average (1/5/15 min): before ${loadBefore.map(r2).join(' ')}, after ${loadAfter.map(r2).join(' ')}`);
  return { rows, summary };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const outcome = await run({ argv: process.argv.slice(2) });
    for (const row of outcome.rows) console.log(`http-client: ${row.metric}: median ${r1(row.median)} ${row.unit} (min ${r1(row.min)}, max ${r1(row.max)})`);
    for (const line of outcome.summary) console.log(`http-client: ${line}`);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  }
}
