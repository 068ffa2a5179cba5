/**
 * readFileWithin (src/util/bounded-read.ts), the read behind invariant 34: the check is made on the
 * opened descriptor, opening cannot block, and no more than limit + 1 bytes are read whatever the
 * file's size says.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type * as NodeFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FileLimitError, ReadBudget, readFileWithin, readTextFileWithin } from '../../../src/util/bounded-read.js';

/** While `statAs` is set, statSync looks at that path instead of the one asked: a file swapped after the look. */
const swap = vi.hoisted(() => ({ statAs: undefined as string | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const statSync = ((path: string, options?: object) => fs.statSync(swap.statAs ?? path, options as never)) as typeof fs.statSync;
  return { ...fs, statSync, default: { ...fs, statSync } };
});

const scratch = mkdtempSync(join(tmpdir(), 'mqflow-bounded-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function refusal(read: () => unknown): FileLimitError {
  try {
    read();
  } catch (error) {
    if (error instanceof FileLimitError) return error;
    throw error;
  }
  throw new Error('the read was not refused');
}

describe('readFileWithin', () => {
  it('reads a regular file up to and including the limit', () => {
    const file = join(scratch, 'ten');
    writeFileSync(file, '0123456789');
    expect(readTextFileWithin(file, 10)).toBe('0123456789');
    const over = refusal(() => readFileWithin(file, 9));
    expect(over.kind).toBe('too-large');
    expect(over.message).toBe(`${file}: it is 10 bytes, over the limit of 9 bytes for one file; make it smaller, or split it into several files`);
  });

  it('refuses a folder, naming it', () => {
    const error = refusal(() => readFileWithin(scratch, 100));
    expect(error.kind).toBe('not-regular');
    expect(error.reason).toBe('it is a folder, not a regular file: only regular files of at most 100 bytes are read');
  });

  it('passes other errors on as fs throws them', () => {
    expect(() => readFileWithin(join(scratch, 'missing'), 100)).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
  });

  it.skipIf(!existsSync('/proc/self/status'))('does not trust the size: a file that says 0 bytes is read only up to the limit', () => {
    // /proc files are regular files of size 0 that hold more.
    const error = refusal(() => readFileWithin('/proc/self/status', 16));
    expect(error.reason).toBe('it holds more than 16 bytes (more than its size said when it was opened), over the limit of 16 bytes for one file');
    expect(readTextFileWithin('/proc/self/status', 1 << 20)).toMatch(/^Name:/);
  });

  it('checks what it opened: /dev/zero swapped in after the look is refused', () => {
    const file = join(scratch, 'regular');
    writeFileSync(file, 'x');
    swap.statAs = file;
    try {
      const error = refusal(() => readFileWithin('/dev/zero', 100));
      expect(error.reason).toMatch(/^it is a character device, not a regular file/);
    } finally {
      swap.statAs = undefined;
    }
  });

  it('opens a FIFO swapped in after the look without blocking, and refuses it', () => {
    const fifo = join(scratch, 'pipe');
    try {
      execFileSync('mkfifo', [fifo], { stdio: 'ignore' });
    } catch {
      return; // no mkfifo here: nothing to check
    }
    const file = join(scratch, 'regular2');
    writeFileSync(file, 'x');
    // Without O_NONBLOCK, opening a FIFO that has no writer waits for one, and a synchronous open cannot be timed
    // out: this writer, coming after 2 s, ends such a wait, so that the test fails (the writer came first) instead of hanging.
    const writer = spawn(process.execPath, ['-e', `setTimeout(() => require('node:fs').openSync(${JSON.stringify(fifo)}, 'w'), 2000)`], { stdio: 'ignore' });
    swap.statAs = file;
    try {
      const error = refusal(() => readFileWithin(fifo, 100));
      expect(writer.exitCode, 'the read waited for a writer').toBeNull();
      expect(error.reason).toMatch(/^it is a FIFO \(named pipe\), not a regular file/);
    } finally {
      swap.statAs = undefined;
      writer.kill('SIGKILL');
    }
  });
});

describe('ReadBudget', () => {
  it('takes reads while they fit, then refuses every later one', () => {
    const budget = new ReadBudget(10);
    expect(budget.take(6)).toBe(true);
    expect(budget.take(4)).toBe(true);
    expect(budget.take(1)).toBe(false);
    expect(budget.exhausted).toBe(true);
    expect(budget.take(0)).toBe(false);
    expect(budget.used).toBe(10);
    expect(budget.refusal('/f').message).toMatch(/^\/f: with it, the files read for the flow folder would total more than 10 bytes, the limit for one folder; /);
  });
});
