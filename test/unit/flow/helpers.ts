/** Builds a flow model from in-memory files, without touching the disk. */
import { createJsonataEngine } from '../../../src/expr/jsonata-engine.js';
import { buildFromFiles, type BuildResult } from '../../../src/flow/build.js';
import { parseFlowFile } from '../../../src/flow/load.js';
import { formatProblem, ProblemList } from '../../../src/flow/problem.js';

export interface MemoryFolder {
  readonly files: Record<string, string>;
  readonly env?: Record<string, string>;
  /** Other files flows may read (TLS certificates, ${file:…}), by absolute path under /flows. */
  readonly extra?: Record<string, string>;
}

export function buildMemory(folder: MemoryFolder): BuildResult & { text: string[] } {
  const problems = new ProblemList();
  const readFile = (path: string): string => {
    const content = folder.extra?.[path];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return content;
  };
  const environment = { env: folder.env ?? {}, readFile };
  const loaded = Object.entries(folder.files).map(([name, text]) => parseFlowFile(`/flows/${name}`, name, text, environment, problems));
  const result = buildFromFiles(loaded, problems, { engine: createJsonataEngine(), readFile });
  return { ...result, text: result.problems.map(formatProblem) };
}
