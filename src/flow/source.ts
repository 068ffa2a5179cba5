/**
 * One parsed flow file: its text, the YAML document with source ranges, and position lookups by
 * value path. Positions are computed lazily, only for values that have a problem.
 */
import type { LineCounter} from 'yaml';
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair } from 'yaml';
import type { SourcePosition } from './problem.js';
import type { ValuePath } from '../util/path.js';

export class SourceFile {
  readonly #lines: LineCounter;

  constructor(
    /** Absolute path on disk. */
    readonly absolutePath: string,
    /** Path as shown in problems. */
    readonly displayPath: string,
    readonly text: string,
    readonly document: Document.Parsed,
    lines: LineCounter,
  ) {
    this.#lines = lines;
  }

  /** Position of a character offset in the file. */
  positionAt(offset: number): SourcePosition {
    const { line, col } = this.#lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { file: this.displayPath, line, column: col };
  }

  /**
   * Where to point for a value: the key of the map entry that holds it (so a wrong value is shown
   * at its key, as editors do), or the item itself inside a list. Falls back to the nearest
   * ancestor that exists in the source (e.g. for values that came from a YAML merge key).
   */
  locate(path: ValuePath): SourcePosition {
    const found = this.#walk(path);
    return this.positionAt(found.offset);
  }

  /** The scalar node that holds the value at `path`, if the value is written as a scalar in this file. */
  scalarAt(path: ValuePath): { node: Node; offset: number; end: number } | undefined {
    const found = this.#walk(path);
    if (found.depth !== path.length || found.node === undefined || !isScalar(found.node)) return undefined;
    const range = found.node.range;
    if (range === undefined || range === null) return undefined;
    return { node: found.node, offset: range[0], end: range[1] };
  }

  /** Position of a map entry's key, for "unknown key" problems. */
  locateKey(mapPath: ValuePath, key: string): SourcePosition {
    const found = this.#walk(mapPath);
    const map = found.depth === mapPath.length ? this.#resolve(found.node) : undefined;
    if (map !== undefined && isMap(map)) {
      const pair = map.items.find((p) => scalarKey(p) === key);
      const keyNode = pair?.key;
      if (pair !== undefined && isScalar(keyNode) && keyNode.range) return this.positionAt(keyNode.range[0]);
    }
    return this.positionAt(found.offset);
  }

  #resolve(node: unknown): Node | undefined {
    if (isAlias(node)) return node.resolve(this.document);
    return node as Node | undefined;
  }

  #walk(path: ValuePath): { node: Node | undefined; offset: number; depth: number } {
    let node = this.#resolve(this.document.contents) ;
    let offset = node?.range?.[0] ?? 0;
    let depth = 0;
    for (const segment of path) {
      if (isMap(node)) {
        const pair: Pair | undefined = node.items.find((p) => scalarKey(p) === String(segment));
        if (pair === undefined) break;
        const keyNode = pair.key;
        offset = isScalar(keyNode) && keyNode.range ? keyNode.range[0] : offset;
        node = this.#resolve(pair.value);
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item === undefined) break;
        node = this.#resolve(item);
        offset = node?.range?.[0] ?? offset;
        if (isPair(item)) break;
      } else {
        break;
      }
      depth++;
    }
    return { node, offset, depth };
  }
}

function scalarKey(pair: Pair): string | undefined {
  const key = pair.key;
  if (isScalar(key)) return String(key.value);
  return undefined;
}
