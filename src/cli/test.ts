/** `mqflow test [dir]`: runs the flow tests (*.test.yaml) against the compiled flows, in memory. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { processEnvironment, withPlaceholders } from '../flow/interpolate.js';
import { formatProblem } from '../flow/problem.js';
import { junitXml } from '../testing/junit.js';
import { runFlowTests, type TestRun } from '../testing/run-tests.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const testHelp = `Usage: mqflow test [dir] [--format text|junit] [--output FILE] [--grep TEXT]

Runs every test case of the *.test.yaml files under dir (default: flows) against the flows of dir:
the same compiled services and triggers as mqflow run, with publishes captured in memory (no
broker). Prints each case, a diff for each failure, and "N passed, N failed". A \${env:…}
variable that is not set is stood in for by a placeholder, with a warning on stderr. Exit 0 when all
pass, 1 when any fails or a file has a mistake (reported as file:line:col), 2 on a usage error.

Options:
  --format text|junit  text (default), or JUnit XML for CI systems
  --output FILE        write the JUnit XML to FILE (and print the text report)
  --grep TEXT          run only the cases whose name contains TEXT
`;

export async function runTest(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { format: { type: 'string', default: 'text' }, output: { type: 'string' }, grep: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(testHelp);
    return EXIT.ok;
  }
  if (values.format !== 'text' && values.format !== 'junit') throw new UsageError(`--format must be text or junit (got ${values.format})`);
  if (positionals.length > 1) throw new UsageError(`test takes one folder (got ${positionals.length})`);
  const dir = positionals[0] ?? 'flows';
  const startedAt = new Date();
  // Tests connect to nothing: a secret that is not set is stood in for, so CI needs no dummy secrets.
  const placeheld = new Set<string>();
  const environment = withPlaceholders(processEnvironment, (name) => placeheld.add(name));
  const run = await runFlowTests(dir, { cwd: io.cwd, environment, ...(values.grep === undefined ? {} : { only: values.grep }) });
  for (const name of [...placeheld].sort()) io.stderr(`mqflow test: warning: environment variable ${name} is not set; the flows were tested with a placeholder in its place (mqflow run needs it)\n`);
  const failed = run.results.filter((r) => r.mismatches.length > 0).length;
  const ok = failed === 0 && run.problems.length === 0;
  if (values.format === 'junit') {
    const xml = junitXml(run, `mqflow test ${dir}`, startedAt);
    if (values.output === undefined) {
      io.stdout(xml);
      return ok ? EXIT.ok : EXIT.invalid;
    }
    writeFileSync(values.output, xml);
  }
  io.stdout(textReport(run));
  return ok ? EXIT.ok : EXIT.invalid;
}

function textReport(run: TestRun): string {
  const lines: string[] = [];
  for (const p of run.problems) lines.push(formatProblem(p));
  for (const r of run.results) {
    const where = `${r.testCase.file}:${r.testCase.line}`;
    if (r.mismatches.length === 0) {
      lines.push(`✓ ${where} ${r.testCase.name} (${Math.round(r.ms)} ms)`);
      continue;
    }
    lines.push(`✗ ${where} ${r.testCase.name}`);
    for (const block of r.mismatches) for (const line of block) lines.push(`    ${line}`);
  }
  const passed = run.results.length - run.results.filter((r) => r.mismatches.length > 0).length;
  const failed = run.results.length - passed;
  const problems = run.problems.filter((p) => p.severity === 'error').length;
  lines.push(`${passed} passed, ${failed} failed${problems === 0 ? '' : `; ${problems} problem${problems === 1 ? '' : 's'} in flow or test files`}`);
  return `${lines.join('\n')}\n`;
}
