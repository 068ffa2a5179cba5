/**
 * A flow folder is read within bounds (docs/architecture.md, invariant 34): only regular files
 * (a link is followed to its target, which must be one) of at most 1 MiB each, 64 MiB in all;
 * anything else is an error that names the file and the limit, for flow files, `${file:…}`, TLS
 * files and test files alike. Real files in a temporary folder, read through buildFlowFolder as
 * `mqflow validate` reads them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../../src/cli/simulator.js';
import { buildFlowFolder, type BuildResult } from '../../../src/flow/build.js';
import { FlowFileCache } from '../../../src/flow/file-cache.js';
import { discoverFlowFiles } from '../../../src/flow/load.js';
import { formatProblem } from '../../../src/flow/problem.js';
import { runFlowTests } from '../../../src/testing/run-tests.js';
import type { Log } from '../../../src/util/log.js';
import { MAX_FILE_BYTES, MAX_FOLDER_BYTES } from '../../../src/util/bounded-read.js';

const MiB = 1024 * 1024;

const scratch = mkdtempSync(join(tmpdir(), 'mqflow-load-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const CONNECTION = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
`;

/** A folder under the scratch folder: text for files, `{ link }` for symbolic links. */
function folder(name: string, files: Record<string, string | { link: string }>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    if (typeof content === 'string') writeFileSync(join(dir, file), content);
    else symlinkSync(content.link, join(dir, file));
  }
  return dir;
}

/** Builds `dir` as `mqflow validate` does (real reads). Reading /dev/zero or a FIFO as before would never return. */
function validate(dir: string, cache?: FlowFileCache): BuildResult & { text: string[] } {
  const result = buildFlowFolder(dir, { cwd: dir, ...(cache === undefined ? {} : { cache }) });
  return { ...result, text: result.problems.map(formatProblem) };
}

/** A YAML comment of exactly `bytes` bytes: a valid, empty flow file that parses at once. */
const comment = (bytes: number): string => `#${'x'.repeat(bytes - 2)}\n`;

const ONLY_REGULAR = 'only regular files of at most 1 MiB (1048576 bytes) are read';
const NOT_REGULAR_HINT = '  hint: make it a regular file, or move it out of the flow folder';
const TOTAL = 'with it, the files read for the flow folder would total more than 64 MiB (67108864 bytes), the limit for one folder';
const TOTAL_HINT = "  hint: keep the folder's flow files, and the files their ${file:…} name, under 64 MiB (67108864 bytes) in all: move what is not a flow (data, generated files) out of the folder";

const hasMkfifo = ((): boolean => {
  try {
    execFileSync('mkfifo', [join(scratch, 'probe-fifo')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('flow folder limits (invariant 34)', () => {
  it('are 1 MiB per file and 64 MiB per folder', () => {
    expect(MAX_FILE_BYTES).toBe(1 * MiB);
    expect(MAX_FOLDER_BYTES).toBe(64 * MiB);
  });

  it('refuses a link to /dev/zero at file:1:1, at once, and reads the other files', () => {
    const dir = folder('zero', { 'plant.yaml': CONNECTION, 'z.yaml': { link: '/dev/zero' } });
    const r = validate(dir);
    expect(r.text).toEqual([`z.yaml:1:1 error: cannot read the file: it is a link to /dev/zero, a character device, not a regular file: ${ONLY_REGULAR}\n${NOT_REGULAR_HINT}`]);
    expect(r.problems[0]?.code).toBe('MQFLOW_READ');
    expect(r.summary).toMatchObject({ files: 2, connections: 1, errors: 1 });
    expect(r.model).toBeUndefined();
  });

  it.skipIf(!hasMkfifo)('refuses a FIFO without waiting for a writer', () => {
    const dir = folder('fifo', { 'plant.yaml': CONNECTION });
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    symlinkSync('pipe.yaml', join(dir, 'to-pipe.yaml'));
    const r = validate(dir);
    expect(r.text).toEqual([
      `pipe.yaml:1:1 error: cannot read the file: it is a FIFO (named pipe), not a regular file: ${ONLY_REGULAR}\n${NOT_REGULAR_HINT}`,
      `to-pipe.yaml:1:1 error: cannot read the file: it is a link to ${realpathSync(join(dir, 'pipe.yaml'))}, a FIFO (named pipe), not a regular file: ${ONLY_REGULAR}\n${NOT_REGULAR_HINT}`,
    ]);
  });

  it('refuses a file of 1 MiB + 1 byte, and reads one of exactly 1 MiB', () => {
    const dir = folder('big', { 'big.yaml': comment(MiB + 1), 'edge.yaml': comment(MiB), 'plant.yaml': CONNECTION });
    const r = validate(dir);
    expect(r.text).toEqual(['big.yaml:1:1 error: cannot read the file: it is 1048577 bytes, over the limit of 1 MiB (1048576 bytes) for one file\n  hint: split it into several flow files']);
    expect(r.summary).toMatchObject({ files: 3, errors: 1 });
  });

  it('reads a link to a regular file as that file', () => {
    const outside = folder('outside', { 'real.yaml': CONNECTION });
    const dir = folder('linked', { 'plant.yaml': { link: join(outside, 'real.yaml') } });
    const r = validate(dir);
    expect(r.text).toEqual([]);
    expect(r.summary).toMatchObject({ files: 1, connections: 1, errors: 0 });
    expect(r.model?.connections.has('plant')).toBe(true);
  });

  it('does not follow a link to a folder, so a link to the folder itself makes no loop', () => {
    const dir = folder('loop', { 'plant.yaml': CONNECTION, 'self.yaml': { link: '.' }, 'up': { link: '..' } });
    mkdirSync(join(dir, 'sub'));
    symlinkSync('..', join(dir, 'sub', 'parent.yaml'));
    expect(discoverFlowFiles(dir)).toEqual([join(dir, 'plant.yaml')]);
    expect(validate(dir).text).toEqual([]);
  });

  it('reads up to 64 MiB in all: from the file that passes it on, every file is refused at file:1:1', () => {
    // 65 links to one file of 1 MiB - 1 byte: 64 of them fit (64 MiB - 64 bytes), the 65th does not.
    const chunk = join(folder('chunk', { 'chunk.yaml': comment(MiB - 1) }), 'chunk.yaml');
    const files: Record<string, { link: string } | string> = { 'plant.yaml': CONNECTION };
    for (let i = 0; i < 65; i++) files[`f${String(i).padStart(2, '0')}.yaml`] = { link: chunk };
    const dir = folder('total', files);
    const fresh = validate(dir);
    expect(fresh.text).toEqual([`f64.yaml:1:1 error: cannot read the file: ${TOTAL}\n${TOTAL_HINT}`, `plant.yaml:1:1 error: cannot read the file: ${TOTAL}\n${TOTAL_HINT}`]);

    // The reload cache (mqflow run --watch) counts reused files too, and does not keep a refusal for the total.
    const cache = new FlowFileCache();
    expect(validate(dir, cache).text).toEqual(fresh.text);
    expect(validate(dir, cache).text).toEqual(fresh.text);
    unlinkSync(join(dir, 'f00.yaml'));
    const smaller = validate(dir, cache);
    expect(smaller.text).toEqual([]);
    expect(smaller.summary).toMatchObject({ files: 65, connections: 1 });
    expect(cache.lastRead).toBe(2);
  });

  it('counts the files ${file:…} reads in the 64 MiB', () => {
    // 63 files of 1 MiB - 1 byte, then a secret of 1 MiB - 1 byte: over by a few bytes.
    const chunk = join(scratch, 'chunk', 'chunk.yaml');
    const files: Record<string, { link: string } | string> = {
      'g.yaml': 'connections:\n  plant:\n    url: mqtt://127.0.0.1:1883\n    password: ${file:secret}\n',
      secret: 'x'.repeat(MiB - 1),
    };
    for (let i = 0; i < 63; i++) files[`f${String(i).padStart(2, '0')}.yaml`] = { link: chunk };
    const r = validate(folder('secret-total', files));
    expect(r.text).toEqual([`g.yaml:4:15 error: connections.plant.password: cannot read \${file:secret} (secret): ${TOTAL}\n${TOTAL_HINT}`]);
    expect(r.problems[0]?.code).toBe('MQFLOW_INTERPOLATION');
  });

  it('refuses a ${file:…} naming /dev/zero, through a link or directly', () => {
    const dir = folder('file-zero', {
      'plant.yaml': 'connections:\n  plant:\n    url: mqtt://127.0.0.1:1883\n    username: ${file:zero}\n    password: ${file:/dev/zero}\n',
      zero: { link: '/dev/zero' },
    });
    const r = validate(dir);
    const hint = '  hint: point it at a regular file of at most 1 MiB (1048576 bytes) (a secret, a password), relative to the flow file';
    expect(r.text).toEqual([
      `plant.yaml:4:15 error: connections.plant.username: cannot read \${file:zero} (zero): it is a link to /dev/zero, a character device, not a regular file: ${ONLY_REGULAR}\n${hint}`,
      `plant.yaml:5:15 error: connections.plant.password: cannot read \${file:/dev/zero} (/dev/zero): it is a character device, not a regular file: ${ONLY_REGULAR}\n${hint}`,
    ]);
  });

  it('refuses a ${file:…} over 1 MiB', () => {
    const dir = folder('file-big', { 'plant.yaml': 'connections:\n  plant:\n    url: mqtt://127.0.0.1:1883\n    password: ${file:big}\n', big: 'x'.repeat(MiB + 1) });
    expect(validate(dir).text).toEqual([
      'plant.yaml:4:15 error: connections.plant.password: cannot read ${file:big} (big): it is 1048577 bytes, over the limit of 1 MiB (1048576 bytes) for one file\n  hint: point it at a regular file of at most 1 MiB (1048576 bytes) (a secret, a password), relative to the flow file',
    ]);
  });

  it('refuses a TLS file that is /dev/zero or over 1 MiB', () => {
    const dir = folder('tls', {
      'plant.yaml': 'connections:\n  plant:\n    url: mqtts://127.0.0.1:8883\n    tls:\n      ca: /dev/zero\n  other:\n    url: mqtts://127.0.0.1:8884\n    tls:\n      ca: certs.pem\n',
      'certs.pem': 'x'.repeat(MiB + 1),
    });
    const r = validate(dir);
    const hint = '  hint: name a PEM file (a regular file), relative to the flow file';
    expect(r.text).toEqual([
      `plant.yaml:5:7 error: connections.plant.tls.ca: cannot read "/dev/zero": it is a character device, not a regular file: ${ONLY_REGULAR}\n${hint}`,
      `plant.yaml:9:7 error: connections.other.tls.ca: cannot read "certs.pem": it is 1048577 bytes, over the limit of 1 MiB (1048576 bytes) for one file\n${hint}`,
    ]);
    expect(r.problems.map((p) => p.code)).toEqual(['MQFLOW_TLS_FILE', 'MQFLOW_TLS_FILE']);
  });

  it('refuses a test file linked to /dev/zero (mqflow test)', async () => {
    const flows = join(scratch, 'tests');
    mkdirSync(flows);
    writeFileSync(join(flows, 'plant.yaml'), `${CONNECTION}triggers:\n  in:\n    connection: plant\n    topic: in\n    service: echo\nservices:\n  echo:\n    steps:\n      - publish:\n          topic: out\n`);
    symlinkSync('/dev/zero', join(flows, 'zero.test.yaml'));
    const run = await runFlowTests(flows, { cwd: flows });
    expect(run.problems.map(formatProblem)).toEqual([`zero.test.yaml:1:1 error: cannot read the file: it is a link to /dev/zero, a character device, not a regular file: ${ONLY_REGULAR}\n  hint: make it a regular file (a link must lead to one), or remove it`]);
  });

  it('refuses a simulation file linked to /dev/zero (mqflow dev --simulate)', () => {
    const link = join(scratch, 'simulate.yaml');
    symlinkSync('/dev/zero', link);
    expect(() => startSimulator(link, 'mqtt://127.0.0.1:1', {} as Log)).toThrow(`--simulate: cannot read ${link}: it is a link to /dev/zero, a character device, not a regular file: ${ONLY_REGULAR}`);
  });
});
