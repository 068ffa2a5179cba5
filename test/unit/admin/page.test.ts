/**
 * The status page's script and style are what its Content-Security-Policy allows (by hash), and
 * the script parses: a stray escape in the TypeScript template that holds it would break the
 * whole page, and a hash that does not match would make the browser refuse it.
 */
import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { STATUS_PAGE, STATUS_PAGE_CSP } from '../../../src/admin/page.js';

const between = (open: string, close: string): string => STATUS_PAGE.slice(STATUS_PAGE.indexOf(open) + open.length, STATUS_PAGE.indexOf(close));
const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('status page', () => {
  it('has one inline script, which parses, and one inline style', () => {
    expect(STATUS_PAGE.split('<script').length).toBe(2);
    expect(STATUS_PAGE.split('<style').length).toBe(2);
    // Compiled, not run.
    expect(() => new Script(between('<script>', '</script>'))).not.toThrow();
  });

  it('allows exactly its own script and style, and requests to its own server', () => {
    expect(STATUS_PAGE_CSP).toContain(`script-src ${sha256(between('<script>', '</script>'))};`);
    expect(STATUS_PAGE_CSP).toContain(`style-src ${sha256(between('<style>', '</style>'))};`);
    expect(STATUS_PAGE_CSP).toMatch(/^default-src 'none'; /);
    expect(STATUS_PAGE_CSP).toContain("connect-src 'self'");
    expect(STATUS_PAGE_CSP).not.toMatch(/unsafe-(inline|eval)/);
  });
});
