/**
 * A real headless browser for end-to-end tests of web pages: Debian's `chromium` package driven by
 * playwright-core (which never downloads a browser of its own).
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';

/** Where screenshots go: under test-results/, the folder CI keeps as an artifact. */
const SCREENSHOT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-results', 'screenshots');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `$CHROMIUM_PATH` if set, else the first `chromium` / `chromium-browser` on the PATH or in /usr/bin. */
function findChromium(): string | undefined {
  const override = process.env.CHROMIUM_PATH;
  if (override) return override;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin'];
  for (const name of ['chromium', 'chromium-browser']) {
    for (const dir of dirs) {
      const path = join(dir, name);
      if (executable(path)) return path;
    }
  }
  return undefined;
}

export const CHROMIUM_PATH: string | undefined = findChromium();

/**
 * Whether browser tests run: always under CI (a missing chromium is then a failure), elsewhere only
 * when chromium is installed, so `npm test` works on a machine with only Node.js.
 */
export const RUN_BROWSER = process.env.CI === 'true' || CHROMIUM_PATH !== undefined;
if (!RUN_BROWSER) console.warn('chromium is not installed: the browser end-to-end tests are skipped (apt-get install chromium)');

export interface OpenedPage {
  readonly page: Page;
  /** Uncaught errors thrown by the page's scripts, for asserting the page runs cleanly. */
  readonly errors: readonly string[];
  /** Closes the browser (a property, so it can be destructured). */
  readonly close: () => Promise<void>;
}

/**
 * Launches headless chromium and opens `url` in a fresh browser context (no shared cookies or
 * storage between calls); with `token`, every request carries `Authorization: Bearer <token>`.
 * `close()` closes the browser.
 */
export async function openPage(url: string, options: { token?: string } = {}): Promise<OpenedPage> {
  if (CHROMIUM_PATH === undefined) throw new Error('chromium is not installed (apt-get install chromium)');
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 15_000,
    args: [
      // CI runs as root, where chromium refuses to start with its sandbox.
      '--no-sandbox',
      // Containers often give /dev/shm only 64 MB, too little for chromium's shared memory.
      '--disable-dev-shm-usage',
    ],
  });
  try {
    const context = await browser.newContext({
      extraHTTPHeaders: options.token !== undefined ? { Authorization: `Bearer ${options.token}` } : {},
    });
    context.setDefaultTimeout(5_000);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    return { page, errors, close: () => browser.close() };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** Saves a full-page PNG as test-results/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
