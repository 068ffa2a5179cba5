/**
 * Generators and comparison for the expression fuzzer (test/fuzz/expression.fuzz.test.ts): a
 * seeded PRNG, random JSON inputs shaped like MQTT payloads, random JSONata expressions inside
 * the subset the compiler (src/expr/compiler) targets, and the comparison of two evaluation
 * outcomes (value or error) that decides whether the compiled engine agrees with jsonata.
 *
 * Everything here is deterministic given the seed. Nothing nondeterministic is generated
 * ($random, $now, $millis, $shuffle, $uuid, $toMillis with a picture that leaves out the year),
 * every recursion in expressions meant for an unbounded engine is bounded by a small literal (or
 * by $count of something small), and a few things that make jsonata itself unpredictable or
 * endless are kept out: see coalesce(), composable() and updateObject().
 */

// ---------------------------------------------------------------------------------------------
// Random numbers

/** mulberry32: small, fast, good enough for test generation, and reproducible from a 32-bit seed. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** One of the choices, with probability proportional to its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const live = choices.filter(([weight]) => weight > 0);
    let total = 0;
    for (const [weight] of live) total += weight;
    let r = this.next() * total;
    for (const [weight, value] of live) {
      r -= weight;
      if (r < 0) return value;
    }
    const last = live[live.length - 1];
    if (last === undefined) throw new Error('weighted choice from nothing');
    return last[1];
  }

  shuffled<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const a = out[i] as T;
      out[i] = out[j] as T;
      out[j] = a;
    }
    return out;
  }
}

/** The seed of case `index` of a run: each case is reproducible on its own. */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Inputs

const SPACE_KEY = 'name with space';
const RECORD_KEYS = ['a', 'b', 'c', 'type', 'v', 'price', 'items', SPACE_KEY] as const;
const ITEM_KEYS = ['type', 'price', 'v', 'a', 'items'] as const;

const NUMBERS = [0, 0, 1, 2, 3, 5, 10, 100, -1, -7, 0.5, 2.25, -3.75, 0.1, 0.2, 99.99, 1234.5678, 1e6, 2 ** 31, 2 ** 53 + 2, 1e21, 1.5e300, 1e-7];
const STRINGS = ['x', 'y', 'z', 'hello', 'Hello World', '', ' padded  ', 'a,b,c', 'café', '12', '3.5', '0x1F', 'line\nbreak', 'quote"d', 'a/b', 'ünï', 'UPPER', 'true'];
const TYPES = ['x', 'x', 'y', 'z'];

function randomNumber(rng: Rng): number {
  return rng.weighted<() => number>([
    [5, () => rng.pick(NUMBERS)],
    [4, () => rng.int(-20, 50)],
    [2, () => rng.int(-5000, 5000) / 100],
  ])();
}

function scalar(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [4, () => randomNumber(rng)],
    [3, () => rng.pick(STRINGS)],
    [1, () => rng.chance(0.5)],
    [1, () => null],
  ])();
}

function anyValue(rng: Rng, depth: number): unknown {
  if (depth <= 0) return scalar(rng);
  return rng.weighted<() => unknown>([
    [4, () => scalar(rng)],
    [4, () => record(rng, depth - 1)],
    [1, () => Array.from({ length: rng.int(0, 4) }, () => scalar(rng))],
    [1, () => Array.from({ length: rng.int(0, 3) }, () => anyValue(rng, depth - 1))],
  ])();
}

function item(rng: Rng, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of rng.shuffled(ITEM_KEYS)) {
    const wanted = key === 'type' || key === 'price' ? 0.9 : key === 'v' ? 0.7 : 0.2;
    if (rng.chance(wanted)) out[key] = field(rng, key, depth);
  }
  return out;
}

function field(rng: Rng, key: string, depth: number): unknown {
  switch (key) {
    case 'type':
      return rng.chance(0.9) ? rng.pick(TYPES) : scalar(rng);
    case 'price':
      return rng.chance(0.88) ? randomNumber(rng) : rng.pick<unknown>(['12', null, true, '3.5', [1, 2]]);
    case 'v':
      return rng.chance(0.6) ? randomNumber(rng) : scalar(rng);
    case 'items':
      return depth > 0 ? Array.from({ length: rng.int(0, 4) }, () => item(rng, depth - 1)) : [];
    case SPACE_KEY:
      return rng.chance(0.7) ? rng.pick(STRINGS) : randomNumber(rng);
    default:
      return anyValue(rng, depth);
  }
}

function record(rng: Rng, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of rng.shuffled(RECORD_KEYS)) if (rng.chance(0.8)) out[key] = field(rng, key, depth);
  return out;
}

/** A message payload: usually an object, sometimes an array, a scalar, or nothing at all. */
export function generateInput(rng: Rng): unknown {
  return rng.weighted<() => unknown>([
    [3, () => undefined],
    [70, () => record(rng, 3)],
    [15, () => Array.from({ length: rng.int(0, 5) }, () => (rng.chance(0.85) ? item(rng, 1) : scalar(rng)))],
    [5, () => scalar(rng)],
    [2, () => ({})],
  ])();
}

// ---------------------------------------------------------------------------------------------
// Expressions

/** What an expression is meant to produce; the generator deliberately gets it wrong now and then. */
type Ty = 'num' | 'str' | 'bool' | 'nums' | 'strs' | 'objs' | 'obj' | 'any';
const ALL_TYPES: readonly Ty[] = ['num', 'str', 'bool', 'nums', 'strs', 'objs', 'obj', 'any'];
const ELEMENT: Readonly<Partial<Record<Ty, Ty>>> = { nums: 'num', strs: 'str', objs: 'obj' };

/** Expression text and the binding power of its outermost operator (ATOM when it needs no parentheses). */
interface Expr {
  readonly s: string;
  readonly p: number;
}

interface Var {
  readonly name: string;
  readonly ty: Ty;
}

/** A function defined in the expression, callable by name where it is in scope. */
interface UserFn {
  readonly name: string;
  readonly params: readonly Ty[];
  readonly ty: Ty;
}

interface Scope {
  readonly vars: readonly Var[];
  readonly fns: readonly UserFn[];
}

// jsonata's binding powers (src/parser.js `operators`).
const ATOM = 100;
const FILTER = 80;
const DOT = 75;
const UNARY = 70;
const GROUP = 70;
const MUL = 60;
const ADD = 50;
const CMP = 40;
const AND = 30;
const OR = 25;
const COND = 20;

const atom = (s: string): Expr => ({ s, p: ATOM });

/** `e` as an operand that needs a binding power of at least `min`. */
function operand(e: Expr, min: number): string {
  return e.p >= min ? e.s : `(${e.s})`;
}

/** A left-associative binary operator of binding power `p`. */
function binary(l: Expr, op: string, r: Expr, p: number): Expr {
  let left = operand(l, p);
  // jsonata's lexer reads a `/` after `[]`, after a function definition, after an order-by's `)`
  // or after a transform's closing `|` as the start of a regex (the parser reads the token after
  // those without its "infix" flag). Parentheses end such an operand with a safe `)`.
  if (op === '/' && (left.endsWith('[]') || left.startsWith('function') || left.endsWith('}') || left.endsWith('|') || left.includes('^('))) left = `(${left})`;
  return { s: `${left} ${op} ${operand(r, p + 1)}`, p };
}

function call(name: string, args: readonly Expr[]): Expr {
  return atom(`$${name}(${args.map((a) => a.s).join(', ')})`);
}

const NUMBER_LITERALS = ['0', '1', '2', '3', '5', '10', '100', '0.5', '1.5', '2.25', '0.1', '1e3', '3.14159', '1000000', '-1', '-2', '-0.5', '-10', '12345678901234567890'];
const STRING_LITERALS = [
  '"x"',
  '"y"',
  '"abc"',
  '""',
  '"Hello World"',
  '" padded  "',
  '"a,b,c"',
  String.raw`"quote\"d"`,
  String.raw`"tab\there"`,
  String.raw`"new\nline"`,
  String.raw`"back\\slash"`,
  String.raw`"caf\u00e9"`,
  "'single'",
  '"ünï"',
  '"12"',
  '"3.5"',
  '"-4"',
  '"a/b"',
  '"true"',
];
const NUMERIC_STRINGS = ['"12"', '"3.5"', '"-4"', '"1e3"', '"0x1F"', '"0b101"', '" 7 "', '"abc"', '""'];
const NUM_FIELDS = ['price', 'price', 'price', 'v'];
const STR_FIELDS = ['type', 'type', '`name with space`'];
const OBJ_FIELDS = ['a', 'b', 'c'];
const ANY_FIELDS = ['a', 'b', 'c', 'v', 'type', 'price', 'items', '`name with space`', 'missing'];
const OBJECT_KEYS = ['"id"', '"total"', '"type"', '"name with space"', '"k"', '"a"', '"items"', '"x"'];
const FORMAT_NUMBER_PICTURES = ['"#,##0.00"', '"0.0"', '"#0"', '"0.000e0"', '"#%"', '"00"', '"#,###"', '"0.00;(0.00)"', '"##0#.0"'];
const FORMAT_INTEGER_PICTURES = ['"0"', '"000"', '"w"', '"W"', '"Ww"', '"I"', '"i"', '"#,##0"', '"a"', '"A"'];
const RADIXES = ['2', '8', '16', '36', '10', '1', '37'];
const SEPARATORS = ['","', '", "', '""', '" "', '"/"', '"b"'];
const REPLACE_PATTERNS = ['"a"', '"l"', '" "', '"x"', '","', '""', '"Hello"'];
const WIDTHS = ['5', '-5', '8', '-8', '0', '2', '12'];

/** Bodies of regular expression literals (between the slashes; jsonata adds the g flag). */
const REGEXES = ['l', 'l+', 'o', '[aeiou]', String.raw`(\w+) (\w+)`, '^h', String.raw`\d+`, ',', 'x$', '[A-Z]', '(a)|(b)', 'é', String.raw`\s+`, 'o(r|l)', String.raw`\.`, '(l)(l)?', 'hello', 'z', '^.', String.raw`e$`];
/** Regular expressions that can match the empty string: $match, $split and $replace fail on those (D1004). */
const ZERO_LENGTH_REGEXES = ['a*', String.raw`\s*`, 'x?', '^', '(l|)', String.raw`\b`, '^$'];
const REGEX_FLAGS: readonly (readonly [number, string])[] = [
  [6, ''],
  [2, 'i'],
  [1, 'm'],
  [1, 'im'],
];
/** Replacement texts with group references: `$0`, `$1`, `$$`, a group that is not there. */
const REPLACEMENTS = ['"rep $1 $$ $0"', '"[$0]"', '"$2-$1"', '"$"', '"$10"', '"_"', '""', '"$$"', '"$3"', '"$1$1"', '"<$0>"'];
const MATCH_LIMITS = ['0', '1', '2', '-1', '1.5', '"2"', '$count(items)'];

/** A function for partial application or composition: its text, the type of its argument, the type of its result. */
interface PartialFn {
  readonly s: string;
  readonly arg: Ty;
  readonly ty: Ty;
}
/**
 * Partial applications of built-ins: the text, the type of the argument left open, the result's
 * type. jsonata calls the implementation without checking its signature, and with a function
 * argument as it is, not wrapped (`$map(?, $string)` and `$sort(?, function…)` fail so), and it
 * names the parameters from the implementation's source text (`$string(?)` fails, S0208): those
 * are among the quirks in partial().
 */
const PARTIALS: readonly PartialFn[] = [
  { s: '$substring(?, 0, 2)', arg: 'str', ty: 'str' },
  { s: '$substringBefore(?, ",")', arg: 'str', ty: 'str' },
  { s: '$substringAfter(?, " ")', arg: 'str', ty: 'str' },
  { s: '$pad(?, 6, "*")', arg: 'str', ty: 'str' },
  { s: '$replace(?, "l", "L")', arg: 'str', ty: 'str' },
  { s: '$replace(?, /[aeiou]/i, "_")', arg: 'str', ty: 'str' },
  { s: '$uppercase(?)', arg: 'str', ty: 'str' },
  { s: '$join(?, "-")', arg: 'strs', ty: 'str' },
  { s: '$formatNumber(?, "#0.0")', arg: 'num', ty: 'str' },
  { s: '$substring("hello", ?, 2)', arg: 'num', ty: 'str' },
  { s: '$formatBase(?, 2)', arg: 'num', ty: 'str' },
  { s: '$fromMillis(?, "[Y0001]-[M01]-[D01]")', arg: 'num', ty: 'str' },
  { s: '$round(?, 1)', arg: 'num', ty: 'num' },
  { s: '$power(?, 2)', arg: 'num', ty: 'num' },
  { s: '$power(2, ?)', arg: 'num', ty: 'num' },
  { s: '$length(?)', arg: 'str', ty: 'num' },
  { s: '$sum(?)', arg: 'nums', ty: 'num' },
  { s: '$count(?)', arg: 'any', ty: 'num' },
  { s: '$number(?)', arg: 'str', ty: 'num' },
  { s: '$contains(?, "l")', arg: 'str', ty: 'bool' },
  { s: '$contains(?, /^h/i)', arg: 'str', ty: 'bool' },
  { s: '$exists(?)', arg: 'any', ty: 'bool' },
  { s: '$boolean(?)', arg: 'any', ty: 'bool' },
  { s: '$split(?, ",")', arg: 'str', ty: 'strs' },
  { s: String.raw`$split(?, /\s+/, 2)`, arg: 'str', ty: 'strs' },
  { s: '$keys(?)', arg: 'obj', ty: 'strs' },
  { s: '$map(?, function($v){ $string($v) })', arg: 'nums', ty: 'strs' },
  { s: '$filter(?, function($v){ $length($v) > 1 })', arg: 'strs', ty: 'strs' },
  { s: '$each(?, function($v, $k){ $k })', arg: 'obj', ty: 'strs' },
  { s: '$map(?, function($v, $i){ $v * $i })', arg: 'nums', ty: 'nums' },
  { s: '$sort(?)', arg: 'nums', ty: 'nums' },
  { s: '$append(?, 1)', arg: 'nums', ty: 'nums' },
  { s: '$filter(?, function($v){ $v > 2 })', arg: 'nums', ty: 'nums' },
  { s: '$filter(?, function($v){ $v.price > 2 })', arg: 'objs', ty: 'objs' },
  { s: '$reverse(?)', arg: 'objs', ty: 'objs' },
  { s: '$spread(?)', arg: 'obj', ty: 'objs' },
  { s: '$merge(?)', arg: 'objs', ty: 'obj' },
  { s: '$sift(?, function($v){ $v != null })', arg: 'obj', ty: 'obj' },
  { s: '$lookup(?, "type")', arg: 'objs', ty: 'any' },
  { s: '$match(?, /l+/)', arg: 'str', ty: 'any' },
];

/** Functions to compose with `~>`: the text, the type of its argument, the result's type. */
const COMPOSABLE: readonly PartialFn[] = [
  { s: '$uppercase', arg: 'str', ty: 'str' },
  { s: '$lowercase', arg: 'str', ty: 'str' },
  { s: '$trim', arg: 'str', ty: 'str' },
  { s: '$string', arg: 'any', ty: 'str' },
  { s: '$substring(?, 1)', arg: 'str', ty: 'str' },
  { s: 'function($x){ $x & "!" }', arg: 'any', ty: 'str' },
  { s: '$join(?, "+")', arg: 'strs', ty: 'str' },
  { s: '$length', arg: 'str', ty: 'num' },
  { s: '$abs', arg: 'num', ty: 'num' },
  { s: '$sqrt', arg: 'num', ty: 'num' },
  { s: '$floor', arg: 'num', ty: 'num' },
  { s: '$number', arg: 'str', ty: 'num' },
  { s: '$sum', arg: 'nums', ty: 'num' },
  { s: '$count', arg: 'any', ty: 'num' },
  { s: 'function($x){ $x * 2 }', arg: 'num', ty: 'num' },
  { s: 'function($x){ $x + 1 }', arg: 'num', ty: 'num' },
  { s: '$boolean', arg: 'any', ty: 'bool' },
  { s: '$not', arg: 'any', ty: 'bool' },
  { s: '$exists', arg: 'any', ty: 'bool' },
  { s: '$reverse', arg: 'nums', ty: 'nums' },
  { s: '$sort', arg: 'nums', ty: 'nums' },
  { s: '$split(?, ",")', arg: 'str', ty: 'strs' },
  { s: '$keys', arg: 'obj', ty: 'strs' },
  { s: '$spread', arg: 'obj', ty: 'objs' },
  { s: '$merge', arg: 'objs', ty: 'obj' },
];

/** `$formatNumber` pictures with the options they are meant for (and, now and then, are not). */
const FORMAT_NUMBER_OPTIONS: readonly (readonly [string, string])[] = [
  ['"#.##0,00"', '{"decimal-separator": ",", "grouping-separator": "."}'],
  ['"# ##0,0"', '{"decimal-separator": ",", "grouping-separator": " "}'],
  ['"#0%"', '{"percent": "pc"}'],
  ['"0.0e0"', '{"exponent-separator": "E"}'],
  ['"0‰"', '{"per-mille": "‰"}'],
  ['"###0.00"', '{"minus-sign": "~"}'],
  ['"@@@0.0"', '{"digit": "@"}'],
  ['"#0.0;(#0.0)"', '{"pattern-separator": ";"}'],
  ['"#0.00"', '{"infinity": "inf", "NaN": "nan"}'],
  ['"00"', '{"zero-digit": "0"}'],
  ['"#,##0.00"', '{"decimal-separator": ",", "grouping-separator": ","}'],
];
/** Milliseconds since the epoch for `$fromMillis`: fixed, so results are deterministic. */
const MILLIS = ['0', '1510067557121', '-86400000', '951782400000', '1e12', '253402300799999', '1.5', '$count(items) * 86400000', '-62135596800001', '1700000000000'];
const DATE_PICTURES = [
  '"[Y0001]-[M01]-[D01]"',
  '"[H01]:[m01]:[s01].[f001]"',
  '"[FNn], [D1o] [MNn] [Y]"',
  '"[h]:[m01] [P]"',
  '"[Y,2]-[M,2]"',
  '"[D#1] [MNn,3-3]"',
  '"[X0001]-W[W01]-[F1]"',
  '"[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01][Z]"',
  '"[z]"',
  '"[YI]"',
  '"[Mw]"',
  '"[dwo] day"',
  '"[Q]"',
  '"[Y"',
];
const TIMEZONES = ['"+0100"', '"-0500"', '"0000"', '"+0530"'];
/** Timestamps for `$toMillis` (ISO 8601, or with a picture that names the year: otherwise today's date fills in). */
const TIMESTAMPS: readonly (readonly [string, string | undefined])[] = [
  ['"2017-11-07T15:07:37.121Z"', undefined],
  ['"2018-01-01"', undefined],
  ['"1970-01-01T00:00:00+01:00"', undefined],
  ['"2018"', undefined],
  ['"not a date"', undefined],
  ['"2018-02-01"', '"[Y]-[M]-[D]"'],
  ['"01/02/2018"', '"[D]/[M]/[Y]"'],
  ['"2018-032"', '"[Y]-[d]"'],
  ['"2018-02-01 3:15 pm"', '"[Y]-[M]-[D] [h]:[m] [P]"'],
  ['"Wednesday, 14th November 2018"', '"[FNn], [D1o] [MNn] [Y]"'],
  ['"2018-02"', '"[Y]-[M]-[D]"'],
  ['"mismatch"', '"[Y]-[M]"'],
  ['"2018-02-01"', '"[Y]-[D]"'],
];

/** Names for variables and functions; a counter keeps them unique within one expression. */
const VAR_NAMES = ['x', 'y', 'total', 'label', 'k', 'tmp', 'count', 'price'];
const FN_NAMES = ['f', 'g', 'calc', 'fmt', 'pick', 'double'];

export interface ExpressionOptions {
  /**
   * The engines evaluating this have depth and time limits: recursion may go deep (bounded
   * recursion near and past the depth limit) because the limit turns it into an error.
   */
  readonly limited: boolean;
}

class ExpressionGenerator {
  private counter = 0;
  /** How many regular expression literals have been generated (see coalesce()). */
  private regexes = 0;

  constructor(
    private readonly rng: Rng,
    private readonly options: ExpressionOptions,
  ) {}

  top(): string {
    const ty = this.rng.weighted<Ty | 'fn'>([
      [24, 'obj'],
      [18, 'num'],
      [18, 'str'],
      [10, 'bool'],
      [6, 'nums'],
      [5, 'strs'],
      [6, 'objs'],
      [12, 'any'],
      [1, 'fn'],
    ]);
    const scope: Scope = { vars: [], fns: [] };
    if (ty === 'fn') return this.functionValue(scope).s;
    const depth = this.rng.weighted([
      [1, 1],
      [3, 2],
      [4, 3],
      [2, 4],
    ]);
    if (ty === 'obj' && this.rng.chance(0.5)) return this.objectConstructor(depth, scope, 1).s;
    return this.gen(ty, depth, scope, true).s;
  }

  private fresh(names: readonly string[]): string {
    return `${this.rng.pick(names)}${++this.counter}`;
  }

  /** An expression meant to produce `ty` (sometimes, on purpose, something else). */
  gen(wanted: Ty, d: number, sc: Scope, compound = false): Expr {
    // Type-mismatched operands on purpose, so error paths are exercised.
    const ty = this.rng.chance(0.05) ? this.rng.pick(ALL_TYPES) : wanted;
    if (d <= 0 || (!compound && this.rng.chance(0.2))) return this.leaf(ty, sc);
    switch (ty) {
      case 'num':
        return this.num(d, sc);
      case 'str':
        return this.str(d, sc);
      case 'bool':
        return this.bool(d, sc);
      case 'nums':
      case 'strs':
      case 'objs':
        return this.array(ty, d, sc);
      case 'obj':
        return this.obj(d, sc);
      case 'any':
        return this.any(d, sc);
    }
  }

  // ----- leaves

  private leaf(ty: Ty, sc: Scope): Expr {
    const r = this.rng;
    const vars = sc.vars.filter((v) => v.ty === ty || (ty === 'any' && r.chance(0.5)));
    if (vars.length > 0 && r.chance(0.45)) return atom(`$${r.pick(vars).name}`);
    switch (ty) {
      case 'num':
        return r.weighted<() => Expr>([
          [5, () => this.numberLiteral()],
          [5, () => this.path('num', sc)],
          [1, () => atom('$n')],
          [1, () => atom('$count(items)')],
        ])();
      case 'str':
        return r.weighted<() => Expr>([
          [5, () => atom(r.pick(STRING_LITERALS))],
          [5, () => this.path('str', sc)],
          [1, () => atom('$topic')],
        ])();
      case 'bool':
        return r.weighted<() => Expr>([
          [2, () => atom(r.pick(['true', 'false']))],
          [2, () => binary(this.path('num', sc), r.pick(['>', '<=', '=']), this.numberLiteral(), CMP)],
          [2, () => binary(this.path('str', sc), r.pick(['=', '!=']), atom(r.pick(['"x"', '"y"', '"Hello World"'])), CMP)],
          [1, () => call('exists', [this.path('any', sc)])],
        ])();
      case 'nums':
        return r.weighted<() => Expr>([
          [3, () => this.path('nums', sc)],
          [2, () => atom(`[${Array.from({ length: r.int(0, 4) }, () => this.numberLiteral().s).join(', ')}]`)],
          [1, () => atom(`[1..${r.int(0, 6)}]`)],
        ])();
      case 'strs':
        return r.weighted<() => Expr>([
          [3, () => this.path('strs', sc)],
          [2, () => atom(`[${Array.from({ length: r.int(0, 3) }, () => r.pick(STRING_LITERALS)).join(', ')}]`)],
          [1, () => atom('$tags')],
        ])();
      case 'objs':
        return this.path('objs', sc);
      case 'obj':
        return r.weighted<() => Expr>([
          [6, () => this.path('obj', sc)],
          [1, () => atom('{}')],
          [1, () => atom(`{${r.pick(OBJECT_KEYS)}: ${this.numberLiteral().s}}`)],
        ])();
      case 'any':
        return r.weighted<() => Expr>([
          [8, () => this.path('any', sc)],
          [1, () => atom(r.pick(['null', 'true', '[]', '{}', '"x"', '0', '$n', '$unbound', '$topic']))],
          [1, () => this.leaf(r.pick(ALL_TYPES), sc)],
        ])();
    }
  }

  private numberLiteral(): Expr {
    const s = this.rng.pick(NUMBER_LITERALS);
    return { s, p: s.startsWith('-') ? UNARY : ATOM };
  }

  /** Where a path starts: the context, a nested object, the input, an object-valued variable. */
  private singlePrefix(sc: Scope): string {
    const r = this.rng;
    const objVars = sc.vars.filter((v) => v.ty === 'obj');
    return r.weighted<() => string>([
      [10, () => ''],
      [3, () => `${r.pick(['a', 'b', 'c', 'a.b', 'a.a', 'b.c'])}.`],
      [3, () => `${r.pick(['items[0]', 'items[-1]', 'items[1]', 'a.items[0]'])}.`],
      [1, () => `${r.pick(['$', '$$'])}.`],
      [objVars.length > 0 ? 4 : 0, () => `$${r.pick(objVars).name}.`],
      [1, () => `items[${this.predicate(1, sc)}][0].`],
    ])();
  }

  /** A path prefix that usually selects several objects. */
  private multiPrefix(sc: Scope): string {
    const r = this.rng;
    const objsVars = sc.vars.filter((v) => v.ty === 'objs');
    return r.weighted<() => string>([
      [8, () => 'items.'],
      [2, () => `${r.pick(['a.items', '$.items', 'b.items', 'items.items', 'items[]'])}.`],
      [4, () => `items[${this.predicate(1, sc)}].`],
      [objsVars.length > 0 ? 3 : 0, () => `$${r.pick(objsVars).name}.`],
      [1, () => '*.'],
    ])();
  }

  private path(ty: Ty, sc: Scope): Expr {
    const r = this.rng;
    const keep = (s: string): Expr => {
      const p = s.includes('.') ? DOT : ATOM;
      return r.chance(0.08) ? { s: `${s}[]`, p: Math.min(p, FILTER) } : { s, p };
    };
    switch (ty) {
      case 'num':
        return keep(this.singlePrefix(sc) + r.pick(NUM_FIELDS));
      case 'str':
        return keep(this.singlePrefix(sc) + r.pick(STR_FIELDS));
      case 'nums':
        return r.chance(0.05) ? { s: '**.price', p: DOT } : keep(this.multiPrefix(sc) + r.pick(NUM_FIELDS));
      case 'strs':
        return keep(this.multiPrefix(sc) + r.pick(STR_FIELDS));
      case 'objs':
        return r.weighted<() => Expr>([
          [6, () => keep(r.pick(['items', 'a.items', '$.items', 'items.items']))],
          [3, () => ({ s: `items[${this.predicate(1, sc)}]`, p: FILTER })],
          [1, () => atom('$')],
        ])();
      case 'obj':
        return r.weighted<() => Expr>([
          [4, () => keep(this.singlePrefix(sc) + r.pick(OBJ_FIELDS))],
          [2, () => atom(r.pick(['$', '$$']))],
          [2, () => ({ s: r.pick(['items[0]', 'items[-1]', 'a.items[0]', '$[0]']), p: DOT })],
        ])();
      default:
        return r.weighted<() => Expr>([
          [8, () => keep(this.singlePrefix(sc) + r.pick(ANY_FIELDS))],
          [1, () => ({ s: r.pick(['a[0]', 'b[-1]', 'c[1]', 'a.b[0]', '(a.b)[0]', 'v[0]']), p: FILTER })],
          [1, () => atom(r.pick(['*', '$', '$$']))],
          [1, () => ({ s: r.pick(['a.*', '$.*', 'items.*', '*.price']), p: DOT })],
        ])();
    }
  }

  /** What goes between `[` and `]` after a step: an index or a condition on each item. */
  private predicate(d: number, sc: Scope): string {
    const r = this.rng;
    return r.weighted<() => string>([
      [3, () => r.pick(['0', '1', '-1', '5', '-2'])],
      [3, () => `price ${r.pick(['>', '>=', '<', '!='])} ${r.pick(['0', '1', '2.5', '10'])}`],
      [3, () => `type = ${r.pick(['"x"', '"y"', '"z"'])}`],
      [1, () => r.pick(['$exists(v)', 'v', '$.price > $$.price', 'type in ["x", "y"]', '$not(price)'])],
      [2, () => this.gen('bool', d - 1, sc).s],
      [1, () => this.gen('num', d - 1, sc).s],
      [0.5, () => `$contains(${r.pick(STR_FIELDS)}, ${this.regex()})`],
    ])();
  }

  // ----- numbers

  private num(d: number, sc: Scope): Expr {
    const r = this.rng;
    const n = (): Expr => this.gen('num', d - 1, sc);
    return r.weighted<() => Expr>([
      [12, () => binary(n(), r.pick(['+', '-', '*', '/', '%']), n(), MUL)],
      [8, () => binary(n(), r.pick(['+', '-']), n(), ADD)],
      [2, () => ({ s: `-${operand(n(), UNARY + 1)}`, p: UNARY })],
      [4, () => call(r.pick(['abs', 'floor', 'ceil', 'sqrt']), [n()])],
      [3, () => call('round', r.chance(0.5) ? [n()] : [n(), atom(r.pick(['0', '1', '2', '-1', '3']))])],
      [1, () => call('power', [n(), atom(r.pick(['0', '1', '2', '3', '0.5', '-1']))])],
      [
        3,
        () =>
          call('number', [
            r.weighted<() => Expr>([
              [3, () => atom(r.pick(NUMERIC_STRINGS))],
              [1, () => this.gen('str', d - 1, sc)],
              [2, () => n()],
              [1, () => atom(r.pick(['true', 'false']))],
            ])(),
          ]),
      ],
      [6, () => call(r.pick(['sum', 'max', 'min', 'average', 'sum']), [this.gen('nums', d - 1, sc)])],
      [4, () => call('count', [this.gen(r.pick<Ty>(['nums', 'objs', 'strs', 'any']), d - 1, sc)])],
      [2, () => call('length', [this.gen('str', d - 1, sc)])],
      [4, () => this.condition('num', d, sc)],
      [4, () => this.block('num', d, sc)],
      [2, () => this.reduce(d, sc)],
      [3, () => this.chain('num', d, sc)],
      [2, () => this.recursion()],
      [this.callableFns(sc, 'num').length > 0 ? 6 : 0, () => this.callUserFn('num', d, sc)],
      [2, () => this.coalesce('num', d, sc)],
      [2, () => this.pathMap('num', d, sc)],
      [1, () => this.regexCall('num', d, sc)],
      [0.7, () => this.orderBy('num', d, sc)],
      [0.7, () => this.descendants('num')],
      [1, () => this.partial('num', d, sc)],
      [1, () => this.composition('num', sc, d)],
      [0.7, () => call('toMillis', this.timestamp())],
    ])();
  }

  /** Arguments of `$toMillis`: a timestamp, with a picture now and then. */
  private timestamp(): Expr[] {
    const [text, picture] = this.rng.pick(TIMESTAMPS);
    return picture === undefined ? [atom(text)] : [atom(text), atom(picture)];
  }

  /** A recursive function with a bounded recursion (and, on a limited engine, sometimes past the depth limit). */
  private recursion(): Expr {
    const r = this.rng;
    const f = this.fresh(FN_NAMES);
    const k = (max: number): string => (this.options.limited ? String(r.int(0, 80)) : r.chance(0.8) ? String(r.int(0, max)) : r.pick(['$count(items)', '$count($keys($))']));
    return r.weighted<() => Expr>([
      [3, () => atom(`($${f} := function($n){ $n <= 0 ? 0 : $n + $${f}($n - 1) }; $${f}(${k(8)}))`)],
      [2, () => atom(`($${f} := function($n){ $n <= 1 ? 1 : $n * $${f}($n - 1) }; $${f}(${k(8)}))`)],
      [1, () => atom(`($${f} := function($n){ $n < 2 ? $n : $${f}($n - 1) + $${f}($n - 2) }; $${f}(${this.options.limited ? r.int(0, 14) : r.int(0, 9)}))`)],
      // A tail call: jsonata runs it as a loop (a thunk), without growing the depth.
      [2, () => atom(`($${f} := function($n, $acc){ $n <= 0 ? $acc : $${f}($n - 1, $acc + $n) }; $${f}(${k(30)}, 0))`)],
      [1, () => atom(`($${f} := function($a, $i){ $i >= $count($a) ? 0 : $a[$i] + $${f}($a, $i + 1) }; $${f}(${r.pick(['items.price', '[1, 2, 3]', '[1..5]', 'v'])}, 0))`)],
    ])();
  }

  private reduce(d: number, sc: Scope): Expr {
    const r = this.rng;
    const acc = this.fresh(['acc', 'sum', 'a']);
    const x = this.fresh(['x', 'v', 'b']);
    const body = this.gen('num', d - 1, { ...sc, vars: [...sc.vars, { name: acc, ty: 'num' }, { name: x, ty: 'num' }] });
    const fn = atom(r.chance(0.6) ? `function($${acc}, $${x}){ $${acc} ${r.pick(['+', '*', '-'])} $${x} }` : `function($${acc}, $${x}){ ${body.s} }`);
    const args = [this.gen('nums', d - 1, sc), fn];
    if (r.chance(0.4)) args.push(this.numberLiteral());
    return call('reduce', args);
  }

  // ----- strings

  private str(d: number, sc: Scope): Expr {
    const r = this.rng;
    const s = (): Expr => this.gen('str', d - 1, sc);
    const n = (): Expr => this.gen('num', d - 1, sc);
    const small = (): Expr => (r.chance(0.7) ? atom(r.pick(['0', '1', '2', '3', '-1', '-3', '10'])) : n());
    return r.weighted<() => Expr>([
      [10, () => binary(this.gen(r.pick<Ty>(['str', 'str', 'num', 'any']), d - 1, sc), '&', this.gen(r.pick<Ty>(['str', 'str', 'num', 'bool']), d - 1, sc), ADD)],
      [5, () => call('string', r.chance(0.85) ? [this.gen('any', d - 1, sc)] : [this.gen('any', d - 1, sc), atom('true')])],
      [3, () => call('substring', r.chance(0.5) ? [s(), small()] : [s(), small(), small()])],
      [3, () => call(r.pick(['substringBefore', 'substringAfter']), [s(), atom(r.pick(['" "', '","', '"l"', '"/"', '""']))])],
      [4, () => call(r.pick(['uppercase', 'lowercase', 'trim']), [s()])],
      [2, () => call('pad', r.chance(0.5) ? [s(), atom(r.pick(WIDTHS))] : [s(), atom(r.pick(WIDTHS)), atom(r.pick(['"*"', '"0"', '"-="', '""']))])],
      [3, () => call('join', r.chance(0.6) ? [this.gen('strs', d - 1, sc), atom(r.pick(SEPARATORS))] : [this.gen('strs', d - 1, sc)])],
      [
        3,
        () =>
          call('replace', [s(), atom(r.pick(REPLACE_PATTERNS)), atom(r.pick(['"_"', '""', '"-$0-"', '"X"']))].concat(r.chance(0.3) ? [atom(r.pick(['0', '1', '2', '-1']))] : [])),
      ],
      [2, () => call('formatNumber', [n(), atom(r.pick(FORMAT_NUMBER_PICTURES))])],
      [1, () => call('formatBase', [n(), atom(r.pick(RADIXES))])],
      [1, () => call('formatInteger', [atom(r.pick(['0', '1', '7', '42', '1999', '-12', '$count(items)', '$n', '1000000'])), atom(r.pick(FORMAT_INTEGER_PICTURES))])],
      [3, () => call('type', [this.gen('any', d - 1, sc)])],
      [3, () => this.condition('str', d, sc)],
      [3, () => this.block('str', d, sc)],
      [3, () => this.chain('str', d, sc)],
      [this.callableFns(sc, 'str').length > 0 ? 5 : 0, () => this.callUserFn('str', d, sc)],
      [1, () => this.coalesce('str', d, sc)],
      [2, () => call('join', [call('map', [this.gen('any', d - 1, sc), this.lambda(['any', 'num'], 'str', d, sc)]), atom(r.pick(SEPARATORS))])],
      [1, () => call('lookup', [this.gen('obj', d - 1, sc), atom(r.pick(['"type"', '"a"', '"name with space"', '"zz"']))])],
      [4, () => this.regexCall('str', d, sc)],
      [0.7, () => this.orderBy('str', d, sc)],
      [2, () => this.partial('str', d, sc)],
      [1.5, () => this.composition('str', sc, d)],
      [1, () => call('string', [r.chance(0.5) ? this.objectConstructor(d - 1, sc, 1) : this.gen(r.pick<Ty>(['obj', 'objs', 'any']), d - 1, sc), atom('true')])],
      [1, () => {
        const [picture, options] = r.pick(FORMAT_NUMBER_OPTIONS);
        return call('formatNumber', [n(), atom(r.chance(0.85) ? picture : r.pick(FORMAT_NUMBER_PICTURES)), atom(options)]);
      }],
      [1.5, () => {
        const millis = atom(r.chance(0.85) ? r.pick(MILLIS) : r.pick(NUM_FIELDS));
        return call('fromMillis', r.chance(0.15) ? [millis] : r.chance(0.75) ? [millis, atom(r.pick(DATE_PICTURES))] : [millis, atom(r.pick(DATE_PICTURES)), atom(r.pick(TIMEZONES))]);
      }],
      [1, () => call('join', [call('each', [this.gen('obj', d - 1, sc), atom('function($v, $k){ $k & "=" & $string($v) }')]), atom(r.pick(SEPARATORS))])],
    ])();
  }

  // ----- booleans

  private bool(d: number, sc: Scope): Expr {
    const r = this.rng;
    const b = (): Expr => this.gen('bool', d - 1, sc);
    return r.weighted<() => Expr>([
      [6, () => binary(this.gen('num', d - 1, sc), r.pick(['<', '<=', '>', '>=', '=', '!=']), this.gen('num', d - 1, sc), CMP)],
      [2, () => binary(this.gen('str', d - 1, sc), r.pick(['<', '>=', '=', '!=']), this.gen('str', d - 1, sc), CMP)],
      [3, () => binary(this.gen('any', d - 1, sc), r.pick(['=', '!=']), this.gen('any', d - 1, sc), CMP)],
      [4, () => binary(b(), 'and', b(), AND)],
      [3, () => binary(b(), 'or', b(), OR)],
      [3, () => call(r.pick(['not', 'boolean', 'exists', 'boolean']), [this.gen('any', d - 1, sc)])],
      [2, () => call('contains', [this.gen('str', d - 1, sc), atom(r.pick(['"l"', '"x"', '" "', '"Hello"', '""']))])],
      [2, () => binary(this.gen(r.pick<Ty>(['str', 'num']), d - 1, sc), 'in', this.gen(r.pick<Ty>(['strs', 'nums', 'any']), d - 1, sc), CMP)],
      [2, () => this.condition('bool', d, sc)],
      [1, () => this.block('bool', d, sc)],
      [this.callableFns(sc, 'bool').length > 0 ? 3 : 0, () => this.callUserFn('bool', d, sc)],
      [2, () => this.regexCall('bool', d, sc)],
      [0.5, () => this.partial('bool', d, sc)],
      [0.5, () => this.composition('bool', sc, d)],
    ])();
  }

  // ----- arrays

  private array(ty: 'nums' | 'strs' | 'objs', d: number, sc: Scope): Expr {
    const r = this.rng;
    const element = ELEMENT[ty] ?? 'any';
    const same = (): Expr => this.gen(ty, d - 1, sc);
    return r.weighted<() => Expr>([
      [4, () => atom(`[${Array.from({ length: r.int(0, 4) }, () => this.gen(element, d - 1, sc).s).join(', ')}]`)],
      [ty === 'nums' ? 3 : 0, () => this.range(d, sc)],
      [4, () => call('map', [this.gen(r.pick<Ty>(['objs', 'nums', 'strs', 'any']), d - 1, sc), this.lambda(['any', 'num'], element, d, sc)])],
      [3, () => call('filter', [same(), this.lambda([element, 'num'], 'bool', d, sc)])],
      [3, () => call('sort', r.chance(0.5) ? [same()] : [same(), this.comparator(element, d, sc)])],
      [2, () => call(r.pick(['reverse', 'distinct']), [same()])],
      [2, () => call('append', [same(), r.chance(0.5) ? same() : this.gen(element, d - 1, sc)])],
      [4, () => this.pathMap(element, d, sc)],
      [ty === 'strs' ? 4 : 0, () => call('split', [this.gen('str', d - 1, sc), atom(r.pick(SEPARATORS))].concat(r.chance(0.3) ? [atom(r.pick(['0', '1', '2']))] : []))],
      [ty === 'strs' ? 3 : 0, () => call('keys', [this.gen('obj', d - 1, sc)])],
      [ty === 'strs' ? 2 : 0, () => call('each', [this.gen('obj', d - 1, sc), this.lambda(['any', 'str'], 'str', d, sc)])],
      [ty === 'objs' ? 2 : 0, () => call('spread', [this.gen('obj', d - 1, sc)])],
      [2, () => this.chain(ty, d, sc)],
      [2, () => this.condition(ty, d, sc)],
      [2, () => this.block(ty, d, sc)],
      [this.callableFns(sc, ty).length > 0 ? 3 : 0, () => this.callUserFn(ty, d, sc)],
      [ty === 'strs' ? 3 : 0, () => this.regexCall('strs', d, sc)],
      [ty === 'objs' ? 3 : 1.5, () => this.orderBy(ty, d, sc)],
      [1, () => this.descendants(ty)],
      [1.5, () => this.partial(ty, d, sc)],
      [1, () => this.composition(ty, sc, d)],
      [ty === 'strs' ? 1 : 0, () => call('keys', [this.gen('objs', d - 1, sc)])],
      [ty === 'objs' ? 1 : 0, () => call('spread', [this.gen('objs', d - 1, sc)])],
    ])();
  }

  private range(d: number, sc: Scope): Expr {
    const r = this.rng;
    const bound = (): string => r.weighted<() => string>([
      [6, () => String(r.int(-2, 8))],
      [1, () => '$count(items)'],
      [1, () => r.pick(['$n', '1.5', '"3"'])],
    ])();
    const parts = [`${bound()}..${bound()}`];
    if (r.chance(0.2)) parts.push(this.gen('num', d - 1, sc).s);
    if (r.chance(0.1)) parts.unshift(`${bound()}..${bound()}`);
    return atom(`[${parts.join(', ')}]`);
  }

  private comparator(element: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    const [a, b] = [this.fresh(['l', 'a']), this.fresh(['r', 'b'])];
    if (r.chance(0.7)) {
      const field = element === 'obj' ? `.${r.pick(['price', 'type', 'v'])}` : '';
      return atom(`function($${a}, $${b}){ $${a}${field} ${r.pick(['>', '<', '>='])} $${b}${field} }`);
    }
    return atom(`function($${a}, $${b}){ ${this.gen('bool', d - 1, { ...sc, vars: [...sc.vars, { name: a, ty: element }, { name: b, ty: element }] }).s} }`);
  }

  // ----- objects

  private obj(d: number, sc: Scope): Expr {
    const r = this.rng;
    return r.weighted<() => Expr>([
      [6, () => this.objectConstructor(d, sc)],
      [2, () => call('merge', [r.chance(0.5) ? atom(`[${this.gen('obj', d - 1, sc).s}, ${this.gen('obj', d - 1, sc).s}]`) : this.gen('objs', d - 1, sc)])],
      [2, () => call('sift', [this.gen('obj', d - 1, sc), this.lambda(['any', 'str'], 'bool', d, sc)])],
      [2, () => call('single', [this.gen('objs', d - 1, sc), this.lambda(['obj', 'num'], 'bool', d, sc)])],
      [2, () => ({ s: `${operand(this.gen('objs', d - 1, sc), FILTER)}[${this.predicate(d, sc)}]`, p: FILTER })],
      // Grouping: of anything (keyExpr), and of items after a path (grouping()).
      [1, () => ({ s: `${operand(this.gen('objs', d - 1, sc), GROUP)}{${this.keyExpr(d, sc)}: ${this.gen(r.pick<Ty>(['num', 'str', 'any']), d - 1, sc).s}}`, p: GROUP })],
      [3, () => this.grouping(d, sc)],
      [3, () => this.transformed(d, sc)],
      [1, () => this.orderBy('obj', d, sc)],
      [1, () => this.partial('obj', d, sc)],
      [1, () => this.composition('obj', sc, d)],
      [
        1,
        () =>
          call('sift', [
            this.gen('obj', d - 1, sc),
            atom(r.pick(['function($v, $k){ $k in ["a", "type", "price"] }', 'function($v){ $type($v) = "number" }', 'function($v, $k, $o){ $count($keys($o)) > 2 }'])),
          ]),
      ],
      [1, () => call('merge', [atom(`[${this.gen('obj', d - 1, sc).s}, ${r.pick(['{"extra": 1}', '{"a": null}', '{}', 'items', '"x"'])}]`)])],
      [2, () => this.condition('obj', d, sc)],
      [2, () => this.block('obj', d, sc)],
      [1, () => this.coalesce('obj', d, sc)],
      [2, () => this.chain('obj', d, sc)],
      [this.callableFns(sc, 'obj').length > 0 ? 2 : 0, () => this.callUserFn('obj', d, sc)],
    ])();
  }

  /** `{"k": v, ...}`: usually literal keys, sometimes from an expression, now and then colliding. */
  private objectConstructor(d: number, sc: Scope, minKeys = 0): Expr {
    const r = this.rng;
    const keys = r.shuffled(OBJECT_KEYS).slice(0, r.int(minKeys, 4));
    if (keys.length > 0 && r.chance(0.03)) keys.push(r.pick(keys));
    const pairs = keys.map((key) => `${r.chance(0.1) ? this.keyExpr(d, sc) : key}: ${this.gen(r.pick<Ty>(['num', 'str', 'any', 'any', 'nums', 'obj', 'bool', 'objs']), d - 1, sc).s}`);
    return atom(`{${pairs.join(', ')}}`);
  }

  private keyExpr(d: number, sc: Scope): string {
    const r = this.rng;
    return r.weighted<() => string>([
      [4, () => 'type'],
      [1, () => r.pick(['`name with space`', 'v', '$string(price)', '"k" & type', '$topic'])],
      [1, () => operand(this.gen('str', d - 1, sc), CMP)],
    ])();
  }

  // ----- anything

  private any(d: number, sc: Scope): Expr {
    const r = this.rng;
    return r.weighted<() => Expr>([
      [10, () => this.gen(r.pick(ALL_TYPES.filter((t) => t !== 'any')), d, sc)],
      [3, () => atom(`[${Array.from({ length: r.int(0, 3) }, () => (r.chance(0.25) ? `[${this.gen('any', d - 1, sc).s}]` : this.gen('any', d - 1, sc).s)).join(', ')}]`)],
      [1, () => call('zip', Array.from({ length: r.int(1, 3) }, () => this.gen(r.pick<Ty>(['nums', 'strs', 'any']), d - 1, sc)))],
      [2, () => call('lookup', [this.gen(r.pick<Ty>(['obj', 'objs']), d - 1, sc), atom(r.pick(['"type"', '"price"', '"a"', '"items"', '"zz"']))])],
      [2, () => this.condition('any', d, sc)],
      [2, () => this.coalesce('any', d, sc)],
      [2, () => this.pathMap('any', d, sc)],
      [1, () => call('each', [this.gen('obj', d - 1, sc), this.lambda(['any', 'str'], 'any', d, sc)])],
      [0.5, () => this.functionValue(sc)],
      [1.5, () => this.regexCall('any', d, sc)],
      [1, () => this.orderBy('any', d, sc)],
      [1.5, () => this.descendants('any')],
      [1, () => this.partial('any', d, sc)],
      [1, () => this.transformed(d, sc)],
      [0.5, () => call('zip', [this.gen('nums', d - 1, sc), this.gen('strs', d - 1, sc)])],
      [0.5, () => call('each', [this.gen('obj', d - 1, sc), atom(r.pick(['function($v){ $v }', 'function($v, $k){ {$k: $v} }', 'function($v, $k, $o){ $count($keys($o)) }']))])],
    ])();
  }

  /** A function as a value (the result compares as "a function"). */
  private functionValue(sc: Scope): Expr {
    const r = this.rng;
    const x = this.fresh(['x']);
    return r.weighted<() => Expr>([
      [2, () => atom(r.pick(['$uppercase', '$string', '$sum']))],
      [2, () => atom(`function($${x}){ $${x} * 2 }`)],
      [1, () => ({ s: '$uppercase(?) ~> $trim(?)', p: CMP })],
      [1, () => atom(`{"f": function($${x}){ $${x} }, "k": 1}`)],
      [sc.fns.length > 0 ? 2 : 0, () => atom(`$${r.pick(sc.fns).name}`)],
      [1, () => atom(this.transform(1, sc))],
      [1, () => atom(this.use(r.pick(PARTIALS)))],
      [1, () => this.composition(r.pick(ALL_TYPES), sc)],
      // jsonata's parser reads a `/` right after an opening `(` or `[` as division: a regex literal
      // only follows `,`, `:` or an operator.
      [0.5, () => atom(`{"re": ${this.regex()}}`)],
    ])();
  }

  // ----- regular expressions

  /** A regular expression literal; now and then one that matches the empty string (D1004 in $match, $split, $replace). */
  private regex(): string {
    const r = this.rng;
    this.regexes++;
    const body = r.chance(0.12) ? r.pick(ZERO_LENGTH_REGEXES) : r.pick(REGEXES);
    return `/${body}/${r.weighted(REGEX_FLAGS)}`;
  }

  /** `function($m){ … }` for `$replace`: usually a string from the match, sometimes not a string (D3012). */
  private replacer(d: number, sc: Scope): string {
    const r = this.rng;
    const m = this.fresh(['m', 'found']);
    const body = r.weighted<() => string>([
      [4, () => `$uppercase($${m}.match)`],
      [2, () => `$string($${m}.index)`],
      [2, () => `$join($${m}.groups, "+")`],
      [1, () => `"<" & $${m}.match & ">"`],
      [1, () => `$${m}.groups[0]`],
      [1, () => `$length($${m}.match)`],
      [1, () => this.gen('str', d - 1, { ...sc, vars: [...sc.vars, { name: m, ty: 'obj' }] }).s],
    ])();
    return `function($${m}){ ${body} }`;
  }

  /** `$match`, `$contains`, `$split`, `$replace` with a regular expression, as `ty`. */
  private regexCall(ty: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    const s = (): Expr => this.gen('str', d - 1, sc);
    const re = (): Expr => atom(this.regex());
    const limit = (p: number): Expr[] => (r.chance(p) ? [atom(r.pick(MATCH_LIMITS))] : []);
    switch (ty) {
      case 'str':
        return r.weighted<() => Expr>([
          [4, () => call('replace', [s(), re(), atom(r.pick(REPLACEMENTS)), ...limit(0.25)])],
          [3, () => call('replace', [s(), re(), atom(this.replacer(d, sc)), ...limit(0.15)])],
          [1, () => call('join', [atom(`$match(${s().s}, ${this.regex()}).match`), atom(r.pick(SEPARATORS))])],
          [0.5, () => ({ s: `(${operand(s(), CMP)} ~> ${this.regex()}).match`, p: DOT })],
        ])();
      case 'bool':
        return r.weighted<() => Expr>([
          [4, () => call('contains', [s(), re()])],
          [1, () => call('exists', [call('match', [s(), re()])])],
        ])();
      case 'strs':
        return call('split', [s(), re(), ...limit(0.35)]);
      case 'num':
        return r.weighted<() => Expr>([
          [2, () => call('count', [call('match', [s(), re(), ...limit(0.2)])])],
          [1, () => call('sum', [atom(`$match(${s().s}, ${this.regex()}).index`)])],
        ])();
      default:
        return r.weighted<() => Expr>([
          [4, () => call('match', [s(), re(), ...limit(0.3)])],
          [1, () => ({ s: `$match(${s().s}, ${this.regex()})${r.pick(['.groups', '[0].match', '.index', '[1]'])}`, p: DOT })],
        ])();
    }
  }

  /** A partial application's text, counting the regex literal it may hold (see coalesce()). */
  private use(p: PartialFn): string {
    if (p.s.includes(', /')) this.regexes++;
    return p.s;
  }

  // ----- order-by, grouping, transforms, descendants

  /** `items^(>price, type)`: order-by on a path, by terms of sometimes mixed types (T2007) or not comparable at all (T2008). */
  private sorted(d: number, sc: Scope): string {
    const r = this.rng;
    const base = r.weighted<() => string>([
      [8, () => r.pick(['items', 'items', 'a.items', '$.items', 'items.items', 'b.items'])],
      [2, () => `items[${this.predicate(1, sc)}]`],
      [1, () => r.pick(['$', '*', 'items.price', '**.price', 'items.type'])],
    ])();
    const count = r.weighted([
      [6, 1],
      [3, 2],
      [1, 3],
    ]);
    const terms = Array.from({ length: count }, () => {
      const direction = r.weighted([
        [3, ''],
        [2, '<'],
        [2, '>'],
      ]);
      const key = r.weighted<() => string>([
        [8, () => r.pick(['price', 'price', 'type', 'type', 'v'])],
        [2, () => r.pick(['-price', '$string(price)', 'type & v', '$lowercase(type)', 'missing', '$count(items)', '$', 'a', 'items', 'price * 2'])],
        [1, () => this.gen(r.pick<Ty>(['num', 'str']), d - 1, sc).s],
      ])();
      return `${direction}${key}`;
    });
    return `${base}^(${terms.join(', ')})`;
  }

  /** An order-by, then what `ty` wants of the sorted items. Binds as loosely as `^` (40). */
  private orderBy(ty: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    const sorted = this.sorted(d, sc);
    const after = ((): string => {
      switch (ty) {
        case 'objs':
          return r.chance(0.8) ? '' : `[${this.predicate(d, sc)}]`;
        case 'obj':
          return r.pick(['[0]', '[-1]', '[1]']);
        case 'nums':
          return `.${r.pick(NUM_FIELDS)}`;
        case 'strs':
          return `.${r.pick(STR_FIELDS)}`;
        case 'num':
          return `[0].${r.pick(NUM_FIELDS)}`;
        case 'str':
          return `[${r.pick(['0', '-1'])}].${r.pick(STR_FIELDS)}`;
        default:
          return r.pick(['', '.type', '.price', '[0]', '.{"t": type}', '.$string(v)']);
      }
    })();
    return { s: sorted + after, p: CMP };
  }

  /** `items{type: $sum(price)}`: grouping after a path; keys now and then not strings (T1003) or the same twice (D1009). */
  private grouping(d: number, sc: Scope): Expr {
    const r = this.rng;
    let p = GROUP;
    const base = r.weighted<() => string>([
      [8, () => r.pick(['items', 'items', 'a.items', '$.items', 'items.items', '$'])],
      [2, () => `items[${this.predicate(1, sc)}]`],
      [1, () => {
        p = CMP;
        return this.sorted(d, sc);
      }],
      [1, () => operand(this.gen('objs', d - 1, sc), GROUP)],
      [1, () => r.pick(['*', 'a', '**'])],
    ])();
    const key = (): string =>
      r.weighted<() => string>([
        [8, () => 'type'],
        [2, () => r.pick(['$string(price)', 'type & "-" & $string(v)', '$uppercase(type)', '"all"', '"x"'])],
        [1, () => r.pick(['price', 'v', 'items', '$', 'a'])],
      ])();
    const value = (): string =>
      r.weighted<() => string>([
        [3, () => '$sum(price)'],
        [2, () => 'price'],
        [2, () => '$count($)'],
        [2, () => r.pick(['$max(price)', '$average(price)', '$join(type, ",")', '$', '[price]', 'v', '$string(v)', '{"n": $count($), "total": $sum(price)}', '$.price ~> $map($string)'])],
        [1, () => this.gen(r.pick<Ty>(['num', 'str', 'any', 'nums']), d - 1, sc).s],
      ])();
    const pairs = [`${key()}: ${value()}`];
    if (r.chance(0.2)) pairs.push(`${r.chance(0.5) ? key() : r.pick(['"x"', '"total"', 'type'])}: ${value()}`);
    return { s: `${base}{${pairs.join(', ')}}`, p };
  }

  /** `|items|{"seen": true}, ["v"]|`: the update now and then not an object (T2011), the deletion not strings (T2012). */
  private transform(d: number, sc: Scope): string {
    const r = this.rng;
    const pattern = r.weighted<() => string>([
      [8, () => r.pick(['items', 'items', 'a', 'items[0]', 'b', 'a.items', '$', 'items.items'])],
      [2, () => `items[${this.predicate(1, sc)}]`],
      [1, () => r.pick(['v', 'missing', '*', '**', 'a.b', 'type'])],
    ])();
    const update = r.weighted<() => string>([
      [8, () => r.pick(['{"seen": true}', '{"x": v}', '{"total": price * 2}', '{"type": $uppercase(type)}', '{}', '{"n": $count(items)}', '{"price": price + 1}', '{"items": []}'])],
      [2, () => this.updateObject(d - 1, sc)],
      [1, () => r.pick(['v', 'price', '"str"', '[1]', 'null', 'type', 'a', 'true'])],
    ])();
    const deletion = r.chance(0.35)
      ? `, ${r.weighted<() => string>([
          [6, () => r.pick(['["b"]', '"a"', '["type", "v"]', '"price"', '[]', '["missing"]', '"items"', '$keys($)[0]'])],
          [1, () => r.pick(['[1]', 'price', 'type', 'v', '["a", 2]', 'true', 'null'])],
        ])()}`
      : '';
    return `|${pattern}|${update}${deletion}|`;
  }

  /**
   * An object constructor for a transform's update, whose values cannot hold the match itself
   * (`$`, `**`): that would make the result circular, which no comparison can walk.
   */
  private updateObject(d: number, sc: Scope): string {
    for (let attempt = 0; attempt < 5; attempt++) {
      const s = this.objectConstructor(d, sc).s;
      if (!/\$(?![\w$])|\*\*/.test(s)) return s;
    }
    return '{"fallback": true}';
  }

  /** `$ ~> |…|…|`: a transform applied to an object (sometimes to something else: T0410). */
  private transformed(d: number, sc: Scope): Expr {
    const r = this.rng;
    const target = r.weighted<() => string>([
      [8, () => '$'],
      [3, () => r.pick(['a', 'items[0]', '$$', 'items', '{"a": {"b": 1}, "items": [{"v": 1}, {"v": "s"}]}'])],
      [1, () => operand(this.gen(r.pick<Ty>(['obj', 'any', 'objs']), d - 1, sc), CMP)],
    ])();
    let s = `${target} ~> ${this.transform(d, sc)}`;
    if (r.chance(0.1)) s += ` ~> ${this.transform(d, sc)}`;
    return { s, p: CMP };
  }

  /** Wildcards and descendants (`*`, `a.*`, `**.price`, `$count(**)`) as `ty`. */
  private descendants(ty: Ty): Expr {
    const r = this.rng;
    switch (ty) {
      case 'num':
        return atom(`$${r.pick(['count', 'count', 'count', 'max', 'sum'])}(${r.pick(['**', 'a.**', '*', 'items.*', '**.price', '**[type = "x"]', '**.items', 'items.**'])})`);
      case 'strs':
        return r.chance(0.3) ? atom('$distinct(**.type)') : { s: r.pick(['**.type', '*.type', 'a.**.type', 'items.**.type']), p: DOT };
      case 'nums':
        return { s: r.pick(['**.price', '**.v', 'items.**.price', '*.price']), p: DOT };
      case 'objs':
        return r.chance(0.5) ? { s: r.pick(['**[type]', '**[price > 1]', '*[type = "x"]']), p: FILTER } : { s: r.pick(['**.items', '*.items', 'items.*']), p: DOT };
      default:
        return r.weighted<() => Expr>([
          [2, () => atom(r.pick(['**', '*']))],
          [3, () => ({ s: r.pick(['a.**', 'a.*', '$.*', 'items.**', '**.a', '*.*', 'items[0].*']), p: DOT })],
          [1, () => ({ s: r.pick(['**[0]', '*[0]', '**[type = "x"]', '*[-1]']), p: FILTER })],
          [1, () => atom(r.pick(['$keys(*)', '$keys(**)', '$type(**)']))],
        ])();
    }
  }

  // ----- partial application and composition

  /** `$substring(?, 0, 2)`, `$f(?, "x")` with `$f` defined alongside: applied, bound and applied, or given to `$map`. */
  private partial(ty: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    const fitting = PARTIALS.filter((p) => p.ty === ty || ty === 'any');
    const g = this.fresh(FN_NAMES);
    const options: (readonly [number, () => Expr])[] = [];
    if (fitting.length > 0) {
      options.push([3, () => {
        const p = r.pick(fitting);
        return atom(`${this.use(p)}(${this.gen(p.arg, d - 1, sc).s})`);
      }]);
      options.push([2, () => {
        const p = r.pick(fitting);
        return atom(`($${g} := ${this.use(p)}; $${g}(${this.gen(p.arg, d - 1, sc).s}))`);
      }]);
    }
    if (ty === 'str' || ty === 'num' || ty === 'any') {
      // A function of the expression's own, some of its arguments fixed.
      options.push([3, () => {
        const f = this.fresh(FN_NAMES);
        const [a, b] = [this.fresh(['a', 'p']), this.fresh(['b', 'q'])];
        const numeric = ty === 'num';
        const body = numeric ? r.pick([`$${a} + $${b}`, `$${a} * 10 + $${b}`, `$${a} - $${b}`]) : r.pick([`$${a} & $${b}`, `$${a} & "-" & $${b}`, `$substring($${a}, 0, 2) & $${b}`]);
        const fixed = (): string => (numeric ? this.numberLiteral().s : r.pick(STRING_LITERALS));
        const arg = (): string => this.gen(numeric ? 'num' : 'str', d - 1, sc).s;
        const [bound, applied] = r.weighted<() => readonly [string, string]>([
          [3, () => [`?, ${fixed()}`, arg()]],
          [3, () => [`${fixed()}, ?`, arg()]],
          [1, () => ['?, ?', `${arg()}, ${arg()}`]],
          [1, () => ['?, ?', arg()]],
        ])();
        return atom(`($${f} := function($${a}, $${b}){ ${body} }; $${g} := $${f}(${bound}); $${g}(${applied}))`);
      }]);
    }
    const element = ELEMENT[ty];
    const mapped = PARTIALS.filter((p) => p.ty === element && (p.arg === 'str' || p.arg === 'num' || p.arg === 'any'));
    if (mapped.length > 0) {
      options.push([3, () => {
        const p = r.pick(mapped);
        return call('map', [this.gen(p.arg === 'str' ? 'strs' : p.arg === 'num' ? 'nums' : 'any', d - 1, sc), atom(this.use(p))]);
      }]);
    }
    // Partial application of something that is not a function: T1008, or T1007 for a built-in's name without `$`.
    options.push([
      0.3,
      () => atom(r.pick(['$unbound(?, 1)("x")', 'substring(?, 1)("abc")', '$n(?)(1)', '$string(?, true)({"a": 1})', '$map(?, $string)([1, 2])', '$sort(?, function($l, $r){ $l > $r })([2, 1])'])),
    ]);
    return r.weighted(options)();
  }

  /**
   * A function to compose; a built-in wrapped (`$trim(?)`, `function($v){ $trim($v) }`). jsonata's
   * composition calls its parts as `$f` and `$g`, which renames the built-in's function object,
   * shared by every evaluation in the process (its `token`, named in error messages); the rest of
   * an earlier case still running in the background (the other items of an array constructor
   * that failed) would then make jsonata name a built-in "f" or "g" in a later case's errors, at
   * random. A lambda or a partial application is a new function object each evaluation.
   */
  private composable(f: PartialFn): string {
    if (!/^\$\w+$/.test(f.s)) return f.s;
    const v = this.fresh(['v', 's']);
    // `$string(?)` always fails (S0208, see PARTIALS).
    return f.s !== '$string' && this.rng.chance(0.5) ? `${f.s}(?)` : `function($${v}){ ${f.s}($${v}) }`;
  }

  /** `$f ~> $g` with both functions: their composition, applied to an argument (or, for 'fn', the function itself). */
  private composition(ty: Ty, sc: Scope, d = 1): Expr {
    const r = this.rng;
    const producing = (t: Ty): PartialFn => {
      const fitting = COMPOSABLE.filter((f) => f.ty === t || t === 'any');
      return r.chance(0.05) || fitting.length === 0 ? r.pick(COMPOSABLE) : r.pick(fitting);
    };
    const last = producing(ty);
    const chain = [last];
    for (let k = r.weighted([[4, 1], [1, 2]]); k > 0; k--) chain.unshift(producing((chain[0] as PartialFn).arg));
    const composed = chain.map((f) => this.composable(f)).join(' ~> ');
    const arg = (): string => this.gen((chain[0] as PartialFn).arg, d - 1, sc).s;
    const h = this.fresh(FN_NAMES);
    return r.weighted<() => Expr>([
      [3, () => atom(`(${composed})(${arg()})`)],
      [3, () => atom(`($${h} := ${composed}; $${h}(${arg()}))`)],
      [2, () => ({ s: `${operand(this.gen((chain[0] as PartialFn).arg, d - 1, sc), CMP)} ~> (${composed})`, p: CMP })],
      [1, () => atom(`($${h} := ${composed}; $${h})`)],
      // Not a function on one side: T2006, or the composition applied where a value is.
      [0.2, () => ({ s: `${r.pick(['$uppercase ~> 5', '"x" ~> $uppercase ~> $length', '$unbound ~> $trim'])}`, p: CMP })],
    ])();
  }

  // ----- shared forms

  private condition(ty: Ty, d: number, sc: Scope): Expr {
    const c = operand(this.gen('bool', d - 1, sc), COND + 1);
    const then = operand(this.gen(ty, d - 1, sc), COND + 1);
    return { s: this.rng.chance(0.8) ? `${c} ? ${then} : ${operand(this.gen(ty, d - 1, sc), COND + 1)}` : `${c} ? ${then}`, p: COND };
  }

  /** `??` and `?:` take everything to their right; treated as low-binding so they are wrapped as operands. */
  private coalesce(ty: Ty, d: number, sc: Scope): Expr {
    const op = this.rng.pick(['??', '?:']);
    const leftTy = this.rng.chance(0.5) ? 'any' : ty;
    const before = this.regexes;
    let left = this.gen(leftTy, d - 1, sc);
    // jsonata's parser copies the left operand through JSON, which turns a regex literal into `{}`:
    // a matcher without the g flag, on which $match, $split and $replace loop forever.
    if (this.regexes !== before) left = this.leaf(leftTy, sc);
    return { s: `${operand(left, ADD)} ${op} ${operand(this.gen(ty, d - 1, sc), ADD)}`, p: COND };
  }

  /** A path that maps an expression over each selected item: `items.(price * 2)`, `items.{...}`. */
  private pathMap(ty: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    // A number, boolean or null literal is not allowed as a step (S0213); a string one is a name.
    const asStep = (e: Expr): string => (/^(-?[\d.]|true$|false$|null$)/.test(e.s) ? `(${e.s})` : operand(e, DOT + 1));
    const over = r.weighted<() => string>([
      [5, () => this.multiPrefix(sc)],
      [2, () => `${asStep(this.gen(r.pick<Ty>(['objs', 'nums']), d - 1, sc))}.`],
      [1, () => this.singlePrefix(sc)],
    ])();
    const step = r.weighted<() => string>([
      [4, () => asStep(this.gen(ty, d - 1, sc))],
      [ty === 'obj' ? 4 : 1, () => this.objectConstructor(d - 1, sc).s],
      [1, () => `[${this.gen('any', d - 1, sc).s}, ${this.gen('any', d - 1, sc).s}]`],
      [1, () => `$string(${r.pick(NUM_FIELDS)})`],
    ])();
    const s = `${over}${step}`;
    return r.chance(0.1) ? { s: `${s}[]`, p: FILTER } : { s, p: DOT };
  }

  /** `x ~> $fn(...)`: built-ins, higher-order functions and functions defined in scope. */
  private chain(ty: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    const lhs = (t: Ty): string => operand(this.gen(t, d - 1, sc), CMP);
    const user = this.callableFns(sc, ty).filter((fn) => fn.params.length >= 1);
    const options: (readonly [number, () => Expr])[] = [];
    switch (ty) {
      case 'num':
        options.push([3, () => ({ s: `${lhs('nums')} ~> ${r.pick(['$sum()', '$max()', '$count()', '$average()'])}`, p: CMP })]);
        options.push([2, () => ({ s: `${lhs('str')} ~> $length()`, p: CMP })]);
        options.push([2, () => ({ s: `${lhs('num')} ~> ${r.pick(['$abs()', '$round(1)', '$floor'])}`, p: CMP })]);
        break;
      case 'str':
        options.push([4, () => ({ s: `${lhs('str')} ~> ${r.pick(['$uppercase()', '$trim()', '$lowercase', '$substring(1, 3)', '$pad(6)'])}${r.chance(0.3) ? ' ~> $length() ~> $string()' : ''}`, p: CMP })]);
        options.push([2, () => ({ s: `${lhs('strs')} ~> $join(${r.pick(SEPARATORS)})`, p: CMP })]);
        options.push([1, () => ({ s: `${lhs('any')} ~> $string()`, p: CMP })]);
        options.push([1, () => ({ s: `${lhs('str')} ~> ($uppercase(?) ~> $trim(?))`, p: CMP })]);
        break;
      case 'nums':
      case 'strs':
      case 'objs': {
        const el = ELEMENT[ty] ?? 'any';
        options.push([3, () => ({ s: `${lhs(ty)} ~> $map(${this.lambda([el, 'num'], el, d, sc).s})`, p: CMP })]);
        options.push([2, () => ({ s: `${lhs(ty)} ~> $filter(${this.lambda([el], 'bool', d, sc).s})`, p: CMP })]);
        options.push([2, () => ({ s: `${lhs(ty)} ~> $sort() ~> $reverse()`, p: CMP })]);
        break;
      }
      default:
        options.push([2, () => ({ s: `${lhs(ty)} ~> $merge()`, p: CMP })]);
        options.push([1, () => ({ s: `${lhs('objs')} ~> $single(${this.lambda(['obj'], 'bool', d, sc).s})`, p: CMP })]);
    }
    if (user.length > 0) {
      options.push([
        4,
        () => {
          const fn = r.pick(user);
          const rest = fn.params.slice(1).map((t) => this.gen(t, d - 1, sc).s);
          const first = fn.params[0] ?? 'any';
          return { s: `${lhs(first)} ~> $${fn.name}${rest.length > 0 || r.chance(0.5) ? `(${rest.join(', ')})` : ''}`, p: CMP };
        },
      ]);
    }
    return r.weighted(options)();
  }

  /** `($x := ...; $f := function(...){...}; body)` */
  private block(ty: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    const statements: string[] = [];
    let scope = sc;
    for (let k = r.int(1, 2); k > 0; k--) {
      if (r.chance(0.4)) {
        const params: Var[] = Array.from({ length: r.int(1, 2) }, () => ({ name: this.fresh(VAR_NAMES), ty: r.pick<Ty>(['num', 'num', 'str', 'obj', 'nums', 'any']) }));
        const result = r.pick<Ty>(['num', 'str', 'bool', 'any', 'obj']);
        const name = this.fresh(FN_NAMES);
        // The body cannot name the function itself: recursion is only generated, bounded, by recursion().
        const body = this.gen(result, d - 1, { ...scope, vars: [...scope.vars, ...params] });
        const signature = r.chance(0.15) ? `<${params.map((p) => SIGNATURE[p.ty]).join('')}:${SIGNATURE[result]}>` : '';
        statements.push(`$${name} := function(${params.map((p) => `$${p.name}`).join(', ')})${signature}{ ${body.s} }`);
        scope = { ...scope, fns: [...scope.fns, { name, params: params.map((p) => p.ty), ty: result }] };
      } else {
        const existing = scope.vars.filter((v) => v.ty !== 'any');
        // Now and then rebind a variable of an enclosing block (shadowing reads the outer value).
        const shadow = existing.length > 0 && r.chance(0.1) ? r.pick(existing) : undefined;
        const v: Var = shadow ?? { name: this.fresh(VAR_NAMES), ty: r.pick<Ty>(['num', 'num', 'str', 'obj', 'objs', 'nums', 'bool', 'any']) };
        statements.push(`$${v.name} := ${operand(this.gen(v.ty, d - 1, scope), COND)}`);
        scope = { ...scope, vars: [...scope.vars, v] };
      }
    }
    statements.push(this.gen(ty, d - 1, scope).s);
    return atom(`(${statements.join('; ')})`);
  }

  /** `function($v, $i){ ... }` for a higher-order function; `params` are the types of the arguments it gets. */
  private lambda(params: readonly Ty[], result: Ty, d: number, sc: Scope): Expr {
    const r = this.rng;
    // Built-ins and functions in scope are functions too.
    if (r.chance(0.08)) {
      const user = sc.fns.filter((fn) => fn.params.length <= params.length);
      if (user.length > 0 && r.chance(0.5)) return atom(`$${r.pick(user).name}`);
      return atom(result === 'bool' ? r.pick(['$boolean', '$exists', '$not']) : r.pick(['$string', '$uppercase', '$number', '$abs', '$count']));
    }
    // A partial application or a composition of functions of the argument's type.
    if (r.chance(0.06)) {
      const first = params[0] ?? 'any';
      const fits = (f: PartialFn): boolean => (f.arg === first || f.arg === 'any') && (f.ty === result || result === 'any');
      const partials = PARTIALS.filter(fits);
      if (partials.length > 0 && r.chance(0.7)) return atom(this.use(r.pick(partials)));
      const composable = COMPOSABLE.filter(fits);
      if (composable.length > 0) {
        const last = r.pick(composable);
        const before = COMPOSABLE.filter((f) => f.arg === first && (f.ty === last.arg || last.arg === 'any'));
        if (before.length > 0) return { s: `${this.composable(r.pick(before))} ~> ${this.composable(last)}`, p: CMP };
      }
    }
    const used = params.slice(0, r.int(1, params.length));
    const vars: Var[] = used.map((ty, k) => ({ name: this.fresh(k === 0 ? ['v', 'item', 'x'] : ['i', 'k', 'key']), ty }));
    const body = this.gen(result, d - 1, { ...sc, vars: [...sc.vars, ...vars] });
    return atom(`function(${vars.map((v) => `$${v.name}`).join(', ')}){ ${body.s} }`);
  }

  private callableFns(sc: Scope, ty: Ty): UserFn[] {
    return sc.fns.filter((fn) => fn.ty === ty || (ty === 'any' && fn.ty !== 'bool'));
  }

  private callUserFn(ty: Ty, d: number, sc: Scope): Expr {
    const fn = this.rng.pick(this.callableFns(sc, ty));
    // Arguments sometimes missing or of the wrong type: a signature turns those into errors.
    const args = fn.params.slice(0, this.rng.chance(0.1) ? fn.params.length - 1 : fn.params.length).map((t) => this.gen(t, d - 1, sc));
    return call(fn.name, args);
  }
}

const SIGNATURE: Readonly<Record<Ty, string>> = { num: 'n', str: 's', bool: 'b', nums: 'a<n>', strs: 'a<s>', objs: 'a<o>', obj: 'o', any: 'x' };

/** A random expression; `rng` decides everything. */
export function generateExpression(rng: Rng, options: ExpressionOptions): string {
  return new ExpressionGenerator(rng, options).top();
}

/**
 * An expression that recurses without end (directly, mutually, through a higher-order function,
 * or per item). Only for engines with a depth limit, where it must fail with the same code.
 */
export function generateRunaway(rng: Rng): string {
  return rng.weighted([
    [6, '($f := function($n){ $n + $f($n + 1) }; $f(0))'],
    [6, '($f := function($n){ [$n, $f($n + 1)] }; $f(0))'],
    [6, '($f := function($s){ $f($s & "a") & "b" }; $f("x"))'],
    [6, '($f := function($n){ $g($n) + 1 }; $g := function($n){ $f($n) + 1 }; $f(0))'],
    [6, '[1, 2].($f := function($p){ 1 + $f($p) }; $f($))'],
    [6, '($f := function($o){ {"next": $f($o)} }; $f($))'],
    [6, '($f := function($n){ $n > 1000000 ? 0 : 1 + $f($n + 1) }; $f(0))'],
    [6, '($f := function($n){ $n < 0 ? $n : $f($n + 1) * 2 }; $f($count(items)))'],
    [6, '($f := function($n){ $n ~> $f }; $f(0))'],
    [6, '($f := function($n){ $sum([$f($n)]) }; $f(0))'],
    // jsonata's depth count does not grow through these (a tail call runs as a loop), so they
    // end at the timeout, a second each: kept rare.
    [0.5, '($f := function($n){ $map([$n], function($v){ $f($v + 1) }) }; $f(1))'],
    [0.5, '($f := function($n){ $f($n + 1) }; $f(0))'],
  ]);
}

// ---------------------------------------------------------------------------------------------
// Comparing outcomes

/** How one evaluation ended. */
export type Outcome = { readonly kind: 'value'; readonly value: unknown } | { readonly kind: 'error'; readonly code: string | undefined; readonly message: string; readonly token: unknown };

export function errorOutcome(error: unknown): Outcome {
  if (typeof error === 'object' && error !== null) {
    const { code, message, token } = error as { code?: unknown; message?: unknown; token?: unknown };
    const name = error instanceof Error ? error.constructor.name : 'object';
    return { kind: 'error', code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : `${name} without a message`, token };
  }
  return { kind: 'error', code: undefined, message: `thrown ${typeof error}: ${String(error)}`, token: undefined };
}

/** A JavaScript function, a jsonata built-in or a lambda (jsonata's or the compiler's). */
export function isFunctionValue(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { _jsonata_lambda?: unknown; _jsonata_function?: unknown };
  return v._jsonata_lambda === true || v._jsonata_function === true;
}

/**
 * Deep equality as a user sees a result: arrays by their elements only (jsonata's `sequence`,
 * `keepSingleton` and similar flags are ignored), objects by their own enumerable keys in the
 * same order (output JSON keeps it), functions only as "a function", undefined distinct from
 * any value (also as an object member), numbers by value (0 equals -0; NaN equals NaN).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (isFunctionValue(a) || isFunctionValue(b)) return isFunctionValue(a) && isFunctionValue(b);
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const key = ka[i] as string;
    if (key !== kb[i]) return false;
    if (!sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** Both produced the same value, or both failed with the same code and message. */
export function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.kind === 'value' && b.kind === 'value') return sameValue(a.value, b.value);
  if (a.kind === 'error' && b.kind === 'error') return a.code === b.code && a.message === b.message;
  return false;
}

/** A value as JSON-ish text (functions, undefined and non-finite numbers spelt out), cut at `max` characters. */
export function show(value: unknown, max = 240): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else if (isFunctionValue(value)) text = '<function>';
  else {
    try {
      text = JSON.stringify(value, (_key, v: unknown) => {
        if (v === undefined) return '<undefined>';
        if (isFunctionValue(v)) return '<function>';
        if (typeof v === 'number' && !Number.isFinite(v)) return `<${String(v)}>`;
        return v;
      });
    } catch (error) {
      text = `<unprintable: ${String(error)}>`;
    }
  }
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

export function showOutcome(outcome: Outcome, max = 240): string {
  if (outcome.kind === 'value') return show(outcome.value, max);
  const text = `error ${outcome.code ?? '(no code)'}: ${outcome.message}`;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
