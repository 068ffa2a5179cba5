/** Proves the headless-browser setup (test/support/browser.ts) works: scripts run, clicks land, screenshots save. */
import { createServer, type Server } from 'node:http';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage, RUN_BROWSER, screenshot } from '../support/browser.js';
import { freePort } from '../support/ports.js';

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>browser smoke</title></head>
<body style="font-family: sans-serif; padding: 2em">
  <h1>Browser smoke test</h1>
  <p>Counter: <span id="counter">0</span></p>
  <p>Label: <span id="label">before</span></p>
  <p>Authorization: <span id="auth">__AUTH__</span></p>
  <button id="button">Press me</button>
  <script>
    let n = 0;
    setInterval(() => { document.getElementById('counter').textContent = String(++n); }, 200);
    document.getElementById('button').addEventListener('click', () => {
      document.getElementById('label').textContent = 'after';
    });
  </script>
</body>
</html>`;

describe.runIf(RUN_BROWSER)('headless browser', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    server = createServer((req, res) => {
      const auth = (req.headers.authorization ?? 'none').replace(/[<&]/g, '');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE.replace('__AUTH__', auth));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${port}/`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it('runs scripts, clicks, sends the bearer token and saves a screenshot', async () => {
    const { page, errors, close } = await openPage(url, { token: 'smoke-token' });
    try {
      // The page's script runs: its counter moves.
      await expect.poll(async () => Number(await page.textContent('#counter')), { timeout: 3_000 }).toBeGreaterThanOrEqual(2);
      expect(await page.textContent('#auth')).toBe('Bearer smoke-token');

      expect(await page.textContent('#label')).toBe('before');
      await page.click('#button');
      await expect.poll(() => page.textContent('#label'), { timeout: 3_000 }).toBe('after');

      const path = await screenshot(page, 'browser-smoke');
      expect(path).toMatch(/test-results\/screenshots\/browser-smoke\.png$/);
      expect(statSync(path).size).toBeGreaterThan(5_000);
      expect(errors).toEqual([]);
    } finally {
      await close();
    }
  });
});
