/**
 * Which commit a flow folder is (docs/gitops.md, "Which commit runs"): when the folder is inside a
 * git work tree, the commit checked out and whether the folder differs from it. Runs `git` with a
 * short timeout; no git, no work tree or no commit yet means no revision, never an error. Also
 * reads a folder's flow files as of a commit, into memory, for `mqflow plan --from-git`.
 */
import { execFile } from 'node:child_process';
import { relative, resolve, sep } from 'node:path';
import { isFlowFileName } from './load.js';

export interface FlowRevision {
  /** The commit checked out (HEAD), full hash. */
  readonly commit: string;
  /** True when files of the folder differ from that commit (changed, added, deleted, untracked). */
  readonly dirty: boolean;
}

const GIT_TIMEOUT_MS = 3000;
/** The most a `git show` of one file may print; flow files are far smaller (MAX_FILE_BYTES). */
const GIT_MAX_BUFFER = 16 * 1024 * 1024;

export class GitError extends Error {
  readonly code = 'MQFLOW_GIT';
}

function git(args: readonly string[], cwd: string, timeoutMs: number = GIT_TIMEOUT_MS): Promise<string> {
  return new Promise((done, fail) => {
    execFile('git', [...args], { cwd, timeout: timeoutMs, maxBuffer: GIT_MAX_BUFFER, encoding: 'utf8', env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (error, stdout, stderr) => {
      if (error !== null) fail(new GitError(`git ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else done(stdout);
    });
  });
}

/** The revision of folder `dir`, or undefined when it is not in a git work tree with a commit (or git is absent or slow). */
export async function flowRevision(dir: string, timeoutMs: number = GIT_TIMEOUT_MS): Promise<FlowRevision | undefined> {
  try {
    // GIT_OPTIONAL_LOCKS=0: a status taken while the operator commits must not hold the index lock.
    const [head, porcelain] = await Promise.all([git(['rev-parse', '--verify', 'HEAD'], dir, timeoutMs), git(['status', '--porcelain', '--', '.'], dir, timeoutMs)]);
    const commit = head.trim();
    if (!/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
    return { commit, dirty: porcelain.trim() !== '' };
  } catch {
    return undefined;
  }
}

/** A flow file as of a commit: its path as it would be on disk, how problems show it, and its text. */
export interface CommittedFile {
  readonly absolutePath: string;
  readonly shownAs: string;
  readonly text: string;
}

/**
 * The flow files of folder `dir` as of commit `rev` (what discoverFlowFiles would find had the
 * commit been checked out), read with `git ls-tree` and `git show`; nothing is checked out.
 * Throws GitError when `dir` is not in a work tree or `rev` names no commit.
 */
export async function flowFilesAt(dir: string, rev: string): Promise<CommittedFile[]> {
  const absolute = resolve(dir);
  const top = (await git(['rev-parse', '--show-toplevel'], absolute)).trim();
  const commit = (await git(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`], absolute)).trim();
  const prefix = relative(resolve(top), absolute).split(sep).join('/');
  const listing = await git(['ls-tree', '-r', '-z', '--name-only', commit, '--', prefix === '' ? '.' : prefix], top);
  const paths = listing
    .split('\0')
    .filter((p) => p !== '')
    .filter((p) => {
      const inside = prefix === '' ? p : p.slice(prefix.length + 1);
      const parts = inside.split('/');
      return parts.slice(0, -1).every((d) => !d.startsWith('.') && d !== 'node_modules') && isFlowFileName(parts.at(-1)!);
    })
    .sort();
  const files: CommittedFile[] = [];
  for (const path of paths) {
    const text = await git(['show', `${commit}:${path}`], top);
    files.push({ absolutePath: resolve(top, path), shownAs: `${rev}:${path}`, text });
  }
  return files;
}
