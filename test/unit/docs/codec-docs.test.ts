/**
 * docs/codecs.md and docs/sparkplug.md show only what runs: every YAML block is part of a flow or
 * test file under examples/codecs or examples/sparkplug (which `npm test` validates and runs with
 * `mqflow test`), and the `validate --explain` output shown is what validate prints.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/cli/validate.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = ['examples/codecs', 'examples/sparkplug'].flatMap((dir) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => readFileSync(join(ROOT, dir, f), 'utf8')),
);

/** The fenced blocks of `doc` in language `lang` ('' for none). */
function blocks(doc: string, lang: string): string[] {
  const out: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of readFileSync(join(ROOT, doc), 'utf8').split('\n')) {
    if (!line.startsWith('```')) open?.lines.push(line);
    else if (open === undefined) open = { lang: line.slice(3).trim(), lines: [] };
    else {
      if (open.lang === lang) out.push(`${open.lines.join('\n')}\n`);
      open = undefined;
    }
  }
  return out;
}

describe.each(['docs/codecs.md', 'docs/sparkplug.md'])('%s', (doc) => {
  it.each(blocks(doc, 'yaml').map((b, i) => [i, b] as const))('yaml block %i is in an example', (_i, block) => {
    // A block shows entries of top-level maps (`services:` + one service): each map's entries must
    // be in an example file that has that map.
    for (const section of block.split(/\n(?=\S)/)) {
      const [top, ...rest] = section.split('\n');
      const body = rest.join('\n');
      expect(EXAMPLES.some((file) => (file.includes(`\n${top}\n`) || file.startsWith(`${top}\n`)) && file.includes(body)), section).toBe(true);
    }
  });
});

describe('docs/codecs.md: validate --explain', () => {
  it('shows what validate prints for examples/codecs', () => {
    let out = '';
    const code = runValidate(['examples/codecs', '--explain'], { cwd: ROOT, stdout: (t) => (out += t), stderr: () => undefined });
    expect(code).toBe(0);
    const shown = blocks('docs/codecs.md', '').filter((b) => b.includes('triggers.meter-readings'))[0]!;
    for (const line of shown.trim().split('\n')) expect(out, out).toContain(line);
  });
});
