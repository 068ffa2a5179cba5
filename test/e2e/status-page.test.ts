/**
 * The status page in a real headless browser (Debian's chromium via playwright-core): it loads,
 * a counter moves as messages flow, suspend changes the trigger's state, resume changes it back.
 * A screenshot is kept as a test artifact (test-results/screenshots/).
 */
import { rmSync } from 'node:fs';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_BROWSER, openPage, screenshot } from '../support/browser.js';
import { startEmbeddedBroker } from '../../src/broker/embedded.js';
import { json, startHttpServer, type TestHttpServer } from '../support/http-server.js';
import { flowFolder, startMqflow, type MqflowProcess } from '../support/runtime.js';

const TOKEN = 'status-page-token-5d8e1f';

describe.runIf(RUN_BROWSER)('status page in headless chromium', () => {
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let mq: MqflowProcess;
  let dir: string;
  let client: MqttClient;
  let sending: NodeJS.Timeout | undefined;
  let api: TestHttpServer;

  beforeAll(async () => {
    broker = await startEmbeddedBroker('127.0.0.1', 0);
    api = await startHttpServer((_req, res) => json(res, 200, { ok: true }));
    dir = flowFolder({
      'flows.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
windows:
  hourly:
    tumbling: 1h
    steps:
      - publish:
          topic: plant/hourly
listeners:
  hooks:
    port: 0
endpoints:
  reading-hook:
    listener: hooks
    path: /hooks/readings
    service: hook
triggers:
  temperature-in:
    connection: plant
    topic: plant/+/temperature
    service: normalize
  door-in:
    connection: plant
    topic: plant/+/door
    service: doors
services:
  doors:
    steps:
      - publish:
          topic: plant/doors
  normalize:
    description: Fahrenheit to Celsius
    steps:
      - transform: '{"celsius": (temp_f - 32) * 5 / 9}'
      - collect: hourly
      - publish:
          topic: plant/celsius
  hook:
    steps:
      - http:
          url: ${api.url}/check
      - respond:
          status: 202
`,
    });
    mq = startMqflow(dir, { MQTT_URL: broker.url, MQFLOW_ADMIN_TOKEN: TOKEN }, ['--log-level', 'info']);
    await mq.ready(['temperature-in']);
    client = await connectAsync(broker.url, { clientId: 'status-page-load' });
    let n = 0;
    sending = setInterval(() => {
      void client.publishAsync('plant/north/temperature', JSON.stringify({ temp_f: 150 + (n % 20) }), { qos: 1 });
      // The window holds temperature readings (unacknowledged) for an hour: door events keep flowing.
      void client.publishAsync('plant/north/door', JSON.stringify({ open: n++ % 2 === 0 }), { qos: 1 });
    }, 50);
  }, 30_000);

  afterAll(async () => {
    clearInterval(sending);
    await client?.endAsync();
    mq?.kill('SIGTERM');
    await mq?.exited;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await broker?.close();
    await api?.close();
  }, 30_000);

  it('shows the trigger with a moving counter; suspend and resume change its state', async () => {
    const admin = await mq.waitFor((l) => l.event === 'admin');
    const { page, close } = await openPage(`${admin.url as string}/?token=${TOKEN}`);
    try {
      const row = page.locator('tr[data-trigger="temperature-in"]');
      const received = row.locator('td.received');
      await row.waitFor({ timeout: 10_000 });
      const first = Number(await received.textContent());
      // Polled from here: the page's CSP allows no script but its own (a string evaluated in the page would be refused).
      await expect.poll(async () => Number(await received.textContent()), { timeout: 10_000 }).toBeGreaterThan(first);
      await expect.poll(async () => row.locator('td.state').textContent()).toContain('subscribed');
      expect(await page.locator('tr[data-connection="plant"] td.state').textContent()).toContain('connected');
      expect(await page.locator('#services').textContent()).toContain('Fahrenheit to Celsius');
      // The built-in memory store, with its counters.
      expect(await page.locator('#stores tbody').textContent()).toMatch(/^memorymemory\d+/);
      // The window, open (1) and holding the QoS 1 readings collected this hour.
      expect(await page.locator('#windows tbody').textContent()).toMatch(/^hourly1[1-9]/);

      // An endpoint and the API its service calls, with their counts.
      const listening = await mq.waitFor((l) => l.event === 'listening');
      expect((await fetch(`${listening.url as string}/hooks/readings`, { method: 'POST', body: '{}' })).status).toBe(202);
      const endpoint = page.locator('tr[data-endpoint="reading-hook"]');
      await expect.poll(async () => endpoint.locator('td').allTextContents(), { timeout: 10_000 }).toEqual(['reading-hook', `hooks ${listening.url as string}`, 'POST /hooks/readings', 'hook', '1', '1', '0', '0', '0']);
      await expect.poll(async () => page.locator('#http tbody').textContent(), { timeout: 10_000 }).toBe(`127.0.0.1:${api.port}100000`);

      await row.locator('button', { hasText: 'suspend' }).click();
      await expect.poll(async () => row.locator('td.state').textContent(), { timeout: 10_000 }).toContain('suspended');
      expect(await row.locator('button').textContent()).toBe('resume');
      await screenshot(page, 'status-page-suspended');

      await row.locator('button', { hasText: 'resume' }).click();
      await expect.poll(async () => row.locator('td.state').textContent(), { timeout: 10_000 }).toContain('subscribed');
      const path = await screenshot(page, 'status-page');
      expect(path).toMatch(/status-page\.png$/);
      expect(mq.lines.filter((l) => l.event === 'trigger-suspended' || l.event === 'trigger-resumed').map((l) => l.event)).toEqual(['trigger-suspended', 'trigger-resumed']);
    } finally {
      await close();
    }
  }, 60_000);

  it('draws the integration with live counts, each trigger\'s last 5 minutes, and the live tap view, under its CSP', async () => {
    const admin = await mq.waitFor((l) => l.event === 'admin');
    const served = await fetch(`${admin.url as string}/?token=${TOKEN}`);
    // Its own inline style and script (by hash) and requests to itself: nothing else loads.
    expect(served.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self';/);
    const { page, errors, close } = await openPage(`${admin.url as string}/?token=${TOKEN}`);
    try {
      // The mqflow graph picture: topics → triggers (in their connection's box) → services → topics.
      const trigger = page.locator('#graph g.node[data-kind="trigger"][data-name="door-in"]');
      await trigger.waitFor({ timeout: 10_000 });
      for (const name of ['plant/+/temperature', 'plant/celsius', 'plant/+/door', 'plant/doors']) expect(await page.locator(`#graph g.node[data-kind="topic"][data-name="${name}"]`).count()).toBe(1);
      for (const name of ['normalize', 'doors', 'hook']) expect(await page.locator(`#graph g.node[data-kind="service"][data-name="${name}"]`).count()).toBe(1);
      expect(await page.locator('#graph g.node[data-kind="trigger"][data-name="temperature-in"]').count()).toBe(1);
      expect(await page.locator('#graph text.group-label').allTextContents()).toContain('connection plant');
      expect(await page.locator('#graph path.edge').count()).toBeGreaterThanOrEqual(6);
      // Live counts on the picture move as messages flow, and agree with the table.
      const count = async (): Promise<number> => Number(/^(\d+) in/.exec((await trigger.locator('text.count').textContent()) ?? '')?.[1] ?? -1);
      const before = await count();
      expect(before).toBeGreaterThan(0);
      await expect.poll(count, { timeout: 10_000 }).toBeGreaterThan(before);
      expect(await page.locator('#graph g.node[data-kind="service"][data-name="doors"] text.count').textContent()).toMatch(/^\d+ done$/);

      // Rate and p50/p99 over the last 5 minutes, with a sparkline of 30 buckets of 10 s.
      const recent = page.locator('tr[data-recent="door-in"]');
      await expect.poll(async () => Number(await recent.locator('td.rate').textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await recent.locator('td.p50').textContent()).toMatch(/ ms$/);
      expect(await recent.locator('td.p99').textContent()).toMatch(/ m?s$/);
      expect(await recent.locator('svg.spark polyline').getAttribute('points')).toMatch(/^(\d+,\d+ ){29}\d+,\d+$/);

      // The live view: off until asked, then messages whole, then off again.
      expect(await page.locator('#tap tbody tr').count()).toBe(0);
      await page.locator('#tap-trigger').selectOption('door-in');
      await page.locator('#tap-toggle').click();
      await page.locator('#tap tbody tr.received').first().waitFor({ timeout: 10_000 });
      expect(await page.locator('#tap-state').textContent()).toMatch(/^watching: at most 10 messages a second, payloads cut at 1024 bytes$/);
      await page.locator('#tap tbody tr.done').first().waitFor({ timeout: 10_000 });
      expect(await page.locator('#tap tbody tr.received td').nth(3).textContent()).toMatch(/^door-in ← plant\/north\/door \(qos 1, \d+ B\) \{"open":(true|false)\}$/);
      expect(await page.locator('#tap tbody tr.publish').first().textContent()).toContain('via plant → plant/doors');
      expect(await page.locator('#tap tbody').textContent()).not.toContain('temperature-in');
      const status = (await (await fetch(`${admin.url as string}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { tap: { streams: unknown[] } };
      expect(status.tap.streams).toHaveLength(1);
      await screenshot(page, 'status-page-live');
      await page.locator('#tap-toggle').click();
      expect(await page.locator('#tap-toggle').textContent()).toBe('watch');
      await expect
        .poll(async () => ((await (await fetch(`${admin.url as string}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { tap: { streams: unknown[] } }).tap.streams.length, { timeout: 10_000 })
        .toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  }, 60_000);
});
