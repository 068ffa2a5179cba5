import { describe, expect, it } from 'vitest';
import { parseFlowFile } from '../../../src/flow/load.js';
import { ProblemList, formatProblem } from '../../../src/flow/problem.js';
import { placeholderValue, withPlaceholders } from '../../../src/flow/interpolate.js';

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

describe('placeholders for variables that are not set (validate, test, graph, a dry-run invoke)', () => {
  function loadWithPlaceholders(text: string, env: Record<string, string> = {}) {
    const problems = new ProblemList();
    const used: string[] = [];
    const environment = withPlaceholders({ env, readFile: () => '' }, (name) => used.push(name));
    const file = parseFlowFile('/flows/plant.yaml', 'plant.yaml', text, environment, problems);
    return { file, used, problems: problems.sorted().map(formatProblem) };
  }

  it('stands in a value each check accepts there, warns at the reference and says which variable', () => {
    const { file, used, problems } = loadWithPlaceholders(
      'connections:\n  c:\n    url: ${env:MQTT_URL}\n    password: ${env:PW}\n    clientId: mqflow-${env:SITE}\nstores:\n  s:\n    url: ${env:REDIS_URL}\nservices:\n  x:\n    steps:\n      - http: { url: "${env:API}" }\n',
      { SITE: 'north' },
    );
    expect(file.data).toEqual({
      connections: { c: { url: 'mqtt://placeholder.invalid:1883', password: 'placeholder', clientId: 'mqflow-north' } },
      stores: { s: { url: 'redis://placeholder.invalid:6379' } },
      services: { x: { steps: [{ http: { url: 'http://placeholder.invalid' } }] } },
    });
    expect(used).toEqual(['MQTT_URL', 'PW', 'REDIS_URL', 'API']);
    // A placeholder is no secret; the real value that was set is.
    expect(file.secrets).toEqual(['north']);
    expect(problems[1]).toBe(
      'plant.yaml:4:15 warning: connections.c.password: environment variable PW is not set; checked with a placeholder in its place\n  hint: mqflow run, dev, publish and invoke --live need PW set (or give a default: ${env:PW:-value})',
    );
    expect(problems.every((p) => p.includes(' warning: '))).toBe(true);
  });

  it('a default still applies, and a part of a URL is a plain word', () => {
    const { file, used } = loadWithPlaceholders('connections:\n  c:\n    url: mqtts://${env:HOST}:8883\n    username: ${env:USER:-mqflow}\n');
    expect(file.data).toEqual({ connections: { c: { url: 'mqtts://placeholder:8883', username: 'mqflow' } } });
    expect(used).toEqual(['HOST']);
  });

  it('placeholderValue: by where the reference is', () => {
    expect(placeholderValue(['connections', 'c', 'urls', 1], true)).toBe('mqtt://placeholder.invalid:1883');
    expect(placeholderValue(['connections', 'c', 'url'], false)).toBe('placeholder');
    expect(placeholderValue(['triggers', 't', 'topic'], true)).toBe('placeholder');
  });
});
