/** Which commit a flow folder is, against a real git repository in a temp folder (docs/gitops.md). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flowFilesAt, flowRevision, GitError } from '../../../src/flow/revision.js';

const root = mkdtempSync(join(tmpdir(), 'mqflow-revision-'));
const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: root, encoding: 'utf8' }).trim();

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('flowRevision', () => {
  it('has none outside a work tree, and none before the first commit', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'mqflow-no-git-'));
    expect(await flowRevision(outside)).toBeUndefined();
    rmSync(outside, { recursive: true, force: true });
    git('init', '-q');
    expect(await flowRevision(root)).toBeUndefined();
  });

  it('names the commit, and is dirty only when the folder itself differs from it', async () => {
    mkdirSync(join(root, 'flows', '.hidden'), { recursive: true });
    writeFileSync(join(root, 'flows', 'main.yaml'), 'services: {}\n');
    writeFileSync(join(root, 'flows', 'main.test.yaml'), 'tests: []\n');
    writeFileSync(join(root, 'flows', '.hidden', 'x.yaml'), 'x: 1\n');
    writeFileSync(join(root, 'README.md'), 'hello\n');
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    const first = git('rev-parse', 'HEAD');
    expect(await flowRevision(join(root, 'flows'))).toEqual({ commit: first, dirty: false });
    writeFileSync(join(root, 'README.md'), 'changed outside the folder\n');
    expect(await flowRevision(join(root, 'flows'))).toEqual({ commit: first, dirty: false });
    writeFileSync(join(root, 'flows', 'new.yaml'), 'services: {}\n');
    expect(await flowRevision(join(root, 'flows'))).toEqual({ commit: first, dirty: true });
  });

  it('reads the flow files of the folder as of a commit, without checking it out', async () => {
    const first = git('rev-parse', 'HEAD');
    writeFileSync(join(root, 'flows', 'main.yaml'), 'services: { a: { steps: [] } }\n');
    git('add', '.');
    git('commit', '-q', '-m', 'second');
    const files = await flowFilesAt(join(root, 'flows'), first);
    expect(files.map((f) => [f.shownAs, f.text])).toEqual([[`${first}:flows/main.yaml`, 'services: {}\n']]);
    expect((await flowFilesAt(join(root, 'flows'), 'HEAD')).map((f) => f.shownAs)).toEqual(['HEAD:flows/main.yaml', 'HEAD:flows/new.yaml']);
    await expect(flowFilesAt(join(root, 'flows'), 'no-such-rev')).rejects.toBeInstanceOf(GitError);
  });
});
