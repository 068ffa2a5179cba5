import { describe, expect, it } from 'vitest';
import { parseFlowFile } from '../../../src/flow/load.js';
import { ProblemList, formatProblem } from '../../../src/flow/problem.js';

function load(text: string, env: Record<string, string> = {}, files: Record<string, string> = {}) {
  const problems = new ProblemList();
  const file = parseFlowFile('/flows/plant.yaml', 'plant.yaml', text, {
    env,
    readFile: (p) => {
      if (p in files) return files[p]!;
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    },
  }, problems);
  return { file, problems: problems.sorted().map(formatProblem) };
}

describe('interpolation of ${env:…} and ${file:…}', () => {
  it('resolves variables, defaults and files, and records the secrets', () => {
    const { file, problems } = load(
      'connections:\n  c:\n    url: ${env:URL:-mqtt://localhost}\n    username: ${env:USER}\n    password: ${file:secrets/pw}\n',
      { USER: 'alice' },
      { '/flows/secrets/pw': 's3cret\n' },
    );
    expect(problems).toEqual([]);
    expect(file.data).toEqual({ connections: { c: { url: 'mqtt://localhost', username: 'alice', password: 's3cret' } } });
    expect(file.secrets).toEqual(['alice', 's3cret']);
    expect([...file.interpolated.keys()]).toEqual(['/connections/c/url', '/connections/c/username', '/connections/c/password']);
  });

  it('leaves $${…} escapes and other ${…} text alone', () => {
    const { file } = load('services:\n  s:\n    steps:\n      - log: "$${env:HOME} and ${ x }"\n');
    expect(file.data).toEqual({ services: { s: { steps: [{ log: '${env:HOME} and ${ x }' }] } } });
  });

  it('treats an empty variable as unset, so the default applies', () => {
    const { file } = load('a: ${env:EMPTY:-fallback}\n', { EMPTY: '' });
    expect(file.data).toEqual({ a: 'fallback' });
  });

  it('reports a missing variable and an unreadable file at the reference', () => {
    const { problems } = load('connections:\n  c:\n    url: mqtt://h\n    password: "x-${env:MQTT_PASSWORD}"\n    username: ${file:nope.txt}\n');
    expect(problems).toEqual([
      'plant.yaml:4:18 error: connections.c.password: environment variable MQTT_PASSWORD is not set\n  hint: set MQTT_PASSWORD, or give a default: ${env:MQTT_PASSWORD:-value}',
      'plant.yaml:5:15 error: connections.c.username: cannot read ${file:nope.txt}: no such file (nope.txt)\n  hint: the path is relative to the flow file that uses it',
    ]);
  });

  it('reports malformed references', () => {
    const { problems } = load('a: ${env:bad name}\n');
    expect(problems).toEqual([
      'plant.yaml:1:4 error: a: "${env:bad name}" is not a valid environment reference\n  hint: write ${env:NAME} or ${env:NAME:-default}, where NAME is letters, digits and _',
    ]);
  });

  it('keeps a key named __proto__ as data, without touching prototypes', () => {
    const { file } = load('__proto__:\n  polluted: ${env:X:-yes}\n');
    expect(Object.keys(file.data as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
