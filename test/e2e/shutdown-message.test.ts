/**
 * A clean shutdown tells the status topic (docs/flow-language.md, "close"; docs/architecture.md,
 * invariant 60): after SIGTERM a subscriber sees the close message — by default the will's — and
 * whoever subscribes later finds it retained, on MQTT 3.1.1 (mqflow publishes it) and MQTT 5 (the
 * broker publishes the will on DISCONNECT 0x04). A close message of its own replaces it; `close:
 * false` leaves the topic as the birth set it. A connection disabled through the admin API says
 * so too, and its birth comes back when it is enabled again.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RUN_MOSQUITTO } from '../support/brokers.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { TestClient } from '../support/mqtt.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const STATUS = 'plant/mqflow/status';

const flow = (port: number, protocolVersion: 4 | 5, close: string): string => `connections:
  plant:
    url: mqtt://127.0.0.1:${port}
    protocolVersion: ${protocolVersion}
    will:
      topic: ${STATUS}
      payload: offline
    birth:
      topic: ${STATUS}
      payload: online
${close}triggers:
  readings:
    connection: plant
    topic: in/readings/+
    service: forward
services:
  forward:
    steps:
      - publish: { topic: out/forwarded }
`;

const running: MqflowProcess[] = [];
const clients: TestClient[] = [];
const brokers: Mosquitto[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  for (const b of brokers.splice(0)) await b.stop();
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

async function client(url: string): Promise<TestClient> {
  const c = await TestClient.connect(url);
  clients.push(c);
  return c;
}

/**
 * Starts mqflow with `close` (YAML lines of the connection), waits for its retained birth, stops it
 * with SIGTERM and returns what a live subscriber saw and what a later one finds retained.
 */
async function statusAcrossStop(protocolVersion: 4 | 5, close: string): Promise<{ live: string[]; retained: [string, boolean][]; mqflow: MqflowProcess }> {
  const broker = await startMosquitto();
  brokers.push(broker);
  const watcher = await client(broker.url);
  await watcher.subscribe(STATUS);
  const dir = flowFolder({ 'flow.yaml': flow(broker.port, protocolVersion, close) });
  folders.push(dir);
  const mqflow = startMqflow(dir, {});
  running.push(mqflow);
  await mqflow.ready(['readings']);
  await watcher.waitFor(1, (m) => m.text === 'online');

  mqflow.kill('SIGTERM');
  expect(await mqflow.exited).toBe(0);
  expect(mqflow.lines.some((l) => l.event === 'stopped')).toBe(true);
  // mqflow has disconnected: what it published (or had the broker publish) is in before a new client's SUBACK.
  const later = await client(broker.url);
  await later.subscribe(STATUS);
  await later.waitFor(1);
  await watcher.subscribe('$SYS/broker/uptime'); // a round trip on the watcher's own connection
  return { live: watcher.on(STATUS).map((m) => m.text), retained: later.received.map((m) => [m.text, m.packet.retain]), mqflow };
}

describe.runIf(RUN_MOSQUITTO)('the close message on a clean shutdown (Mosquitto)', () => {
  it.each([
    ['3.1.1', 4],
    ['5', 5],
  ] as const)('MQTT %s: by default the will\'s message, seen live and retained after SIGTERM', async (_name, version) => {
    const { live, retained, mqflow } = await statusAcrossStop(version, '');
    expect(live).toEqual(['online', 'offline']);
    expect(retained).toEqual([['offline', true]]);
    expect(mqflow.lines.filter((l) => l.event === 'close-message-failed')).toEqual([]);
  });

  it('MQTT 5: a close message of its own is published instead of the will', async () => {
    const { live, retained } = await statusAcrossStop(5, `    close:\n      topic: ${STATUS}\n      payload: stopped\n`);
    expect(live).toEqual(['online', 'stopped']);
    expect(retained).toEqual([['stopped', true]]);
  });

  it('a connection disabled through the admin API publishes its close message; enabled again, its birth', async () => {
    const broker = await startMosquitto();
    brokers.push(broker);
    const watcher = await client(broker.url);
    await watcher.subscribe(STATUS);
    const dir = flowFolder({ 'flow.yaml': flow(broker.port, 4, '') });
    folders.push(dir);
    const mqflow = startMqflow(dir, {});
    running.push(mqflow);
    await mqflow.ready(['readings']);
    await watcher.waitFor(1, (m) => m.text === 'online');
    const admin = String((await mqflow.waitFor((l) => l.event === 'admin')).url);
    const post = (action: string): Promise<Response> => fetch(`${admin}/api/connections/plant/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

    expect((await post('disable')).status).toBe(200);
    await watcher.waitFor(2);
    expect(watcher.on(STATUS).map((m) => m.text)).toEqual(['online', 'offline']);
    expect((await post('enable')).status).toBe(200);
    await watcher.waitFor(3);
    expect(watcher.on(STATUS).map((m) => m.text)).toEqual(['online', 'offline', 'online']);
  });

  it('MQTT 3.1.1: close: false leaves the status as the birth set it (the will is for crashes only)', async () => {
    const { live, retained } = await statusAcrossStop(4, '    close: false\n');
    expect(live).toEqual(['online']);
    expect(retained).toEqual([['online', true]]);
  });
});
