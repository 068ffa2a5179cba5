/** The binary operators: arithmetic, comparison, `&`, `..` and `in`, with jsonata's type errors. */
import { ExpressionLimitError } from '../bounds.js';
import { jsonataImplementation } from './builtins.js';
import { checkTime, type Context } from './context.js';
import { fail, isDeepEqual, isNumeric } from './values.js';

type Operator = (lhs: unknown, rhs: unknown, ctx: Context) => unknown;

export function operator(op: string): Operator {
  switch (op) {
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return numeric(op);
    case '=':
      return (l, r) => (l === undefined || r === undefined ? false : isDeepEqual(l, r));
    case '!=':
      return (l, r) => (l === undefined || r === undefined ? false : !isDeepEqual(l, r));
    case '<':
      return comparison((l, r) => l < r);
    case '<=':
      return comparison((l, r) => l <= r);
    case '>':
      return comparison((l, r) => l > r);
    case '>=':
      return comparison((l, r) => l >= r);
    case '&':
      return concat;
    case '..':
      return range;
    case 'in':
      return includes;
    default:
      throw new Error(`the compiler does not handle the "${op}" operator`);
  }
}

function numeric(op: string): Operator {
  const compute =
    op === '+'
      ? (l: number, r: number) => l + r
      : op === '-'
        ? (l: number, r: number) => l - r
        : op === '*'
          ? (l: number, r: number) => l * r
          : op === '/'
            ? (l: number, r: number) => l / r
            : (l: number, r: number) => l % r;
  return (lhs, rhs) => {
    if (lhs !== undefined && !isNumeric(lhs)) fail('T2001', { value: lhs });
    if (rhs !== undefined && !isNumeric(rhs)) fail('T2002', { value: rhs });
    if (lhs === undefined || rhs === undefined) return undefined;
    return compute(lhs, rhs);
  };
}

function comparison(compare: (l: number | string, r: number | string) => boolean): Operator {
  return (lhs, rhs) => {
    const ltype = typeof lhs;
    const rtype = typeof rhs;
    const lcomparable = ltype === 'undefined' || ltype === 'string' || ltype === 'number';
    const rcomparable = rtype === 'undefined' || rtype === 'string' || rtype === 'number';
    if (!lcomparable || !rcomparable) fail('T2010', { value: !(ltype === 'string' || ltype === 'number') ? lhs : rhs });
    if (ltype === 'undefined' || rtype === 'undefined') return undefined;
    if (ltype !== rtype) fail('T2009', { value: lhs, value2: rhs });
    return compare(lhs as number | string, rhs as number | string);
  };
}

const stringOf = jsonataImplementation('string') as (value: unknown) => string;

function concat(lhs: unknown, rhs: unknown, ctx: Context): unknown {
  const l = lhs === undefined ? '' : typeof lhs === 'string' ? lhs : stringOf(lhs);
  const r = rhs === undefined ? '' : typeof rhs === 'string' ? rhs : stringOf(rhs);
  // V8 joins the two without copying them (a rope), so only the length is bounded, not counted.
  const max = ctx.budget.limits.maxString;
  if (l.length + r.length > max) throw new ExpressionLimitError(`& would build a string of ${l.length + r.length} characters; the limit is ${max} (--expression-max-string)`);
  return l + r;
}

function range(lhs: unknown, rhs: unknown, ctx: Context): unknown {
  if (lhs !== undefined && !Number.isInteger(lhs)) fail('T2003', { value: lhs });
  if (rhs !== undefined && !Number.isInteger(rhs)) fail('T2004', { value: rhs });
  if (lhs === undefined || rhs === undefined) return undefined;
  const from = lhs as number;
  const to = rhs as number;
  if (from > to) return undefined;
  const size = to - from + 1;
  if (size > 1e7) fail('D2014', { value: size });
  if (size > ctx.options.sequence) fail('D2015', { value: ctx.options.sequence });
  ctx.budget.range(size);
  const result = new Array<number>(size) as number[] & { sequence?: boolean };
  for (let item = from, index = 0; item <= to; item++, index++) {
    if ((index & 0xffff) === 0) checkTime(ctx);
    result[index] = item;
  }
  result.sequence = true;
  return result;
}

function includes(lhs: unknown, rhs: unknown): unknown {
  if (lhs === undefined || rhs === undefined) return false;
  const candidates = Array.isArray(rhs) ? rhs : [rhs];
  return candidates.some((candidate) => candidate === lhs);
}
