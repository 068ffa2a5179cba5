/**
 * Failure kinds (src/triggers/failure-kind.ts): every code mqflow fails a message with has a kind,
 * in one table, and docs/flow-language.md shows that table. The scan reads src/ as text: a code
 * added to a failure without a kind fails here, naming the code and the file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../src/component/spec.js';
import { MessageFailure } from '../../../src/pipeline/execution.js';
import { StateError } from '../../../src/state/state-error.js';
import { FAILURE_CODES, FAILURE_KIND_TABLE, failureKind } from '../../../src/triggers/failure-kind.js';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));
const DOCS = fileURLToPath(new URL('../../../docs/flow-language.md', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The errors a message fails with (each carries a code); a file constructing one produces failure codes. */
const FAILURE_CONSTRUCTION = /\bnew (MessageFailure|StateError|HttpError|PublishError|RequestTimeout|ExpressionLimitError)\(/;
/** Calls that report a flow problem (validate, compile): their codes are not failures of a message. */
const FLOW_PROBLEM_CALLS = new Set(['problem', 'warn', 'report', 'problemInFile']);

/** The name of the call whose argument list holds `index`, if any (parentheses counted back from it). */
function enclosingCall(text: string, index: number): string | undefined {
  let depth = 0;
  for (let i = index - 1; i >= 0; i--) {
    const c = text[i];
    if (c === ')') depth++;
    else if (c === '(') {
      if (depth === 0) return /([A-Za-z_$][\w$]*)\s*$/.exec(text.slice(Math.max(0, i - 80), i))?.[1];
      depth--;
    } else if (c === ';' && depth === 0) return undefined;
  }
  return undefined;
}

/**
 * Every `'MQFLOW_…'` code in the files that construct a message failure, with where it is: given
 * straight to a constructor, through a helper (`fail('MQFLOW_ENCODE_TEXT', …)`), a constant, or as
 * a failure class's own code; a flow problem's code (`c.problem(at, 'MQFLOW_…', …)`) is not one.
 */
function failureCodesInSource(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    if (!FAILURE_CONSTRUCTION.test(text)) continue;
    for (const match of text.matchAll(/'(MQFLOW_[A-Z0-9_]+)'/g)) {
      const call = enclosingCall(text, match.index);
      if (call !== undefined && FLOW_PROBLEM_CALLS.has(call)) continue;
      const line = text.slice(0, match.index).split('\n').length;
      const where = found.get(match[1]!) ?? [];
      where.push(`${relative(SRC, file)}:${line}`);
      found.set(match[1]!, where);
    }
  }
  return found;
}

describe('failure kinds: one table for every code', () => {
  const inSource = failureCodesInSource();

  it('finds the failure codes of src/ (the scan works)', () => {
    for (const code of ['MQFLOW_INPUT', 'MQFLOW_VALIDATE', 'MQFLOW_HTTP_STATUS', 'MQFLOW_STATE_UNAVAILABLE', 'MQFLOW_PUBLISH_QUEUE_FULL', 'MQFLOW_ENCODE_TEXT', 'MQFLOW_PAYLOAD_SPARKPLUG', 'MQFLOW_EXPRESSION_LIMIT', 'MQFLOW_REQUEST_TIMEOUT']) {
      expect(inSource.has(code), code).toBe(true);
    }
    // Flow problems are not message failures: their codes stay out of the table.
    for (const code of ['MQFLOW_VARIABLE_NAME', 'MQFLOW_HTTP_AUTH', 'MQFLOW_TLS_UNUSED', 'MQFLOW_PAYLOAD_CODEC', 'MQFLOW_TOPIC_FILTER']) {
      expect(inSource.has(code), code).toBe(false);
    }
  });

  it('every code a message can fail with has a kind', () => {
    const missing = [...inSource].filter(([code]) => !FAILURE_CODES.has(code)).map(([code, where]) => `${code} (${where.join(', ')})`);
    expect(missing, 'add these codes to FAILURE_CODES in src/triggers/failure-kind.ts, as transient or deterministic').toEqual([]);
  });

  it('every code in the table is still produced somewhere', () => {
    expect([...FAILURE_CODES.keys()].filter((code) => !inSource.has(code))).toEqual([]);
  });

  it('docs/flow-language.md shows the table (npm run docs:tables writes it)', () => {
    const docs = readFileSync(DOCS, 'utf8');
    expect(docs.includes(`<!-- table: failure-kinds -->\n${renderTable(FAILURE_KIND_TABLE)}\n`), 'run npm run docs:tables').toBe(true);
  });
});

describe('failureKind', () => {
  const failure = (code: string, permanent = false): MessageFailure => new MessageFailure('x', code, undefined, { permanent });

  it('payloads, schemas and expressions are deterministic', () => {
    for (const code of ['MQFLOW_PAYLOAD_JSON', 'MQFLOW_INPUT', 'MQFLOW_VALIDATE', 'MQFLOW_EXPRESSION', 'MQFLOW_PUBLISH_TOPIC', 'MQFLOW_ENCODE_CBOR', 'MQFLOW_STATE_LIMIT']) {
      expect(failureKind(failure(code)), code).toBe('deterministic');
    }
  });

  it('brokers, the network, stores, timeouts and servers are transient', () => {
    for (const code of ['MQFLOW_PUBLISH_QUEUE_FULL', 'MQFLOW_PUBLISH_TIMEOUT', 'MQFLOW_HTTP_TIMEOUT', 'MQFLOW_HTTP_CONNECT', 'MQFLOW_HTTP_STATUS', 'MQFLOW_STATE_UNAVAILABLE', 'MQFLOW_STATE_BUSY', 'MQFLOW_REQUEST_TIMEOUT']) {
      expect(failureKind(failure(code)), code).toBe('transient');
    }
  });

  it('a failure that says it would fail again is deterministic whatever its code (an HTTP 404, a missing stub)', () => {
    expect(failureKind(failure('MQFLOW_HTTP_STATUS', true))).toBe('deterministic');
    expect(failureKind(failure('MQFLOW_HTTP_CONNECT', true))).toBe('deterministic');
  });

  it('JSONata codes are deterministic; an unknown code is transient (also one named like an Object property)', () => {
    for (const code of ['T2001', 'T1006', 'D3137', 'D1012', 'U1001', 'S0201']) expect(failureKind(failure(code)), code).toBe('deterministic');
    for (const code of ['ECONNRESET', 'ERR_STREAM_DESTROYED', 'constructor', 'toString', 'MQFLOW_FAILED']) expect(failureKind(failure(code)), code).toBe('transient');
  });

  it('reads a StateError as the steps get it (code and permanent)', () => {
    expect(failureKind(new StateError('down', 'MQFLOW_STATE_UNAVAILABLE'))).toBe('transient');
    expect(failureKind(new StateError('too big', 'MQFLOW_STATE_LIMIT'))).toBe('deterministic');
  });
});
