/** JUnit XML for CI systems (Jenkins, GitLab, GitHub Actions reporters): one testsuite per test file. */
import { hostname } from 'node:os';
import type { FlowProblem } from '../flow/problem.js';
import { formatProblem } from '../flow/problem.js';
import type { TestRun } from './run-tests.js';

const escape = (text: string): string =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 cannot carry most control characters, even escaped.
    .replace(CONTROL, '');

// eslint-disable-next-line no-control-regex -- exactly the characters XML 1.0 forbids
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

export function junitXml(run: TestRun, name: string, startedAt: Date): string {
  const timestamp = startedAt.toISOString().slice(0, 19);
  const suites = new Map<string, TestRun['results'][number][]>();
  for (const file of run.files) suites.set(file, []);
  for (const r of run.results) {
    const suite = suites.get(r.testCase.file);
    if (suite === undefined) suites.set(r.testCase.file, [r]);
    else suite.push(r);
  }
  const body: string[] = [];
  let id = 0;
  for (const [file, results] of suites) {
    const failures = results.filter((r) => r.mismatches.length > 0).length;
    const time = results.reduce((t, r) => t + r.ms, 0);
    body.push(`  <testsuite name="${escape(file)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(time)}" timestamp="${timestamp}" hostname="${escape(hostname())}" id="${id++}" package="mqflow">`);
    for (const r of results) {
      const open = `    <testcase name="${escape(r.testCase.name)}" classname="${escape(file)}" time="${seconds(r.ms)}"`;
      if (r.mismatches.length === 0) {
        body.push(`${open}/>`);
        continue;
      }
      const text = [`${file}:${r.testCase.line}`, ...r.mismatches.flat()].join('\n');
      body.push(`${open}>`);
      body.push(`      <failure message="${escape(r.mismatches[0]![0]!)}" type="AssertionError">${escape(text)}</failure>`);
      body.push('    </testcase>');
    }
    body.push('    <system-out/>', '    <system-err/>', '  </testsuite>');
  }
  if (run.problems.length > 0) body.push(problemSuite(run.problems, timestamp, id));
  const tests = run.results.length + (run.problems.length > 0 ? 1 : 0);
  const failures = run.results.filter((r) => r.mismatches.length > 0).length;
  const errors = run.problems.length > 0 ? 1 : 0;
  const time = run.results.reduce((t, r) => t + r.ms, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${escape(name)}" tests="${tests}" failures="${failures}" errors="${errors}" time="${seconds(time)}">\n${body.join('\n')}\n</testsuites>\n`;
}

/** Problems with the flows or the test files, as one errored test case so CI shows them. */
function problemSuite(problems: readonly FlowProblem[], timestamp: string, id: number): string {
  const text = problems.map(formatProblem).join('\n');
  return [
    `  <testsuite name="flow and test files" tests="1" failures="0" errors="1" skipped="0" time="0.000" timestamp="${timestamp}" hostname="${escape(hostname())}" id="${id}" package="mqflow">`,
    `    <testcase name="files load and validate" classname="flow and test files" time="0.000">`,
    `      <error message="${escape(formatProblem(problems[0]!).split('\n')[0]!)}" type="InvalidFile">${escape(text)}</error>`,
    '    </testcase>',
    '    <system-out/>',
    '    <system-err/>',
    '  </testsuite>',
  ].join('\n');
}
