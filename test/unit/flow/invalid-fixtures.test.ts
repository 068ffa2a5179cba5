/**
 * Every folder under test/fixtures/invalid is a flow folder with mistakes. Its expected.txt holds
 * the exact problems mqflow must report (file:line:col, message, hint), in order; env.json, when
 * present, is the environment the folder is loaded with.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFlowFolder } from '../../../src/flow/build.js';
import { formatProblem } from '../../../src/flow/problem.js';

const root = new URL('../../fixtures/invalid/', import.meta.url).pathname;
const fixtures = readdirSync(root, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function environmentOf(dir: string): Record<string, string> {
  const file = join(dir, 'env.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
}

describe('invalid flow folders', () => {
  it('has at least 30 fixtures', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  it.each(fixtures)('%s', (name) => {
    const dir = join(root, name);
    const result = buildFlowFolder('.', {
      cwd: dir,
      environment: { env: environmentOf(dir), readFile: (p) => readFileSync(p, 'utf8') },
    });
    const expected = readFileSync(join(dir, 'expected.txt'), 'utf8').trimEnd();
    expect(result.problems.map(formatProblem).join('\n')).toBe(expected);
    expect(result.model).toBeUndefined();
    expect(result.summary.errors).toBeGreaterThan(0);
  });
});
