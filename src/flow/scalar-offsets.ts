/**
 * Maps an offset inside a scalar's value to an offset in the file's text, so that a problem
 * inside an expression (a JSONata syntax error) is reported at its real line and column, also
 * in block scalars (`|`, `>`), multi-line plain scalars and quoted strings.
 */

/**
 * Walks the value and the source together: each non-blank character of the value is found at the
 * next equal character of the source; blanks match the next blank (folding turns line breaks into
 * spaces and strips indentation). Returns undefined when the two cannot be aligned (e.g. escapes
 * such as \u0041), so the caller falls back to the start of the scalar.
 */
export function sourceOffsetOf(text: string, start: number, end: number, value: string, index: number): number | undefined {
  let s = skipScalarHeader(text, start, end);
  let last = s - 1;
  const upTo = Math.min(index, value.length);
  for (let i = 0; i <= upTo; i++) {
    if (i === value.length) return last + 1;
    const c = value[i]!;
    let found = -1;
    if (isBlank(c)) {
      for (let j = s; j < end; j++) {
        if (isBlank(text[j]!)) {
          found = j;
          break;
        }
      }
    } else {
      found = text.indexOf(c, s);
      if (found >= end) found = -1;
    }
    if (found === -1) return undefined;
    if (i === upTo) return found;
    last = found;
    s = found + 1;
  }
  return undefined;
}

function isBlank(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\r';
}

/** Skips the opening quote, or a block scalar's header line (`|`, `>-`, `|2` …). */
function skipScalarHeader(text: string, start: number, end: number): number {
  const first = text[start];
  if (first === '"' || first === "'") return start + 1;
  if (first === '|' || first === '>') {
    const newline = text.indexOf('\n', start);
    return newline === -1 || newline >= end ? end : newline + 1;
  }
  return start;
}
