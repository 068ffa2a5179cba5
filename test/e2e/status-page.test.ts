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
services:
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
    sending = setInterval(() => void client.publishAsync('plant/north/temperature', JSON.stringify({ temp_f: 150 + (n++ % 20) }), { qos: 1 }), 50);
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
      // A string runs in the page (this project's TypeScript has no DOM types).
      await page.waitForFunction(`Number(document.querySelector('tr[data-trigger="temperature-in"] td.received')?.textContent) > ${first}`, undefined, { timeout: 10_000 });
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
});
