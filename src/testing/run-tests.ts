/** `mqflow test`: builds the flow folder once, loads its test files, runs every case in memory. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createJsonataEngine } from '../expr/jsonata-engine.js';
import { buildFlowFolder } from '../flow/build.js';
import type { InterpolationEnvironment } from '../flow/interpolate.js';
import { ProblemList, type FlowProblem } from '../flow/problem.js';
import { mismatches } from './expect.js';
import { fixedFunctions, type FixedValues } from './fixed.js';
import { runCase } from './harness.js';
import { loadTestFile, type TestCase } from './test-file.js';

export interface CaseResult {
  readonly testCase: TestCase;
  /** Empty when the case passed; each entry is one mismatch, as lines to print. */
  readonly mismatches: readonly (readonly string[])[];
  readonly ms: number;
}

export interface TestRun {
  /** Problems with the flow folder or the test files (file:line:col); any error fails the run. */
  readonly problems: readonly FlowProblem[];
  readonly files: readonly string[];
  readonly results: readonly CaseResult[];
}

const TEST_FILE = /\.test\.ya?ml$/i;

/** The test files under `dir`, skipping what discoverFlowFiles skips (hidden entries, node_modules). */
export function discoverTestFiles(dir: string): string[] {
  const found: string[] = [];
  const visit = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith('.')) continue;
      const full = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') visit(full);
      } else if (TEST_FILE.test(entry.name)) found.push(full);
    }
  };
  visit(dir);
  return found;
}

export async function runFlowTests(dir: string, options: { cwd: string; only?: string; environment?: InterpolationEnvironment }): Promise<TestRun> {
  const fixed = { current: {} as FixedValues };
  // One engine for the whole run: $now, $millis and $random read the case's fixed values.
  const engine = createJsonataEngine({ timeoutMs: 1000, maxDepth: 500, functions: fixedFunctions(fixed) });
  const build = buildFlowFolder(dir, { cwd: options.cwd, engine, ...(options.environment === undefined ? {} : { environment: options.environment }) });
  if (build.model === undefined) return { problems: build.problems.filter((p) => p.severity === 'error'), files: [], results: [] };
  const model = build.model;
  const problems = new ProblemList();
  const paths = discoverTestFiles(resolve(options.cwd, dir));
  if (paths.length === 0) {
    problems.add({ severity: 'error', code: 'MQFLOW_NO_TESTS', file: dir, line: 1, column: 1, path: '', message: 'no test files (*.test.yaml) in this folder', hint: 'write tests beside the flows: see docs/testing.md' });
  }
  const files = paths.map((path) => loadTestFile(path, model, problems, options.cwd));
  const results: CaseResult[] = [];
  for (const file of files) {
    for (const testCase of file?.cases ?? []) {
      if (options.only !== undefined && !testCase.name.includes(options.only)) continue;
      fixed.current = testCase.fixed;
      const started = performance.now();
      let found: string[][];
      try {
        // With fixed.now or messages at given times, $now() and $millis() follow the case's clock.
        const timed = testCase.fixed.now !== undefined || testCase.messages.some((m) => m.atMs !== undefined);
        found = mismatches(testCase.expect, await runCase(model, testCase, timed ? (now) => (fixed.current = { ...testCase.fixed, clock: now }) : undefined));
      } catch (error) {
        found = [[`the test could not run: ${(error as Error).message}`]];
      }
      results.push({ testCase, mismatches: found, ms: performance.now() - started });
    }
  }
  fixed.current = {};
  return { problems: problems.sorted(), files: files.flatMap((f) => (f === undefined ? [] : [f.source.displayPath])), results };
}
