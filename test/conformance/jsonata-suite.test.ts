/**
 * Runs every case of the official JSONata test suite through mqflow's expression engine and
 * reports how many ran compiled and how many fell back to jsonata's evaluator (and why).
 *
 * The suite is data from jsonata-js/jsonata (test/test-suite at v2.2.2), kept outside the
 * repository: MQFLOW_JSONATA_SUITE names its folder, else ../shared/jsonata-test-suite beside the
 * clone is used (README.md, "The JSONata conformance suite").
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createJsonataEngine } from '../../src/expr/jsonata-engine.js';
import { checkCase, loadSuite, PROJECT_ROOT, suiteFolder, type CaseOutcome, type EngineFactory, type SuiteEntry } from '../support/jsonata-suite.js';

const fromEnv = process.env.MQFLOW_JSONATA_SUITE;
const folder = fromEnv === undefined || fromEnv === '' ? suiteFolder() : path.resolve(fromEnv);
const REPORT_FILE = path.join(PROJECT_ROOT, 'test-results', 'jsonata-suite.json');

if (!existsSync(path.join(folder, 'groups'))) {
  const message = `JSONata conformance suite not found at ${folder}: set MQFLOW_JSONATA_SUITE to the test/test-suite folder of jsonata-js/jsonata v2.2.2 (README.md)`;
  if (process.env.CI === 'true') {
    // Under CI a missing suite must not turn the conformance check into a silent no-op.
    describe('JSONata test suite', () => {
      it('is present', () => {
        expect.fail(message);
      });
    });
  } else {
    // A skipped test, named for what is missing, so the run's summary counts it (and .ci/run names it).
    console.warn(`${message}; skipping the conformance tests`);
    it.skip(message, () => {});
  }
} else {
  const entries = loadSuite(folder);
  // One shared engine caches compiled expressions by source; bounded cases need their own.
  // JSONata allows a range of 10,000,000 items (two cases count one); mqflow's default is 1,000,000
  // (--expression-max-sequence, docs/architecture.md invariant 28). The suite runs with JSONata's.
  const build = { maxSequence: 10_000_000, maxString: 10_000_000 };
  const defaultEngine = createJsonataEngine({ build });
  const engineFor: EngineFactory = (bounds) => (bounds === undefined ? defaultEngine : createJsonataEngine({ ...bounds, build }));
  const results: { name: string; outcome: CaseOutcome }[] = [];

  describe('JSONata test suite', () => {
    it('loads every case in the suite', () => {
      expect(entries.length).toBe(countCasesOnDisk(folder));
      expect(entries.length).toBeGreaterThan(1000);
    });

    for (const entry of entries) {
      const name = caseName(entry);
      it(name, async () => {
        const outcome = await checkCase(engineFor, entry);
        results.push({ name, outcome });
        expect(outcome.outcome, outcome.detail).toBe('pass');
      });
    }

    afterAll(() => {
      const report = summarize(entries.length, results);
      console.log(formatReport(report));
      mkdirSync(path.dirname(REPORT_FILE), { recursive: true });
      writeFileSync(REPORT_FILE, `${JSON.stringify(report, null, 2)}\n`);
    });
  });
}

function caseName(entry: SuiteEntry): string {
  const where = `${entry.group}/${entry.file}${entry.index === undefined ? '' : `#${entry.index}`}`;
  const expr = entry.case.expr.replace(/\s+/g, ' ').trim();
  return `${where}: ${expr.length > 80 ? `${expr.slice(0, 79)}…` : expr}`;
}

/** Counted straight from the files, independently of the loader, so a loader that drops cases fails. */
function countCasesOnDisk(suite: string): number {
  const groups = path.join(suite, 'groups');
  let count = 0;
  for (const group of readdirSync(groups).filter((name) => !name.endsWith('.json'))) {
    for (const file of readdirSync(path.join(groups, group)).filter((name) => name.endsWith('.json'))) {
      const spec = JSON.parse(readFileSync(path.join(groups, group, file), 'utf8')) as unknown;
      count += Array.isArray(spec) ? spec.length : 1;
    }
  }
  return count;
}

interface Report {
  readonly suite: string;
  readonly cases: number;
  readonly ran: number;
  readonly compiled: number;
  readonly interpreted: number;
  readonly rejectedAtParse: number;
  readonly failed: number;
  readonly fallbackReasons: readonly { readonly reason: string; readonly count: number }[];
  readonly failures: readonly { readonly name: string; readonly mode: string; readonly detail: string }[];
  readonly results: readonly { readonly name: string; readonly mode: string; readonly outcome: string; readonly reason?: string }[];
}

function summarize(total: number, ran: readonly { name: string; outcome: CaseOutcome }[]): Report {
  const reasons = new Map<string, number>();
  for (const { outcome } of ran) {
    if (outcome.mode === 'interpreted') reasons.set(outcome.reason ?? 'unknown', (reasons.get(outcome.reason ?? 'unknown') ?? 0) + 1);
  }
  const modeCount = (mode: CaseOutcome['mode']): number => ran.filter((r) => r.outcome.mode === mode).length;
  const failures = ran.filter((r) => r.outcome.outcome === 'fail');
  return {
    suite: folder,
    cases: total,
    ran: ran.length,
    compiled: modeCount('compiled'),
    interpreted: modeCount('interpreted'),
    rejectedAtParse: modeCount('syntax-error'),
    failed: failures.length,
    fallbackReasons: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    failures: failures.map((r) => ({ name: r.name, mode: r.outcome.mode, detail: r.outcome.detail ?? '' })),
    results: ran.map((r) => ({ name: r.name, mode: r.outcome.mode, outcome: r.outcome.outcome, ...(r.outcome.reason === undefined ? {} : { reason: r.outcome.reason }) })),
  };
}

function formatReport(report: Report): string {
  // A filtered run (vitest -t) checks only some cases: say so rather than report a partial count as the whole.
  const ran = report.ran === report.cases ? `${report.cases} cases` : `${report.ran} of ${report.cases} cases`;
  const lines = [
    `JSONata test suite: ${ran}, ${report.compiled} compiled, ${report.interpreted} interpreted (fallback), ${report.rejectedAtParse} rejected at parse, ${report.failed} failed`,
  ];
  const top = report.fallbackReasons.slice(0, 10);
  if (top.length > 0) lines.push('Top fallback reasons:', ...top.map(({ reason, count }) => `  ${String(count).padStart(5)}  ${reason}`));
  lines.push(`Report: ${path.relative(PROJECT_ROOT, REPORT_FILE)}`);
  return lines.join('\n');
}
