/** What `mqflow deploy` sends from a folder, which paths an instance takes, and that the history is no flow. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDeployPath, collectDeployFiles, DeployPathError } from '../../../src/engine/deploy.js';
import { discoverFlowFiles } from '../../../src/flow/load.js';

const folders: string[] = [];
afterEach(() => folders.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-deploy-unit-'));
  folders.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const FLOW = `connections:
  plant:
    url: mqtt://localhost:1883
    password: \${file:secrets/password}
services:
  s:
    steps:
      - log: hi
`;

describe('collectDeployFiles', () => {
  it('sends the flow files, .proto files and files they read inside the folder; not hidden folders, node_modules, tests or other files', () => {
    const outside = folder({ 'password': 'not sent' });
    const dir = folder({
      'main.yaml': FLOW,
      'more/other.yml': FLOW.replace('secrets/password', join(outside, 'password')),
      'secrets/password': 's3cret',
      'proto/reading.proto': 'syntax = "proto3";',
      'main.test.yaml': 'tests: []',
      'README.md': '# not a flow',
      '.mqflow/history/1/files/main.yaml': FLOW,
      'node_modules/x/a.yaml': FLOW,
    });
    expect(Object.keys(collectDeployFiles(dir)).sort()).toEqual(['main.yaml', 'more/other.yml', 'proto/reading.proto', 'secrets/password']);
  });
});

describe('checkDeployPath', () => {
  it.each(['../x.yaml', '/etc/x.yaml', 'a/../../x.yaml', '.mqflow/history/1/meta.json', 'a\\b.yaml', 'node_modules/a.yaml', 'a//b.yaml', ''])('refuses %j', (path) => {
    expect(() => checkDeployPath(path)).toThrow(DeployPathError);
  });

  it('takes a relative path inside the folder', () => {
    expect(() => checkDeployPath('site/a/main.yaml')).not.toThrow();
  });
});

describe('the history folder', () => {
  it('is not read as flow files (the loader skips hidden folders)', () => {
    const dir = folder({ 'main.yaml': FLOW, '.mqflow/history/3/files/main.yaml': FLOW });
    expect(discoverFlowFiles(dir)).toEqual([join(dir, 'main.yaml')]);
  });
});
