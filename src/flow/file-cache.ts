/**
 * Per-file results of load and schema check, kept between reloads: a file whose size, inode and
 * modification time (ns) are unchanged is not read or parsed again, and its problems are replayed.
 * A file using `${file:…}` is always re-read, since the file it names may have changed. Compile
 * reuses the triggers and services of reused files (see DefinitionCache). Reused or read, every
 * file counts against the folder's read total (MAX_FOLDER_BYTES).
 */
import { statSync } from 'node:fs';
import { ReadBudget } from '../util/bounded-read.js';
import type { DefinitionCache } from './compile.js';
import type { InterpolationEnvironment } from './interpolate.js';
import { readFlowFile, type LoadedFile } from './load.js';
import { ProblemList, type FlowProblem } from './problem.js';
import { checkSchema, type SchemaCheck } from './schema-check.js';

interface Entry {
  readonly stamp: string;
  readonly loaded: LoadedFile;
  readonly checked: SchemaCheck | undefined;
  readonly problems: readonly FlowProblem[];
  readonly reusable: boolean;
  /** What reading it counted against the folder's total (ReadBudget). */
  readonly bytes: number;
}

export interface CachedFile {
  readonly loaded: LoadedFile;
  /** Undefined when the file could not be parsed. */
  readonly checked: SchemaCheck | undefined;
}

export class FlowFileCache {
  #entries = new Map<string, Entry>();
  /** Compiled triggers and services of the files above, reused while a file's LoadedFile is. */
  readonly definitions: DefinitionCache = new WeakMap();
  /** Files read (not reused) by the last build, for logs and the reload benchmark. */
  lastRead = 0;

  /** Loads and schema-checks every path (reusing unchanged files); forgets files no longer listed. */
  loadAll(paths: readonly string[], environment: InterpolationEnvironment, problems: ProblemList, cwd: string | undefined): CachedFile[] {
    const entries = new Map<string, Entry>();
    this.lastRead = 0;
    // A reused file counts against the folder's total as if it were read again.
    const budget = new ReadBudget();
    const out = paths.map((path) => {
      const stamp = stampOf(path);
      let entry = this.#entries.get(path);
      if (entry === undefined || !entry.reusable || stamp === undefined || entry.stamp !== stamp || !budget.take(entry.bytes)) {
        entry = this.#read(path, stamp, environment, cwd, budget);
        this.lastRead++;
      }
      entries.set(path, entry);
      for (const problem of entry.problems) problems.add(problem);
      return { loaded: entry.loaded, checked: entry.checked };
    });
    this.#entries = entries;
    return out;
  }

  #read(path: string, stamp: string | undefined, environment: InterpolationEnvironment, cwd: string | undefined, budget: ReadBudget): Entry {
    const own = new ProblemList();
    const before = budget.used;
    const loaded = readFlowFile(path, environment, own, cwd, budget);
    const checked = loaded.data === undefined ? undefined : checkSchema(loaded, own);
    // Refused for the folder's total, a file may be read next time though it has not changed.
    const reusable = stamp !== undefined && !loaded.source.text.includes('${file:') && !budget.exhausted;
    return { stamp: stamp ?? '', loaded, checked, problems: own.all(), reusable, bytes: budget.used - before };
  }
}

function stampOf(path: string): string | undefined {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return undefined;
  }
}
