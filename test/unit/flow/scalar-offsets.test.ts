import { describe, expect, it } from 'vitest';
import { LineCounter, parseDocument, isMap, isScalar } from 'yaml';
import { sourceOffsetOf } from '../../../src/flow/scalar-offsets.js';

/** Parses `key: <scalar>` and returns where `needle` (its n-th occurrence in the value) is in the file, as line:col. */
function locate(yaml: string, needle: string): string {
  const lines = new LineCounter();
  const doc = parseDocument(yaml, { lineCounter: lines });
  if (!isMap(doc.contents)) throw new Error('not a map');
  const node = doc.contents.items[0]!.value;
  if (!isScalar(node) || !node.range) throw new Error('not a scalar');
  const value = String(node.value);
  const offset = sourceOffsetOf(yaml, node.range[0], node.range[1], value, value.indexOf(needle));
  if (offset === undefined) return 'unmapped';
  const { line, col } = lines.linePos(offset);
  return `${line}:${col}`;
}

describe('offsets inside scalars', () => {
  it('plain and quoted scalars on one line', () => {
    expect(locate('e: a + ]\n', ']')).toBe('1:8');
    expect(locate('e: "a + ]"\n', ']')).toBe('1:9');
    expect(locate("e: 'it''s ]'\n", ']')).toBe('1:11');
  });

  it('literal block scalars keep lines and strip indentation', () => {
    const yaml = 'e: |\n  {\n    "a": b ]\n  }\n';
    expect(locate(yaml, ']')).toBe('3:12');
  });

  it('folded block scalars and multi-line plain scalars', () => {
    expect(locate('e: >\n  a +\n  b ]\n', ']')).toBe('3:5');
    expect(locate('e: a +\n  b +\n  c ]\n', ']')).toBe('3:5');
  });

  it('escaped quotes in double-quoted scalars', () => {
    expect(locate('e: "x = \\"y\\" ]"\n', ']')).toBe('1:15');
  });

  it('gives up rather than guess when the value has characters the source does not', () => {
    expect(locate('e: "\\u0041 ]"\n', 'A')).toBe('unmapped');
  });
});
