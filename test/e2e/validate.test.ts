import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mqflow, repoRoot } from '../support/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'mqflow-validate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Writes a flow folder under the scratch folder and returns its path. */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

const broken = {
  'plant.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  temp-in:
    connection: plant
    topic: plant/+/sensors/+/temperature
    qos: 3
    service: normalise
services:
  normalize:
    steps:
      - transform: '{ "c": (temp_f - 32) * 5 / 9 '
`,
  'sub/ignored.test.yaml': 'this is: [not a flow file\n',
  '.hidden/ignored.yaml': 'this is: [not a flow file\n',
};

describe('mqflow validate', () => {
  it('accepts the bundled examples (exit 0) with a summary line', () => {
    const r = mqflow(['validate', 'flows/']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('flows/: 3 files, 1 connection, 2 triggers, 4 services: 0 errors, 0 warnings (valid)\n');
    expect(r.status).toBe(0);
  });

  it('validates ./flows when no folder is given', () => {
    const r = mqflow(['validate']);
    expect(r.stdout).toMatch(/^flows: 3 files/);
    expect(r.status).toBe(0);
  });

  it('reports every problem at file:line:col, sorted, and exits 1', () => {
    const dir = folder('broken', broken);
    const r = mqflow(['validate', '.'], { cwd: dir });
    expect(r.stdout).toBe(
      [
        'plant.yaml:8:5 error: triggers.temp-in.qos must be 0, 1 or 2 (got 3)',
        'plant.yaml:9:5 error: triggers.temp-in.service: no service named "normalise" (did you mean "normalize"?)',
        'plant.yaml:13:49 error: services.normalize.steps[0].transform: JSONata syntax error S0203: Expected "}" before end of expression',
        '.: 1 file, 1 connection, 1 trigger, 1 service: 3 errors, 0 warnings (invalid)',
        '',
      ].join('\n'),
    );
    expect(r.status).toBe(1);
  });

  it('shows paths relative to the working directory', () => {
    folder('nested/flows', broken);
    const r = mqflow(['validate', 'nested/flows'], { cwd: scratch });
    expect(r.stdout.split('\n')[0]).toBe('nested/flows/plant.yaml:8:5 error: triggers.temp-in.qos must be 0, 1 or 2 (got 3)');
  });

  it('--explain lists every expression at file:line:col and whether it runs compiled, with the reason when not', () => {
    const dir = folder('explain', {
      'plant.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
services:
  enrich:
    steps:
      - transform: '{ "c": (temp_f - 32) * 5 / 9 }'
      - transform: 'items@$i.{"seen": $i}'
      - publish:
          connection: plant
          topic: 'out/{{ $uppercase(site) }}'
`,
    });
    const r = mqflow(['validate', dir, '--explain'], { cwd: dir });
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'plant.yaml:7:21 services.enrich.steps[0].transform: compiled: { "c": (temp_f - 32) * 5 / 9 }',
      'plant.yaml:8:21 services.enrich.steps[1].transform: interpreted (uses a focus (@) or index (#) binding): items@$i.{"seen": $i}',
      'plant.yaml:11:25 services.enrich.steps[2].publish.topic: compiled: $uppercase(site)',
      '3 expressions: 2 compiled, 1 interpreted',
    ]);
    const json = JSON.parse(mqflow(['validate', dir, '--explain', '--format', 'json'], { cwd: dir }).stdout) as { expressions: { execution: unknown }[] };
    expect(json.expressions.map((e) => e.execution)).toEqual([{ mode: 'compiled' }, { mode: 'interpreted', reason: 'uses a focus (@) or index (#) binding' }, { mode: 'compiled' }]);
  });

  it('--format json gives the same problems as data', () => {
    const dir = folder('broken-json', broken);
    const r = mqflow(['validate', dir, '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as { valid: boolean; summary: Record<string, number>; problems: Record<string, unknown>[] };
    expect(report.valid).toBe(false);
    expect(report.summary).toEqual({ files: 1, connections: 1, triggers: 1, endpoints: 0, schedules: 0, services: 1, errors: 3, warnings: 0 });
    expect(report.problems[0]).toEqual({
      severity: 'error',
      code: 'MQFLOW_SCHEMA_ENUM',
      file: 'plant.yaml',
      line: 8,
      column: 5,
      path: 'triggers.temp-in.qos',
      message: 'triggers.temp-in.qos must be 0, 1 or 2 (got 3)',
    });
    expect(report.problems.map((p) => p.code)).toEqual(['MQFLOW_SCHEMA_ENUM', 'MQFLOW_UNKNOWN_REFERENCE', 'MQFLOW_EXPR_SYNTAX']);
  });

  it('rejects a folder without flow files (a wrong path must not pass CI)', () => {
    const dir = folder('empty', { 'only.test.yaml': 'tests: []\n', 'README.md': '# nothing\n' });
    const r = mqflow(['validate', '.'], { cwd: dir });
    expect(r.stdout).toBe(
      '.:1:1 error: no flow files (*.yaml, *.yml) in this folder\n  hint: check the path; test files (*.test.yaml) and dot-folders are not flow files\n' +
        '.: 0 files, 0 connections, 0 triggers, 0 services: 1 error, 0 warnings (invalid)\n',
    );
    expect(r.status).toBe(1);
  });

  it('never prints a secret from the environment', () => {
    const dir = folder('secret', {
      'c.yaml': 'connections:\n  c:\n    url: mqtt://h\n    password: ${env:PW}\n    keepalive: ${env:PW}\n',
    });
    const r = mqflow(['validate', '.', '--format', 'json'], { cwd: dir, env: { PW: 'hunter2-very-secret' } });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('the value of ${env:PW}');
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  });

  it('exits 2 on usage errors, with the reason on stderr', () => {
    const cases: [string[], RegExp][] = [
      [['validate', '--format', 'xml'], /--format must be text or json \(got xml\)/],
      [['validate', 'no-such-folder'], /flow folder no-such-folder does not exist/],
      [['validate', '--bogus'], /Unknown option '--bogus'/],
      [['validate', 'a', 'b'], /validate takes one folder/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [[], /Usage: mqflow <command>/],
    ];
    for (const [args, message] of cases) {
      const r = mqflow(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout, args.join(' ')).toBe('');
    }
  });
});

describe('mqflow schema', () => {
  it('prints the committed schemas/flow.schema.json', () => {
    const r = mqflow(['schema']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(repoRoot, 'schemas/flow.schema.json'), 'utf8'));
  });
});

describe('mqflow --version', () => {
  it('prints the package version', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(mqflow(['--version']).stdout).toBe(`${pkg.version}\n`);
  });
});
