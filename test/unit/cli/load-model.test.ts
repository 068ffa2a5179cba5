/** loadModel: a command builds only what it uses; definitions with errors elsewhere are left out, with what depends on them. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeadlineError, parseTimeout, withDeadline } from '../../../src/cli/connect-once.js';
import type { CommandIO } from '../../../src/cli/io.js';
import { loadModel, type DefinitionName } from '../../../src/cli/load-model.js';

const scratch = mkdtempSync(join(tmpdir(), 'mqflow-load-model-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let count = 0;
function load(files: Record<string, string>, uses?: readonly DefinitionName[]) {
  const dir = join(scratch, String(count++));
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  let stderr = '';
  const io: CommandIO = { stdout: () => {}, stderr: (text) => (stderr += text), cwd: dir };
  const loaded = loadModel('.', io, { command: 'mqflow x', ...(uses === undefined ? {} : { uses: () => uses }) });
  return { loaded, stderr };
}

const good = `connections:
  plant: { url: mqtt://127.0.0.1:1883 }
services:
  a:
    steps:
      - invoke: b
  b:
    steps:
      - publish: { topic: out }
`;

describe('loadModel', () => {
  it('a valid folder: the whole model, nothing left out or printed', () => {
    const { loaded, stderr } = load({ 'a.yaml': good }, [['services', 'a']]);
    expect([...loaded!.model.services.keys()]).toEqual(['a', 'b']);
    expect(loaded!.leftOut.size).toBe(0);
    expect(stderr).toBe('');
  });

  it('leaves out a definition with errors, and what uses it, when the command does not use them', () => {
    const { loaded, stderr } = load({
      'a.yaml': good,
      'b.yaml': 'services:\n  broken:\n    steps:\n      - transform: "{ x: "\n  uses-broken:\n    steps:\n      - invoke: broken\n  uses-that:\n    steps:\n      - invoke: uses-broken\n',
    }, [['services', 'a']]);
    expect([...loaded!.model.services.keys()].sort()).toEqual(['a', 'b']);
    expect([...loaded!.leftOut].sort()).toEqual(['services.broken', 'services.uses-broken', 'services.uses-that']);
    expect(stderr).toBe('mqflow x: note: left out services.broken, services.uses-broken, services.uses-that, which have errors and are not used here (1 error: mqflow validate . lists them)\n');
  });

  it('refuses when a used definition has errors, printing those', () => {
    const { loaded, stderr } = load({ 'a.yaml': good.replace('topic: out', 'topic: out/#'), 'b.yaml': 'triggers:\n  t: { connection: plant, topic: "a/#/b", service: a }\n' }, [['services', 'b']]);
    expect(loaded).toBeUndefined();
    expect(stderr).toMatch(/^a\.yaml:9:\d+ error: services\.b\.steps\[0\]\.publish\.topic: [^\n]*\n\.: 1 error\n$/);
  });

  it('refuses when a used definition only uses one with errors, printing every error', () => {
    const { loaded, stderr } = load({ 'a.yaml': good.replace('topic: out', 'topic: out/#') }, [['services', 'a']]);
    expect(loaded).toBeUndefined();
    expect(stderr).toMatch(/services\.b\.steps\[0\]\.publish\.topic: [^\n]*\nservices\.a uses a definition with errors\n\.: 1 error\n$/);
  });

  it('an error that belongs to no definition (a file that does not parse, an unknown top-level key) stops it', () => {
    for (const other of ['services:\n  x: [unclosed\n', 'servces:\n  x: {}\n']) {
      const { loaded, stderr } = load({ 'a.yaml': good, 'b.yaml': other }, [['services', 'a']]);
      expect(loaded).toBeUndefined();
      expect(stderr).toMatch(/^b\.yaml:\d+:\d+ error: /);
    }
  });

  it('without uses, the whole folder must be valid', () => {
    const { loaded, stderr } = load({ 'a.yaml': good, 'b.yaml': 'triggers:\n  t: { connection: plant, topic: "a/#/b", service: a }\n' });
    expect(loaded).toBeUndefined();
    expect(stderr).toMatch(/^b\.yaml:2:\d+ error: triggers\.t\.topic: [^\n]*\n\.: 1 error\n$/);
  });
});

describe('--timeout', () => {
  it('parses durations over 0, and refuses the rest as a usage error', () => {
    expect(parseTimeout('10s')).toBe(10_000);
    expect(parseTimeout('250')).toBe(250);
    expect(parseTimeout('1.5m')).toBe(90_000);
    for (const bad of ['0', '0s', 'soon', '-1s', '30d', '9999999999']) expect(() => parseTimeout(bad)).toThrow(/--timeout must be a duration over 0/);
  });

  it('withDeadline: the work\'s result, or a DeadlineError that says what was waited for', async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, () => 'x')).resolves.toBe(7);
    const late = withDeadline(new Promise(() => {}), 20, () => 'connection plant did not connect');
    await expect(late).rejects.toThrow(new DeadlineError('gave up after 20ms (--timeout): connection plant did not connect'));
    await expect(late).rejects.toMatchObject({ code: 'MQFLOW_TIMEOUT' });
  });
});
