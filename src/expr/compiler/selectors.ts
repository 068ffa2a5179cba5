/** Selecting by pattern: `*`, `**` and regular expression literals, as jsonata evaluates them. */
import type { AstNode } from './ast.js';
import { append, createSequence, fail, flatten, isFunction, ownKeys, type Sequence } from './values.js';

/** A regular expression literal: a matcher function, made afresh per evaluation as jsonata does. */
export function matcher(n: AstNode): unknown {
  const pattern = n.value as RegExp;
  const re = new RegExp(pattern);
  const match = (str: string, fromIndex?: number): unknown => {
    re.lastIndex = fromIndex ?? 0;
    const found = re.exec(str);
    if (found === null) return undefined;
    const result = { match: found[0], start: found.index, end: found.index + found[0].length, groups: found.slice(1), next: (): unknown => undefined };
    result.next = () => {
      if (re.lastIndex >= str.length) return undefined;
      const next = match(str, re.lastIndex) as { match?: string } | undefined;
      if (next && next.match === '') fail('D1004', { position: n.position, value: pattern.source });
      return next;
    };
    return result;
  };
  return match;
}

export function wildcard(input: unknown): unknown {
  let results: unknown = createSequence();
  let value = input;
  if (Array.isArray(value) && (value as Sequence).outerWrapper && value.length > 0) value = value[0];
  if (value !== null && typeof value === 'object' && !isFunction(value)) {
    for (const key of ownKeys(value)) {
      const v = (value as Record<string, unknown>)[key];
      if (Array.isArray(v)) results = append(results, flatten(v));
      else (results as unknown[]).push(v);
    }
  }
  return results;
}

export function descendants(input: unknown): unknown {
  if (input === undefined) return undefined;
  const results = createSequence();
  const recurse = (value: unknown): void => {
    if (!Array.isArray(value)) results.push(value);
    if (Array.isArray(value)) for (const member of value) recurse(member);
    else if (value !== null && typeof value === 'object' && !isFunction(value)) for (const key of ownKeys(value)) recurse((value as Record<string, unknown>)[key]);
  };
  recurse(input);
  return results.length === 1 ? results[0] : results;
}
