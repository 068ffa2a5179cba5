/**
 * Watches a flow folder (chokidar) and reports changes in debounced batches: an editor's atomic
 * save (write a temporary file, rename it over the original), a `git checkout` touching many
 * files, or a folder renamed, each become one batch. Only what discoverFlowFiles would read
 * counts: flow files and the .proto files codecs read, in folders that are not hidden and not
 * node_modules.
 */
import { basename, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isFlowFileName } from './load.js';

export interface FlowWatcher {
  /** Resolves once the initial scan is done: changes after this are reported. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface WatchOptions {
  /** Quiet time after the last event before a batch is reported. */
  readonly debounceMs: number;
  /** Called with the changed paths (relative to the folder) of one batch. */
  readonly onChange: (paths: readonly string[]) => void;
  readonly onError: (error: Error) => void;
}

export function watchFlowFolder(dir: string, options: WatchOptions): FlowWatcher {
  const skipped = (path: string, isFile: boolean | undefined): boolean => {
    const rel = relative(dir, path);
    if (rel === '') return false;
    const parts = rel.split(sep);
    const folders = isFile === true ? parts.slice(0, -1) : parts;
    if (folders.some((p) => p.startsWith('.') || p === 'node_modules')) return true;
    // .proto files: a payload codec compiles them, so an edit reloads what uses them.
    return isFile === true && !isFlowFileName(basename(path)) && !path.endsWith('.proto');
  };
  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    // A folder is never skipped for its name alone before chokidar knows it is one: stats is undefined on the first call.
    ignored: (path, stats) => skipped(path, stats === undefined ? undefined : stats.isFile()),
  });
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    const paths = [...pending].sort();
    pending = new Set();
    if (paths.length > 0) options.onChange(paths);
  };
  const note = (path: string, isFile: boolean): void => {
    if (skipped(path, isFile)) return;
    pending.add(relative(dir, path) || '.');
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(flush, options.debounceMs);
  };
  watcher.on('add', (p) => note(p, true));
  watcher.on('change', (p) => note(p, true));
  watcher.on('unlink', (p) => note(p, true));
  watcher.on('addDir', (p) => note(p, false));
  watcher.on('unlinkDir', (p) => note(p, false));
  watcher.on('error', (error) => options.onError(error instanceof Error ? error : new Error(String(error))));
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      await watcher.close();
    },
  };
}
