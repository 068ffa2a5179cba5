/**
 * The disk store on real LMDB files (docs/architecture.md, invariants 37-38): commits, time to
 * live, durability across close and SIGKILL, the size limit, the sweep, long keys.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openDiskStore, type DiskStore, type DiskStoreOptions } from '../../../src/state/disk-store.js';
import { StateError } from '../../../src/state/state-error.js';

const DIST_STORE = fileURLToPath(new URL('../../../dist/state/disk-store.js', import.meta.url));

const dirs: string[] = [];
const stores: DiskStore[] = [];

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-disk-store-'));
  dirs.push(dir);
  return dir;
}

function openStore(path: string, options: Partial<DiskStoreOptions> = {}): DiskStore {
  const store = openDiskStore({ path, maxSizeBytes: 64 * 1024 * 1024, sweepIntervalMs: 0, ...options });
  stores.push(store);
  return store;
}

async function rejection(promise: Promise<unknown>): Promise<StateError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StateError);
  return error as StateError;
}

/** Polls `check` until it holds; the deadline only stops a broken test. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('disk store', () => {
  it('puts, overwrites and removes in one commit, and reads synchronously', async () => {
    const store = openStore(join(tempDir(), 'nested', 'dir'));
    expect(store.kind).toBe('disk');
    expect(store.shared).toBe(false);
    await store.commit(
      [
        { key: 'ns:a', value: { n: 1, list: [1, 'two', null, true], text: 'é✓' } },
        { key: 'ns:b', value: 'gone soon' },
        { key: 'ns:c', value: 0 },
      ],
      1_000,
    );
    await store.commit(
      [
        { key: 'ns:a', value: 'first' },
        { key: 'ns:b', value: undefined },
        { key: 'ns:a', value: 'second' },
        { key: 'ns:d', value: false },
        { key: 'ns:e', value: null },
      ],
      1_000,
    );
    const a = store.get('ns:a', 1_000);
    expect(a).not.toBeInstanceOf(Promise);
    expect(a).toBe('second');
    expect(store.get('ns:b', 1_000)).toBeUndefined();
    expect(store.get('ns:c', 1_000)).toBe(0);
    expect(store.get('ns:d', 1_000)).toBe(false);
    expect(store.get('ns:e', 1_000)).toBeNull();
    expect(store.get('ns:missing', 1_000)).toBeUndefined();
    expect(store.stats()).toEqual({ entries: 4, hits: 4, misses: 2, evictions: 0, errors: 0 });
  });

  it('returns JSON data as it was stored', async () => {
    const store = openStore(tempDir());
    const value = { nested: { deep: [1.5, -2, 'x', { y: null }] }, empty: {}, list: [], big: 2 ** 53 - 1 };
    await store.commit([{ key: 'k', value }], 0);
    expect(store.get('k', 0)).toEqual(value);
  });

  it('expires entries by the now it is given', async () => {
    const store = openStore(tempDir());
    await store.commit(
      [
        { key: 'short', value: 1, ttlMs: 1_000 },
        { key: 'forever', value: 2 },
      ],
      10_000,
    );
    expect(store.get('short', 10_999)).toBe(1);
    expect(store.get('short', 11_000)).toBeUndefined();
    expect(store.get('forever', Number.MAX_SAFE_INTEGER)).toBe(2);
    // A later commit renews the entry from its own now.
    await store.commit([{ key: 'short', value: 3, ttlMs: 1_000 }], 20_000);
    expect(store.get('short', 20_500)).toBe(3);
    expect(store.stats().misses).toBe(1);
  });

  it('keeps committed entries across close and reopen', async () => {
    const dir = tempDir();
    const first = openStore(dir);
    await first.commit(
      [
        { key: 'kept', value: { v: 1 } },
        { key: 'expiring', value: 'x', ttlMs: 500 },
      ],
      1_000,
    );
    // Not awaited: close() lets it settle first.
    const pending = first.commit([{ key: 'late', value: 'still there' }], 1_000);
    await first.close();
    await expect(pending).resolves.toBeUndefined();
    await first.close(); // idempotent

    const second = openStore(dir);
    expect(second.get('kept', 1_000)).toEqual({ v: 1 });
    expect(second.get('late', 1_000)).toBe('still there');
    expect(second.get('expiring', 1_499)).toBe('x');
    expect(second.get('expiring', 1_500)).toBeUndefined();
  });

  it('fails with MQFLOW_STATE_UNAVAILABLE once closed, never throwing from commit', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    await store.close();
    let commit: Promise<void> | undefined;
    expect(() => (commit = store.commit([{ key: 'k', value: 1 }], 0))).not.toThrow();
    const error = await rejection(commit!);
    expect(error.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(error.message).toContain(dir);
    expect(() => store.get('k', 0)).toThrow(expect.objectContaining({ code: 'MQFLOW_STATE_UNAVAILABLE' }) as Error);
  });

  it('rejects a value that is not JSON data without throwing', async () => {
    const store = openStore(tempDir());
    const error = await rejection(store.commit([{ key: 'k', value: { n: 1n } }], 0));
    expect(error.code).toBe('MQFLOW_STATE_VALUE');
    expect(store.stats().errors).toBe(1);
  });

  it('commits many concurrent commits, all of them', async () => {
    const store = openStore(tempDir());
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.commit([{ key: `k${i}`, value: i }], 0)));
    for (let i = 0; i < 500; i++) expect(store.get(`k${i}`, 0)).toBe(i);
    expect(store.stats().entries).toBe(500);
  });

  it('takes keys of 1024 UTF-8 bytes and keys longer than LMDB allows', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const ascii = 'a'.repeat(1024);
    const multiByte = 'ns:' + '✓'.repeat(340) + 'x'; // 3 + 1020 + 1 = 1024 bytes
    expect(Buffer.byteLength(multiByte)).toBe(1024);
    const huge = 'h'.repeat(70_000);
    const hugeToo = 'h'.repeat(69_999) + 'i'; // same length and prefix: another key
    await store.commit(
      [
        { key: ascii, value: 'ascii' },
        { key: multiByte, value: 'multi' },
        { key: huge, value: 'huge' },
        { key: hugeToo, value: 'huge too' },
      ],
      0,
    );
    await store.close();

    const reopened = openStore(dir);
    expect(reopened.get(ascii, 0)).toBe('ascii');
    expect(reopened.get(multiByte, 0)).toBe('multi');
    expect(reopened.get(huge, 0)).toBe('huge');
    expect(reopened.get(hugeToo, 0)).toBe('huge too');
    await reopened.commit([{ key: huge, value: undefined }], 0);
    expect(reopened.get(huge, 0)).toBeUndefined();
    expect(reopened.get(hugeToo, 0)).toBe('huge too');
  });

  it('refuses a commit beyond maxSizeBytes, stays readable, and takes writes again once space is freed', async () => {
    const dir = tempDir();
    const store = openStore(dir, { maxSizeBytes: 1024 * 1024 });
    const big = 'x'.repeat(64 * 1024);
    const written: string[] = [];
    let refused: StateError | undefined;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      try {
        await store.commit([{ key: `big${i}`, value: big }], 0);
        written.push(`big${i}`);
      } catch (error) {
        refused = error as StateError;
      }
    }
    expect(refused).toBeInstanceOf(StateError);
    expect(refused!.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(refused!.message).toContain(dir);
    expect(refused!.message).toContain('full');
    expect(written.length).toBeGreaterThan(5);
    expect(store.stats().errors).toBe(1);
    for (const key of written) expect(store.get(key, 0)).toBe(big);

    // Removals are never refused; the space they free is used again.
    await store.commit(
      written.slice(0, 4).map((key) => ({ key, value: undefined })),
      0,
    );
    await store.commit([{ key: 'after', value: big }], 0);
    expect(store.get('after', 0)).toBe(big);
  });

  it('sweeps expired entries away', async () => {
    const store = openStore(tempDir(), { sweepIntervalMs: 5 });
    await store.commit(
      Array.from({ length: 2_500 }, (_, i) => ({ key: `gone${i}`, value: i, ttlMs: 100 })),
      1_000,
    );
    await store.commit(
      [
        { key: 'stays', value: 'forever' },
        { key: 'later', value: 'later', ttlMs: 10_000 },
      ],
      1_000,
    );
    expect(store.stats().entries).toBe(2_502);
    // The sweep goes by the latest now a caller gave.
    expect(store.get('stays', 2_000)).toBe('forever');
    await eventually(() => store.stats().entries === 2, 'the sweep');
    expect(store.get('stays', 2_000)).toBe('forever');
    expect(store.get('later', 2_000)).toBe('later');
    expect(store.stats().evictions).toBe(0);
  });

  // A write LMDB itself fails (here: the file-size limit of `ulimit -f`) rejects the commit; it
  // must not end the process (lmdb-js's event-turn batching left an unhandled rejection behind).
  it.skipIf(process.platform === 'win32')('rejects a commit LMDB fails to write, and the process goes on', async () => {
    expect(existsSync(DIST_STORE), `${DIST_STORE} is missing: run npm run build`).toBe(true);
    const dir = tempDir();
    const script = `
      import { openDiskStore } from ${JSON.stringify(new URL(`file://${DIST_STORE}`).href)};
      process.on('SIGXFSZ', () => {}); // the write then fails with EFBIG instead of killing us
      const store = openDiskStore({ path: process.argv[1], maxSizeBytes: 1024 ** 3, sweepIntervalMs: 0 });
      const big = 'x'.repeat(256 * 1024);
      let failure;
      for (let i = 0; i < 100 && failure === undefined; i++) {
        await store.commit([{ key: 'big' + i, value: big }], 0).catch((error) => (failure = { code: error.code, message: error.message }));
      }
      const readable = store.get('big0', 0) === big;
      await new Promise((resolve) => setTimeout(resolve, 100)); // time for a stray rejection to surface
      await store.close();
      process.stdout.write(JSON.stringify({ failure, readable, errors: store.stats().errors }));
    `;
    const child = spawn('/bin/sh', ['-c', 'ulimit -f 4096 && exec "$0" --input-type=module -e "$1" "$2"', process.execPath, script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const safety = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(safety);
    expect(code, err).toBe(0);
    const result = JSON.parse(out) as { failure?: { code: string; message: string }; readable: boolean; errors: number };
    expect(result.failure?.code).toBe('MQFLOW_STATE_UNAVAILABLE');
    expect(result.failure?.message).toContain(dir);
    expect(result.readable).toBe(true);
    expect(result.errors).toBe(1);
  });

  it('keeps every commit that resolved when the process is killed (SIGKILL)', async () => {
    expect(existsSync(DIST_STORE), `${DIST_STORE} is missing: run npm run build`).toBe(true);
    const dir = tempDir();
    const script = `
      import { openDiskStore } from ${JSON.stringify(new URL(`file://${DIST_STORE}`).href)};
      const store = openDiskStore({ path: process.argv[1], maxSizeBytes: 64 * 1024 * 1024, sweepIntervalMs: 0 });
      for (let i = 0; i < 200; i++) {
        await store.commit([{ key: 'k' + i, value: { i } }], Date.now());
        process.stdout.write('k' + i + '\\n');
      }
      // Never closes: it waits to be killed.
      setInterval(() => {}, 1_000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const printed: string[] = [];
    let partial = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const safety = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      printed.push(...lines);
      if (printed.length >= 50) child.kill('SIGKILL');
    });
    const signal = await exited;
    clearTimeout(safety);
    expect(signal).toBe('SIGKILL');
    expect(printed.length).toBeGreaterThanOrEqual(50);

    const store = openStore(dir);
    const missing = printed.filter((key) => store.get(key, Date.now()) === undefined);
    expect(missing).toEqual([]);
    expect(store.get(printed[printed.length - 1]!, Date.now())).toEqual({ i: printed.length - 1 });
  });
});
