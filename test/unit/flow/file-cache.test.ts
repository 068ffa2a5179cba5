/** The reload cache: unchanged files are not parsed or compiled again, and a cached build equals a fresh one. */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createJsonataEngine } from '../../../src/expr/jsonata-engine.js';
import { buildFlowFolder, type BuildResult } from '../../../src/flow/build.js';
import { FlowFileCache } from '../../../src/flow/file-cache.js';
import { formatProblem } from '../../../src/flow/problem.js';

const CONNECTION = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
    password: literal-password
`;

const flow = (name: string, celsius: string): string => `triggers:
  ${name}-in:
    connection: plant
    topic: ${name}/in
    service: ${name}
services:
  ${name}:
    steps:
      - transform: '{"celsius": ${celsius}}'
      - publish:
          topic: out/${name}
`;

describe('FlowFileCache', () => {
  let dir: string;
  const engine = createJsonataEngine();
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mqflow-cache-'));
    writeFileSync(join(dir, 'connection.yaml'), CONNECTION);
    writeFileSync(join(dir, 'a.yaml'), flow('a', '(temp_f - 32) * 5 / 9'));
    writeFileSync(join(dir, 'b.yaml'), flow('b', 'temp_c'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const build = (cache?: FlowFileCache): BuildResult => buildFlowFolder(dir, { engine, ...(cache === undefined ? {} : { cache }) });
  const fingerprints = (r: BuildResult): Record<string, string> =>
    Object.fromEntries(['connections', 'triggers', 'services'].flatMap((k) => [...(r.model![k as 'triggers'].values() as Iterable<{ name: string; fingerprint: string }>)].map((d) => [`${k}.${d.name}`, d.fingerprint])));

  it('a second build reads nothing again, reuses every trigger and service, and reports the same problems', () => {
    const cache = new FlowFileCache();
    const first = build(cache);
    expect(cache.lastRead).toBe(3);
    const second = build(cache);
    expect(cache.lastRead).toBe(0);
    expect(second.model!.services.get('a')).toBe(first.model!.services.get('a'));
    expect(second.model!.triggers.get('b-in')).toBe(first.model!.triggers.get('b-in'));
    // The literal-password warning is replayed from the cache.
    expect(second.problems.map(formatProblem)).toEqual(first.problems.map(formatProblem));
    expect(second.problems.some((p) => p.severity === 'warning')).toBe(true);
    expect(fingerprints(second)).toEqual(fingerprints(build()));
  });

  it('an edited file is read and compiled again; the others are reused; the result equals a fresh build', () => {
    const cache = new FlowFileCache();
    const first = build(cache);
    writeFileSync(join(dir, 'a.yaml'), `# moved down a line\n${flow('a', 'temp_f')}`);
    const second = build(cache);
    expect(cache.lastRead).toBe(1);
    expect(second.model!.services.get('a')).not.toBe(first.model!.services.get('a'));
    expect(second.model!.services.get('a')!.at.line).toBe(8);
    expect(second.model!.services.get('b')).toBe(first.model!.services.get('b'));
    expect(fingerprints(second)).toEqual(fingerprints(build()));
  });

  it('a removed file takes its definitions with it, and a broken reference elsewhere is found again', () => {
    const cache = new FlowFileCache();
    build(cache);
    writeFileSync(join(dir, 'c.yaml'), 'triggers:\n  c-in:\n    connection: plant\n    topic: c/in\n    service: a\n');
    expect(build(cache).model!.triggers.has('c-in')).toBe(true);
    unlinkSync(join(dir, 'a.yaml'));
    const after = build(cache);
    expect(after.model).toBeUndefined();
    expect(after.problems.map(formatProblem).join('\n')).toMatch(/c\.yaml:5:\d+ error: triggers\.c-in\.service: no service named "a"/);
  });

  it('a file that reads ${file:…} is read again every time', () => {
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, 'one');
    writeFileSync(join(dir, 'connection.yaml'), CONNECTION.replace('literal-password', `\${file:${secret}}`));
    const cache = new FlowFileCache();
    const first = build(cache);
    writeFileSync(secret, 'two');
    const second = build(cache);
    expect(cache.lastRead).toBe(1);
    expect(second.model!.connections.get('plant')!.fingerprint).not.toBe(first.model!.connections.get('plant')!.fingerprint);
  });
});
