/**
 * Loader benchmark: how long `buildFlowFolder` (load → schema check → compile) takes on a
 * generated folder of 1,000 flow files with 1,000 triggers, 1,000 services and several thousand
 * JSONata expressions. Target (issue): under 2 s on the benchmark machine.
 *
 * Measures, on the realistic folder (see _flows.js):
 *   cold  – a fresh `node` process: from process start to the result, module loading included
 *           (what `mqflow validate` costs the first time); 5 processes. Also on a second folder
 *           sized exactly as the issue states (two expressions per service, 2,000 in all).
 *   warm  – in this process, after one warm-up run: 5 runs.
 *   cli   – `node bin/mqflow.js validate <dir>`, timed from outside (spawn to exit); 3 runs.
 *   stages – one cold and five warm runs of the same pipeline split into discover, read, parse
 *           (YAML + ${…}), schema (ajv), compile (of which JSONata compile calls).
 * Every run checks that the folder built without errors and with the expected counts, and throws
 * otherwise. Results go to bench/results/loader.json.
 *
 *   npm run bench -- --only loader     or     node bench/loader.js (after npm run build)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const name = 'loader';
export const description = 'buildFlowFolder on 1,000 generated flow files (1,000 triggers)';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = new URL('../dist/', import.meta.url);
const RESULTS = join(ROOT, 'bench', 'results', 'loader.json');

const LAYOUT = { sites: 10, filesPerSite: 100 };
const EXPECTED = { files: 1000, connections: 1, triggers: 1000, services: 1000 };
const MIN_EXPRESSIONS = 2000;
const TARGET_MS = 2000;
const COLD_RUNS = 5;
const WARM_RUNS = 5;
const CLI_RUNS = 3;

/** Throws unless `result` is an error-free build of the expected folder. */
export function checkResult(result, label) {
  const s = result.summary;
  const wrong = [];
  if (s.errors !== 0) wrong.push(`${s.errors} errors`);
  if (result.model === undefined) wrong.push('no model');
  for (const [key, expected] of Object.entries(EXPECTED)) if (s[key] !== expected) wrong.push(`${key} ${s[key]} (expected ${expected})`);
  if (result.model !== undefined && result.model.triggers.size !== EXPECTED.triggers) wrong.push(`model has ${result.model.triggers.size} triggers`);
  if (result.model !== undefined && result.model.services.size !== EXPECTED.services) wrong.push(`model has ${result.model.services.size} services`);
  if (wrong.length > 0) {
    const problems = (result.problems ?? []).slice(0, 5).map((p) => `\n  ${p.file}:${p.line}:${p.column} ${p.message}`).join('');
    throw new Error(`${label}: the flow folder did not build as expected: ${wrong.join(', ')}${problems}`);
  }
}

const sortedCopy = (values) => [...values].sort((a, b) => a - b);
function median(values) {
  const s = sortedCopy(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
function stats(values) {
  const s = sortedCopy(values);
  return { runs: values.map(round), median: round(median(values)), min: round(s[0]), max: round(s[s.length - 1]) };
}
const round = (ms) => Math.round(ms * 10) / 10;

/**
 * Runs the pipeline of buildFlowFolder stage by stage (the same calls, in the same order) and
 * times each stage. JSONata compile time is measured by wrapping the engine.
 */
export async function measureStages(dir) {
  const { discoverFlowFiles, parseFlowFile, displayPath } = await import(new URL('flow/load.js', DIST).href);
  const { checkSchema } = await import(new URL('flow/schema-check.js', DIST).href);
  const { compileFlow } = await import(new URL('flow/compile.js', DIST).href);
  const { ProblemList } = await import(new URL('flow/problem.js', DIST).href);
  const { processEnvironment } = await import(new URL('flow/interpolate.js', DIST).href);
  const { createJsonataEngine } = await import(new URL('expr/jsonata-engine.js', DIST).href);

  const inner = createJsonataEngine();
  let jsonataMs = 0;
  let jsonataCalls = 0;
  const jsonataSources = new Set();
  const engine = {
    name: inner.name,
    compile(source) {
      const t = performance.now();
      try {
        return inner.compile(source);
      } finally {
        jsonataMs += performance.now() - t;
        jsonataCalls += 1;
        jsonataSources.add(source);
      }
    },
  };

  const t0 = performance.now();
  const problems = new ProblemList();
  const paths = discoverFlowFiles(dir);
  const t1 = performance.now();
  const texts = paths.map((p) => readFileSync(p, 'utf8'));
  const t2 = performance.now();
  const loaded = paths.map((p, i) => parseFlowFile(p, displayPath(p), texts[i], processEnvironment, problems));
  const t3 = performance.now();
  const checked = [];
  for (const file of loaded) if (file.data !== undefined) checked.push({ file, ...checkSchema(file, problems) });
  const t4 = performance.now();
  const model = compileFlow(checked, { engine, readFile: processEnvironment.readFile }, problems);
  const t5 = performance.now();
  if (model === undefined || problems.errorCount > 0) throw new Error(`stages: ${problems.errorCount} errors`);
  if (model.triggers.size !== EXPECTED.triggers || model.services.size !== EXPECTED.services) throw new Error('stages: unexpected counts');
  return {
    discover: t1 - t0,
    read: t2 - t1,
    parse: t3 - t2,
    schema: t4 - t3,
    compile: t5 - t4,
    jsonata: jsonataMs,
    jsonataCalls,
    jsonataUniqueSources: jsonataSources.size,
    total: t5 - t0,
  };
}

/** A fresh process that imports buildFlowFolder and builds `dir`; performance.now() counts from process start. */
const COLD_SCRIPT = `
const start = performance.now();
const { buildFlowFolder } = await import(process.argv[1]);
const imported = performance.now();
const result = buildFlowFolder(process.argv[2]);
const done = performance.now();
process.stdout.write(JSON.stringify({
  bootMs: start, importMs: imported - start, buildMs: done - imported, totalMs: done,
  maxRssMb: process.resourceUsage().maxRSS / 1024,
  userMs: process.resourceUsage().userCPUTime / 1000, systemMs: process.resourceUsage().systemCPUTime / 1000,
  minorPageFaults: process.resourceUsage().minorPageFault,
  summary: result.summary, problems: result.problems.slice(0, 5),
  modelTriggers: result.model?.triggers.size, modelServices: result.model?.services.size,
}));
`;

const COLD_STAGES_SCRIPT = `
const { measureStages } = await import(process.argv[1]);
process.stdout.write(JSON.stringify(await measureStages(process.argv[2])));
`;

function runNode(args, label) {
  const started = performance.now();
  const child = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wallMs = performance.now() - started;
  if (child.status !== 0) throw new Error(`${label}: exit ${child.status ?? child.signal}\n${child.stderr}${child.stdout}`);
  return { stdout: child.stdout, wallMs };
}

function coldRun(dir) {
  const { stdout, wallMs } = runNode(['--input-type=module', '-e', COLD_SCRIPT, new URL('flow/build.js', DIST).href, dir], 'cold run');
  const out = JSON.parse(stdout);
  const model = out.modelTriggers === undefined ? undefined : { triggers: { size: out.modelTriggers }, services: { size: out.modelServices } };
  checkResult({ summary: out.summary, problems: out.problems, model }, 'cold run');
  return { ...out, wallMs };
}

function cliRun(dir) {
  const { stdout, wallMs } = runNode([join(ROOT, 'bin', 'mqflow.js'), 'validate', dir], 'cli run');
  const want = `${EXPECTED.files} files, ${EXPECTED.connections} connection, ${EXPECTED.triggers} triggers, ${EXPECTED.services} services: 0 errors`;
  if (!stdout.includes(want) || !stdout.includes('(valid)')) throw new Error(`cli run: unexpected output: ${stdout}`);
  return wallMs;
}

export function machine() {
  const cpuModel = (() => {
    try {
      return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
    } catch {
      return cpus()[0]?.model;
    }
  })();
  return { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: availableParallelism(), cpuModel, memoryGb: Math.round(totalmem() / 2 ** 30) };
}

/** The commit measured, and whether src/ had uncommitted changes (dist/ is built from the working tree). */
export function codeVersion() {
  const git = (...args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  const status = git('status', '--porcelain', '--', 'src');
  return head.status === 0 ? { commit: head.stdout.trim(), srcModified: status.stdout.trim() !== '' } : { commit: 'unknown', srcModified: false };
}

const ms = (x) => `${Math.round(x)} ms`;

/**
 * Runs the benchmark. Returns rows for run.js's table; throws when a run does not build the
 * folder as expected.
 */
export async function run({ log = console.log } = {}) {
  const { generateFlowFolder } = await import('./_flows.js');
  const { buildFlowFolder } = await import(new URL('flow/build.js', DIST).href);
  const root = mkdtempSync(join(tmpdir(), 'mqflow-bench-loader-'));
  const dir = join(root, 'realistic');
  const issueDir = join(root, 'issue-size');
  const loadBefore = loadavg()[0];
  const code = codeVersion();
  try {
    mkdirSync(dir);
    mkdirSync(issueDir);
    const folder = generateFlowFolder(dir, LAYOUT);
    const issueFolder = generateFlowFolder(issueDir, { ...LAYOUT, minimal: true });
    for (const made of [folder, issueFolder]) {
      for (const [key, expected] of Object.entries(EXPECTED)) if (made[key] !== expected) throw new Error(`generator made ${made[key]} ${key}, expected ${expected}`);
      if (made.expressions < MIN_EXPRESSIONS) throw new Error(`generator made ${made.expressions} expressions, expected at least ${MIN_EXPRESSIONS}`);
    }
    log(`loader: generated ${folder.files} files in ${LAYOUT.sites} site folders (${(folder.bytes / 1024).toFixed(0)} KiB, ${folder.lines} lines): ${folder.connections} connection, ${folder.triggers} triggers, ${folder.services} services, ${folder.expressions} JSONata expressions`);
    log(`loader: expressions per file by shape: ${Object.entries(folder.shapes).map(([k, v]) => `${k} ${v.expressionsPerFile} ×${v.files}`).join(', ')}`);
    log(`loader: also the issue-size folder: ${issueFolder.files} files (${(issueFolder.bytes / 1024).toFixed(0)} KiB), ${issueFolder.triggers} triggers, ${issueFolder.expressions} expressions (filter + transform per service), cold runs only`);

    const cold = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      cold.push(coldRun(dir));
      log(`loader: cold ${i + 1}/${COLD_RUNS}: ${ms(cold[i].totalMs)} (boot ${ms(cold[i].bootMs)}, import ${ms(cold[i].importMs)}, build ${ms(cold[i].buildMs)})`);
    }

    const issueCold = [];
    for (let i = 0; i < COLD_RUNS; i++) issueCold.push(coldRun(issueDir));
    log(`loader: cold, issue-size folder: ${issueCold.map((c) => ms(c.totalMs)).join(', ')}`);

    checkResult(buildFlowFolder(dir), 'warm-up run');
    const warm = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      const t = performance.now();
      const result = buildFlowFolder(dir);
      warm.push(performance.now() - t);
      checkResult(result, `warm run ${i + 1}`);
    }
    log(`loader: warm: ${warm.map(ms).join(', ')}`);

    const cli = [];
    for (let i = 0; i < CLI_RUNS; i++) cli.push(cliRun(dir));
    log(`loader: cli: ${cli.map(ms).join(', ')}`);

    const coldStages = JSON.parse(runNode(['--input-type=module', '-e', COLD_STAGES_SCRIPT, import.meta.url, dir], 'cold stages').stdout);
    const warmStageRuns = [];
    for (let i = 0; i < WARM_RUNS; i++) warmStageRuns.push(await measureStages(dir));
    const stageNames = ['discover', 'read', 'parse', 'schema', 'compile', 'jsonata', 'total'];
    const warmStages = Object.fromEntries(stageNames.map((k) => [k, round(median(warmStageRuns.map((r) => r[k])))]));
    const stages = {
      cold: Object.fromEntries(stageNames.map((k) => [k, round(coldStages[k])])),
      warmMedian: warmStages,
      jsonataCompileCalls: coldStages.jsonataCalls,
      jsonataUniqueSources: coldStages.jsonataUniqueSources,
    };
    log(`loader: JSONata compile calls per build: ${stages.jsonataCompileCalls} for ${folder.expressions} expressions (${stages.jsonataUniqueSources} distinct sources)`);

    const results = {
      benchmark: name,
      date: new Date().toISOString(),
      machine: machine(),
      code,
      // Other work on the machine inflates wall-clock times; the 1-minute load average before and after shows it.
      loadAverage: { before: round(loadBefore), after: round(loadavg()[0]) },
      workload: { ...LAYOUT, ...folder },
      target: {
        ms: TARGET_MS,
        judgedOn: 'cold median',
        met: median(cold.map((c) => c.totalMs)) < TARGET_MS,
        issueSizeMet: median(issueCold.map((c) => c.totalMs)) < TARGET_MS,
      },
      cold: {
        totalMs: stats(cold.map((c) => c.totalMs)),
        bootMs: stats(cold.map((c) => c.bootMs)),
        importMs: stats(cold.map((c) => c.importMs)),
        buildMs: stats(cold.map((c) => c.buildMs)),
        wallMs: stats(cold.map((c) => c.wallMs)),
        maxRssMb: stats(cold.map((c) => c.maxRssMb)),
        userCpuMs: stats(cold.map((c) => c.userMs)),
        systemCpuMs: stats(cold.map((c) => c.systemMs)),
        minorPageFaults: stats(cold.map((c) => c.minorPageFaults)),
      },
      issueSize: {
        workload: { ...LAYOUT, ...issueFolder },
        cold: { totalMs: stats(issueCold.map((c) => c.totalMs)), buildMs: stats(issueCold.map((c) => c.buildMs)), maxRssMb: stats(issueCold.map((c) => c.maxRssMb)) },
      },
      warmMs: stats(warm),
      cliMs: stats(cli),
      stages,
    };
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

    const row = (metric, s, note = '') => ({ metric, median: s.median, min: s.min, max: s.max, runs: s.runs.length, unit: 'ms', note });
    const stageNote = (s) => `discover ${Math.round(s.discover)}, read ${Math.round(s.read)}, parse ${Math.round(s.parse)}, schema ${Math.round(s.schema)}, compile ${Math.round(s.compile)} (jsonata ${Math.round(s.jsonata)})`;
    const verdict = results.target.met ? 'met' : 'NOT met';
    return {
      rows: [
        row('cold: process start → result', results.cold.totalMs, `target < ${TARGET_MS} ms: ${verdict}`),
        row('  of which node boot', results.cold.bootMs),
        row('  of which module import', results.cold.importMs),
        row('  of which buildFlowFolder', results.cold.buildMs),
        row('  CPU time, user', results.cold.userCpuMs, 'all threads (GC runs in parallel)'),
        row('  CPU time, system', results.cold.systemCpuMs, `${Math.round(results.cold.minorPageFaults.median)} page faults, peak RSS ${Math.round(results.cold.maxRssMb.median)} MB`),
        row(`cold, issue-size folder (${issueFolder.expressions} expr.)`, results.issueSize.cold.totalMs, `target < ${TARGET_MS} ms: ${results.target.issueSizeMet ? 'met' : 'NOT met'}`),
        row('warm: buildFlowFolder (in-process)', results.warmMs, `after 1 warm-up; target: ${results.warmMs.median < TARGET_MS ? 'met' : 'NOT met'}`),
        row('cli: mqflow validate (spawn → exit)', results.cliMs),
        { metric: 'stages, cold (1 run)', median: round(stages.cold.total), unit: 'ms', note: stageNote(stages.cold) },
        { metric: 'stages, warm (median of 5)', median: round(stages.warmMedian.total), unit: 'ms', note: stageNote(stages.warmMedian) },
      ],
      summary: [
        `workload: ${folder.files} files, ${folder.triggers} triggers, ${folder.services} services, ${folder.expressions} JSONata expressions (${stages.jsonataCompileCalls} engine.compile calls, ${stages.jsonataUniqueSources} distinct sources)`,
        `code: commit ${results.code.commit}${results.code.srcModified ? ' with uncommitted changes in src/' : ''}`,
        `target: < ${TARGET_MS} ms cold: realistic folder (median ${Math.round(results.cold.totalMs.median)} ms) ${verdict}; issue-size folder, ${issueFolder.expressions} expressions (median ${Math.round(results.issueSize.cold.totalMs.median)} ms) ${results.target.issueSizeMet ? 'met' : 'NOT met'}`,
        `1-minute load average on ${results.machine.cpus} CPUs: ${results.loadAverage.before} before the runs, ${results.loadAverage.after} after (which includes the benchmark itself); other work inflates wall-clock times`,
        `results written to ${RESULTS}`,
      ],
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { printResults } = await import('./run.js');
  try {
    printResults([{ name, ...(await run()) }]);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
