/**
 * Installing mqflow as a user would without the clone: `npm pack` (which cleans and builds dist/),
 * `npm install -g` of the tarball into a prefix of its own, then the installed `mqflow` run on a
 * flow folder outside the clone (README.md, "Install it globally").
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const scratch = mkdtempSync(join(tmpdir(), 'mqflow-install-'));
const prefix = join(scratch, 'prefix');
const installed = join(prefix, 'bin', 'mqflow');
/** A user's project: a flow folder that has nothing to do with the clone. */
const project = join(scratch, 'project');

/** The environment of a user's shell: no npm_* variables from the `npm test` running this. */
function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_(lifecycle|package|command|config_(global|prefix|ignore_scripts|dry_run))/i.test(key)));
  return { ...env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' };
}

function run(command: string, args: readonly string[], cwd: string, timeout = 30_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', timeout });
  if (result.error !== undefined) throw result.error;
  return result;
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  expect(result.status, `${what} failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

let files: string[] = [];

beforeAll(() => {
  // Pack a copy of the working tree (as a fresh clone would have it) so that the prepack and prepare
  // scripts rebuild dist/ there, not under the feet of whatever else uses this checkout's dist/.
  const source = join(scratch, 'source');
  const skip = new Set(['node_modules', 'dist', 'test-results', '.git', 'coverage'].map((name) => join(repoRoot, name)));
  cpSync(repoRoot, source, { recursive: true, filter: (path) => !skip.has(path.replace(/\/$/, '')) });
  symlinkSync(join(repoRoot, 'node_modules'), join(source, 'node_modules'));
  const packed = run('npm', ['pack', '--json', '--pack-destination', scratch, '--loglevel=error'], source, 60_000);
  const report = JSON.parse(ok(packed, 'npm pack')) as { filename: string; files: { path: string }[] }[];
  files = report[0]!.files.map((f) => f.path);
  const tarball = join(scratch, report[0]!.filename);
  ok(run('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], scratch, 90_000), 'npm install -g');
  cpSync(join(repoRoot, 'flows'), join(project, 'flows'), { recursive: true });
}, 150_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the packed tarball, installed globally', () => {
  it('holds the CLI, the built modules and the schema, and nothing else (no sources, tests, maps)', () => {
    expect(files).toContain('bin/mqflow.js');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('schemas/flow.schema.json');
    expect(files).toContain('README.md');
    const unexpected = files.filter((f) => !/^(bin\/mqflow\.js|dist\/.+\.js|schemas\/flow\.schema\.json|README\.md|LICENSE|package\.json)$/.test(f));
    expect(unexpected).toEqual([]);
    // Every built module has its source: a stale dist/ file from a removed source is not shipped.
    const sources = new Set(listFiles(join(repoRoot, 'src')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '.js')));
    expect(files.filter((f) => f.startsWith('dist/') && !sources.has(f.slice('dist/'.length)))).toEqual([]);
  });

  it('puts an mqflow command on the PATH that prints its version', () => {
    expect(existsSync(installed)).toBe(true);
    expect(ok(run('mqflow', ['--version'], project), 'mqflow --version')).toBe(`${version}\n`);
  });

  it('validates a flow folder outside the clone', () => {
    const r = run('mqflow', ['validate', 'flows'], project);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('flows: 3 files, 1 connection, 2 triggers, 4 services: 0 errors, 0 warnings (valid)\n');
    expect(r.status).toBe(0);
  });

  it("runs that folder's flow tests", () => {
    const out = ok(run('mqflow', ['test', 'flows'], project), 'mqflow test');
    expect(out).toMatch(/^✓ flows\/batches\.test\.yaml:3 a batch becomes one message per reading, in order/m);
    expect(out.trimEnd().split('\n').at(-1)).toBe('10 passed, 0 failed');
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}
