/**
 * Generators and comparison for the expression fuzzer (test/fuzz/expression.fuzz.test.ts): a
 * seeded PRNG, random JSON inputs shaped like MQTT payloads, random JSONata expressions inside
 * the subset the compiler (src/expr/compiler) targets, and the comparison of two evaluation
 * outcomes (value or error) that decides whether the compiled engine agrees with jsonata.
 *
 * Everything here is deterministic given the seed. Nothing nondeterministic is generated
 * ($random, $now, $millis, $shuffle), and every recursion in expressions meant for an
 * unbounded engine is bounded by a small literal (or by $count of something small).
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
  // jsonata's lexer reads a `/` after `[]` or after a function definition as the start of a regex.
  if (op === '/' && (left.endsWith('[]') || left.startsWith('function'))) left = `(${left})`;
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
    ])();
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
      // Grouping: the compiler may leave it to jsonata; kept rare so most cases run compiled.
      [0.4, () => ({ s: `${operand(this.gen('objs', d - 1, sc), GROUP)}{${this.keyExpr(d, sc)}: ${this.gen(r.pick<Ty>(['num', 'str', 'any']), d - 1, sc).s}}`, p: GROUP })],
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
    ])();
  }

  /** A function as a value (the result compares as "a function"). */
  private functionValue(sc: Scope): Expr {
    const r = this.rng;
    const x = this.fresh(['x']);
    return r.weighted<() => Expr>([
      [2, () => atom(r.pick(['$uppercase', '$string', '$sum']))],
      [2, () => atom(`function($${x}){ $${x} * 2 }`)],
      [1, () => ({ s: '$uppercase ~> $trim', p: CMP })],
      [1, () => atom(`{"f": function($${x}){ $${x} }, "k": 1}`)],
      [sc.fns.length > 0 ? 2 : 0, () => atom(`$${r.pick(sc.fns).name}`)],
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
    return { s: `${operand(this.gen(this.rng.chance(0.5) ? 'any' : ty, d - 1, sc), ADD)} ${op} ${operand(this.gen(ty, d - 1, sc), ADD)}`, p: COND };
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
        options.push([1, () => ({ s: `${lhs('str')} ~> ($uppercase ~> $trim)`, p: CMP })]);
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
