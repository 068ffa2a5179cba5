/**
 * Every output README.md shows is what the command prints. A sample is a ```sh block of one
 * command followed directly by an output block (``` or ```mermaid); each has a check here, in the
 * README's order, so a new sample without one fails. The checks run the built CLI (as `npm test`
 * does after building) and change only what differs from run to run: times, random readings and
 * the ports the test takes instead of 1883 and 9464.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mqflow, repoRoot } from '../support/cli.js';
import { freePort } from '../support/ports.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const scratch = mkdtempSync(join(tmpdir(), 'mqflow-readme-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Sample {
  readonly command: string;
  readonly output: string;
}

/** Each ```sh block of one command that is followed, with only blank lines between, by an output block. */
function samples(markdown: string): Sample[] {
  const found: Sample[] = [];
  const fence = /```([a-z]*)\n([\s\S]*?)```\n/g;
  let previous: { lang: string; body: string; end: number } | undefined;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) {
    const block = { lang: m[1]!, body: m[2]!, end: m.index + m[0].length };
    const adjacent = previous !== undefined && markdown.slice(previous.end, m.index).trim() === '';
    if (adjacent && previous!.lang === 'sh' && (block.lang === '' || block.lang === 'mermaid')) {
      found.push({ command: previous!.body.trim(), output: block.body });
    }
    previous = block;
  }
  return found;
}

/** Runs a README command (`npx mqflow …` is the built CLI) in `cwd` and returns what it printed. */
function printed(command: string, cwd = repoRoot): string {
  const args = command.replace(/^npx mqflow /, '').split(' ');
  const r = mqflow(args, { cwd });
  // Samples show a terminal: stdout and stderr together (the commands sampled print to one of them).
  return r.stdout + r.stderr;
}

const stripColour = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex

/**
 * What differs between two runs of `mqflow dev --simulate`: the times, the random readings, and
 * the commit the clone is at (and whether it has uncommitted changes), or none.
 */
function steady(line: string): string {
  return line
    .replace(/^\[\d\d:\d\d:\d\d\.\d{3}\]/, '[time]')
    .replace(/"(temp_f|bar|ts)":\d+(\.\d+)?/g, '"$1":N')
    // Outside a git work tree (an unpacked archive) there is none: compared without it.
    .replace(/ \(commit [0-9a-f]{12}( with uncommitted changes)?\)/, '')
    .replace(/,"revision":"[0-9a-f]{40,64}","dirty":(true|false)/, '');
}

/** Whether the sample's lines (without its `…` lines) occur in `output`, in order. */
function excerptOf(sample: string, output: string): { ok: boolean; missing?: string } {
  const lines = output.split('\n').map(steady);
  let at = 0;
  for (const wanted of sample.split('\n').filter((l) => l !== '' && l !== '…').map(steady)) {
    const found = lines.indexOf(wanted, at);
    if (found === -1) return { ok: false, missing: wanted };
    at = found + 1;
  }
  return { ok: true };
}

/** Runs `mqflow dev` until its output holds the sample as an excerpt (or 30 s pass), then stops it with SIGINT. */
async function devOutput(command: string, sample: string): Promise<string> {
  const [port, admin] = [await freePort(), await freePort()];
  const args = [...command.replace(/^npx mqflow /, '').split(' '), '--port', String(port), '--admin', `127.0.0.1:${admin}`];
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'mqflow.js'), ...args], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let raw = '';
  child.stdout.on('data', (d: Buffer) => (raw += d.toString()));
  child.stderr.on('data', (d: Buffer) => (raw += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The README shows the default ports, 1883 and 9464.
  const output = (): string =>
    stripColour(raw).replaceAll(`127.0.0.1:${port}`, '127.0.0.1:1883').replaceAll(`"port":${port}`, '"port":1883').replaceAll(`127.0.0.1:${admin}`, '127.0.0.1:9464');
  const deadline = Date.now() + 30_000;
  while (!excerptOf(sample, output()).ok && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGINT');
  await exited;
  return output();
}

/** The edits the README describes before its sample of a flow folder with mistakes. */
function folderWithMistakes(): string {
  const dir = join(scratch, 'mistakes');
  cpSync(join(repoRoot, 'flows'), join(dir, 'flows'), { recursive: true });
  const edit = (file: string, from: RegExp, to: string): void => {
    const path = join(dir, 'flows', file);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(from);
    writeFileSync(path, text.replace(from, to));
  };
  edit('temperature.yaml', /^( {4})qos: 1$/m, '$1qos: 3');
  edit('batches.yaml', /^( {4})service: split-batch$/m, '$1service: split-batches');
  return dir;
}

const checks: { command: string; check: (sample: Sample) => void | Promise<void> }[] = [
  {
    command: 'npx mqflow dev flows/ --simulate examples/sensors.yaml',
    check: async ({ command, output }) => {
      const out = await devOutput(command, output);
      const result = excerptOf(output, out);
      expect(result.ok, `README line not printed (in this order) by ${command}:\n${result.missing}\n\nprinted:\n${out}`).toBe(true);
    },
  },
  { command: 'npx mqflow validate flows/', check: ({ command, output }) => expect(printed(command)).toBe(output) },
  {
    command: 'npx mqflow validate flows/',
    check: ({ command, output }) => {
      expect(readme).toContain('`qos: 3`');
      expect(readme).toContain('`service: split-batches`');
      expect(printed(command, folderWithMistakes())).toBe(output);
    },
  },
  { command: 'npx mqflow graph flows/', check: ({ command, output }) => expect(printed(command)).toBe(output) },
];

describe('README.md samples', () => {
  const found = samples(readme);

  it('has a check for every sample output, in order', () => {
    expect(found.map((s) => s.command)).toEqual(checks.map((c) => c.command));
  });

  found.forEach((sample, i) => {
    const check = checks[i];
    if (check === undefined || check.command !== sample.command) return;
    it(`shows what \`${sample.command}\` prints (sample ${i + 1})`, () => check.check(sample), 60_000);
  });

  it('names the tarball npm pack writes for this version', () => {
    expect(readme).toContain(`npm pack                              # in the clone: writes mqflow-${version}.tgz`);
    expect(readme).toContain(`npm install -g ./mqflow-${version}.tgz`);
  });
});
