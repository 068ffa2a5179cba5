/**
 * Typed expressions: walks one JSONata expression's parse tree with the types of its input (the
 * payload) and of the variables in scope, and finds what the types prove wrong: a path that cannot
 * exist, and arithmetic on a value that cannot be a number. It also works out the type of the
 * result where it can (an object constructor, a path, a typed built-in function), so a flow can
 * follow the payload through a `transform`. Nothing is reported about what is not certain.
 */
import jsonata from 'jsonata';
import type { AstNode } from '../compiler/ast.js';
import { children } from '../compiler/ast.js';
import { describeKind, each, join, nonNumeric, NOTHING, primitive, UNKNOWN, type ObjectType, type ValueType } from './value-type.js';

export type TypeFindingCode = 'MQFLOW_EXPR_PATH' | 'MQFLOW_EXPR_UNDECLARED' | 'MQFLOW_EXPR_TYPE';

export interface TypeFinding {
  readonly code: TypeFindingCode;
  /** 0-based offset inside the expression of what it is about (a field name, an operand). */
  readonly offset: number;
  readonly message: string;
  readonly hint: string;
}

export interface TypeScope {
  /** The type of the expression's input (`$`, and what bare field names read). */
  readonly input: ValueType;
  /** The types of variables (`$name`); one not here is unknown. */
  readonly variables: ReadonlyMap<string, ValueType>;
  /** Names an object the expression builds by (`services.x.steps[0].transform`), for later messages. */
  readonly builtBy?: string;
}

/** "Did you mean" for field names (src/flow/suggest.ts does the spelling). */
export interface Suggestions {
  /** The candidate `name` is most likely a misspelling of, if any is close. */
  closest(name: string, candidates: readonly string[]): string | undefined;
  /** The same, only when the two are one edit (or a difference of case) apart. */
  typo(name: string, candidates: readonly string[]): string | undefined;
}

export interface TypeCheck {
  readonly type: ValueType;
  readonly findings: readonly TypeFinding[];
}

/** The findings about `source` and the type of its result. An expression that does not parse has neither. */
export function checkExpression(source: string, scope: TypeScope, suggest: Suggestions): TypeCheck {
  let ast: AstNode;
  try {
    ast = jsonata(source).ast() as AstNode;
  } catch {
    return { type: UNKNOWN, findings: [] };
  }
  const checker = new Checker(source, scope, suggest, boundNames(ast));
  const type = checker.infer(ast, { input: scope.input, root: scope.input });
  return { type, findings: checker.findings };
}

/** What an expression is evaluated against: its context value, and `$$`. */
interface Context {
  readonly input: ValueType;
  readonly root: ValueType;
}

const OUTSIDE: Context = { input: UNKNOWN, root: UNKNOWN };

const ARITHMETIC = new Set(['+', '-', '*', '/', '%']);
const BOOLEAN_OPERATORS = new Set(['=', '!=', '<', '<=', '>', '>=', 'and', 'or', 'in']);

/** Built-in functions whose result has one type whenever there is one. */
const RESULT_TYPES: ReadonlyMap<string, ValueType> = new Map<string, ValueType>([
  ...['string', 'substring', 'substringBefore', 'substringAfter', 'lowercase', 'uppercase', 'trim', 'pad', 'join', 'replace', 'formatNumber', 'formatBase', 'formatInteger', 'base64encode', 'base64decode', 'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'fromMillis', 'now', 'type'].map(
    (name): [string, ValueType] => [name, primitive(['string'])],
  ),
  ...['number', 'abs', 'floor', 'ceil', 'round', 'power', 'sqrt', 'random', 'sum', 'count', 'max', 'min', 'average', 'length', 'millis', 'toMillis', 'parseInteger'].map((name): [string, ValueType] => [name, primitive(['number'])]),
  ...['boolean', 'not', 'exists', 'contains'].map((name): [string, ValueType] => [name, primitive(['boolean'])]),
  ...['keys', 'split'].map((name): [string, ValueType] => [name, { kind: 'array', items: primitive(['string']) }]),
]);

class Checker {
  readonly findings: TypeFinding[] = [];
  readonly #seen = new Set<string>();

  constructor(
    private readonly source: string,
    private readonly scope: TypeScope,
    private readonly suggest: Suggestions,
    /** Variables the expression binds itself (`:=`, lambda parameters, `@$v`, `#$i`): their types are not tracked. */
    private readonly bound: ReadonlySet<string>,
  ) {}

  infer(node: AstNode, context: Context): ValueType {
    const type = this.#node(node, context);
    const filtered = this.#predicates(node.predicate, type, context);
    return this.#grouped(node, filtered, context);
  }

  #node(node: AstNode, context: Context): ValueType {
    switch (node.type) {
      case 'path':
        return this.#path(node, context);
      case 'name':
        return this.#field(context.input, node);
      case 'variable':
        return this.#variable(node, context);
      case 'string':
        return primitive(['string'], JSON.stringify(node.value));
      case 'number':
        return primitive(['number']);
      case 'value':
        if (node.value === null) return primitive(['null'], 'null');
        return typeof node.value === 'boolean' ? primitive(['boolean'], node.value ? 'true' : 'false') : UNKNOWN;
      case 'binary':
        return this.#binary(node, context);
      case 'unary':
        return this.#unary(node, context);
      case 'block': {
        let last: ValueType = UNKNOWN;
        for (const expression of node.expressions ?? []) last = this.infer(expression, context);
        return last;
      }
      case 'bind':
        return node.rhs === undefined ? UNKNOWN : this.infer(node.rhs, context);
      case 'condition': {
        if (node.condition !== undefined) this.infer(node.condition, context);
        const then = node.then === undefined ? NOTHING : this.infer(node.then, context);
        const otherwise = node.else === undefined ? NOTHING : this.infer(node.else, context);
        if (then.kind === 'nothing') return otherwise;
        if (otherwise.kind === 'nothing') return then;
        return join([then, otherwise]);
      }
      case 'function':
        return this.#call(node, context);
      case 'apply': {
        if (Array.isArray(node.lhs) || node.lhs === undefined) return UNKNOWN;
        const lhs = this.infer(node.lhs as AstNode, context);
        const rhs = node.rhs;
        if (rhs === undefined) return UNKNOWN;
        // `x ~> $string()` is `$string(x)`: a typed built-in gives its type.
        if (rhs.type === 'function') return this.#call(rhs, context);
        // `x ~> | pattern | update |`: the pattern reads x.
        if (rhs.type === 'transform') return this.#transform(rhs, { input: lhs, root: context.root });
        this.infer(rhs, context);
        return UNKNOWN;
      }
      case 'sort':
        for (const term of node.terms ?? []) this.infer(term.expression, context);
        return context.input;
      case 'lambda':
        // A function body runs where it is called, with its own parameters: nothing is assumed there.
        if (node.body !== undefined) this.infer(node.body, OUTSIDE);
        return UNKNOWN;
      case 'transform':
        // Alone, `| … |` is a function: what its pattern will read is not known here.
        return this.#transform(node, OUTSIDE);
      case 'wildcard':
      case 'descendant':
      case 'parent':
      case 'regex':
      case 'operator':
        return UNKNOWN;
      default:
        // A construct not modelled here: its parts are read without assuming an input.
        for (const child of children(node)) this.infer(child, OUTSIDE);
        return UNKNOWN;
    }
  }

  /** `| pattern | update, delete |` applied to a value of `context.input`: the pattern reads it; the rest read what it matched. */
  #transform(node: AstNode, context: Context): ValueType {
    if (node.pattern !== undefined) this.infer(node.pattern, context);
    for (const part of [node.update, node.delete]) if (part !== undefined) this.infer(part, OUTSIDE);
    return UNKNOWN;
  }

  /** `a.b[0].c`: each step reads each value the step before gave. */
  #path(node: AstNode, context: Context): ValueType {
    const steps = node.steps ?? [];
    // Focus, index and parent bindings change what later steps see: such a path is not followed.
    if (steps.some((s) => s.tuple === true || s.focus !== undefined || s.index !== undefined || s.ancestor !== undefined || s.type === 'parent')) return UNKNOWN;
    let current = context.input;
    steps.forEach((step, i) => {
      let type: ValueType;
      if (step.type === 'name') type = this.#field(current, step);
      else if (step.type === 'variable') type = this.#variable(step, { input: i === 0 ? context.input : each(current), root: context.root });
      else type = this.#node(step, { input: each(current), root: context.root });
      current = this.#predicates(step.stages, type, context);
    });
    return current;
  }

  /** `[ … ]` after a step: each predicate reads each value; the values kept have the same type. */
  #predicates(stages: AstNode['stages'], type: ValueType, context: Context): ValueType {
    for (const stage of stages ?? []) this.infer(stage.expr, { input: each(type), root: context.root });
    return type;
  }

  /** `a{ key: value }`: keys read each value, values the values grouped; the result is not followed. */
  #grouped(node: AstNode, type: ValueType, context: Context): ValueType {
    if (node.group === undefined) return type;
    for (const [key, value] of node.group.lhs) {
      this.infer(key, { input: each(type), root: context.root });
      this.infer(value, { input: type, root: context.root });
    }
    return UNKNOWN;
  }

  #variable(node: AstNode, context: Context): ValueType {
    const name = node.value;
    if (name === '') return context.input;
    if (name === '$') return context.root;
    if (typeof name !== 'string' || this.bound.has(name)) return UNKNOWN;
    return this.scope.variables.get(name) ?? UNKNOWN;
  }

  /** A field name read from a value of `type`. */
  #field(type: ValueType, node: AstNode): ValueType {
    const name = String(node.value);
    switch (type.kind) {
      case 'array':
        return this.#field(type.items, node);
      case 'primitive':
        this.#report(
          'MQFLOW_EXPR_PATH',
          this.#start(node),
          `"${name}" gives nothing: ${type.label ?? 'the value before it'} is ${describeKind(type)}, which has no fields`,
          'a field can only be read from an object; this gives nothing for every message',
        );
        return NOTHING;
      case 'object': {
        const found = type.property(name);
        if (found !== undefined) return found;
        if (type.closed) {
          this.#report('MQFLOW_EXPR_PATH', this.#start(node), missingMessage(name, type, this.suggest.closest(name, type.names)), type.declaredBy === undefined ? 'this gives nothing for every message; correct the name' : 'the schema has additionalProperties: false there, so this gives nothing for every message; correct the name, or declare the property');
          return NOTHING;
        }
        const typo = this.suggest.typo(name, type.names);
        if (typo !== undefined && type.declaredBy !== undefined) {
          this.#report(
            'MQFLOW_EXPR_UNDECLARED',
            this.#start(node),
            `${type.declaredBy} does not declare "${name}"${type.label === 'the payload' ? '' : ` in ${type.label}`} (did you mean "${typo}"?)`,
            'the schema allows other properties, so it may be meant; if it is a typo, correct it, else declare it under properties',
          );
        }
        return UNKNOWN;
      }
      default:
        return type;
    }
  }

  #binary(node: AstNode, context: Context): ValueType {
    const op = String(node.value);
    const lhs = node.lhs === undefined || Array.isArray(node.lhs) ? undefined : (node.lhs as AstNode);
    const left = lhs === undefined ? UNKNOWN : this.infer(lhs, context);
    const right = node.rhs === undefined ? UNKNOWN : this.infer(node.rhs, context);
    if (ARITHMETIC.has(op)) {
      if (lhs !== undefined) this.#numeric(lhs, left, op, 'T2001');
      if (node.rhs !== undefined) this.#numeric(node.rhs, right, op, 'T2002');
      return primitive(['number']);
    }
    if (op === '&') return primitive(['string']);
    if (BOOLEAN_OPERATORS.has(op)) return primitive(['boolean']);
    if (op === '..') return { kind: 'array', items: primitive(['number']) };
    return UNKNOWN;
  }

  #unary(node: AstNode, context: Context): ValueType {
    if (node.value === '-' && node.expression !== undefined) {
      const operand = this.infer(node.expression, context);
      this.#numeric(node.expression, operand, '-', 'D1002');
      return primitive(['number']);
    }
    if (node.value === '[') {
      for (const item of node.expressions ?? []) this.infer(item, context);
      return { kind: 'array', items: UNKNOWN };
    }
    if (node.value === '{' && Array.isArray(node.lhs)) return this.#object(node.lhs as readonly (readonly [AstNode, AstNode])[], context);
    for (const child of children(node)) this.infer(child, context);
    return UNKNOWN;
  }

  /** `{ "key": value, … }`: with literal keys, an object with exactly those fields. */
  #object(pairs: readonly (readonly [AstNode, AstNode])[], context: Context, label?: string): ValueType {
    const fields = new Map<string, ValueType>();
    let literal = true;
    const builtBy = this.scope.builtBy;
    const own = label ?? (builtBy === undefined ? 'the object built here' : `the object built by ${builtBy}`);
    for (const [key, value] of pairs) {
      this.infer(key, { input: each(context.input), root: context.root });
      const nested = value.type === 'unary' && value.value === '{' && Array.isArray(value.lhs) && value.predicate === undefined && value.group === undefined;
      const type = nested && key.type === 'string'
        ? this.#object(value.lhs as readonly (readonly [AstNode, AstNode])[], context, `field "${String(key.value)}" of ${own}`)
        : this.infer(value, context);
      if (key.type === 'string' && typeof key.value === 'string' && !fields.has(key.value)) fields.set(key.value, type);
      else literal = false;
    }
    if (!literal) return UNKNOWN;
    const object: ObjectType = {
      kind: 'object',
      label: own,
      names: [...fields.keys()],
      closed: true,
      property: (name) => fields.get(name),
    };
    return object;
  }

  #call(node: AstNode, context: Context): ValueType {
    for (const argument of node.arguments ?? []) if (argument.type !== 'operator') this.infer(argument, context);
    const procedure = node.procedure;
    if (procedure === undefined) return UNKNOWN;
    if (procedure.type !== 'variable') {
      this.infer(procedure, context);
      return UNKNOWN;
    }
    const name = procedure.value;
    if (typeof name !== 'string' || this.bound.has(name) || this.scope.variables.has(name)) return UNKNOWN;
    return RESULT_TYPES.get(name) ?? UNKNOWN;
  }

  /** Arithmetic (or negation) on `operand`, whose type is `type`: reported when it can never be a number. */
  #numeric(operand: AstNode, type: ValueType, op: string, code: string): void {
    if (!nonNumeric(type)) return;
    const subject = type.kind === 'object' ? (type.declaredBy === undefined ? type.label : `${type.label} (${type.declaredBy})`) : 'label' in type && type.label !== undefined ? type.label : 'this operand';
    const what = op === '-' && code === 'D1002' ? 'negation needs a number' : `"${op}" needs numbers`;
    this.#report(
      'MQFLOW_EXPR_TYPE',
      this.#start(operand),
      `${subject} is ${describeKind(type)}: ${what}, so this fails with ${code} whenever it has a value`,
      op === '+' && type.kind === 'primitive' && type.types.includes('string') ? 'to join text use & instead; to add, convert it first with $number()' : 'convert it first with $number(), or use a field that holds a number',
    );
  }

  #report(code: TypeFindingCode, offset: number, message: string, hint: string): void {
    const key = `${code}\0${offset}\0${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.findings.push({ code, offset, message, hint });
  }

  /** Where a node starts in the source (jsonata's positions are just past a token). */
  #start(node: AstNode): number {
    const source = this.source;
    const end = typeof node.position === 'number' ? Math.min(node.position, source.length) : 0;
    switch (node.type) {
      case 'path':
        return node.steps?.[0] === undefined ? end : this.#start(node.steps[0]);
      case 'binary':
        return node.lhs !== undefined && !Array.isArray(node.lhs) ? this.#start(node.lhs as AstNode) : end;
      case 'function':
      case 'partial':
        return node.procedure === undefined ? end : this.#start(node.procedure);
      case 'apply':
        return node.lhs !== undefined && !Array.isArray(node.lhs) ? this.#start(node.lhs as AstNode) : end;
      case 'name':
      case 'string': {
        const quote = source[end - 1];
        if (quote === '"' || quote === "'" || quote === '`') return openingQuote(source, end - 1);
        return Math.max(0, end - String(node.value).length);
      }
      case 'variable':
        return Math.max(0, end - String(node.value).length - 1);
      case 'number': {
        let i = end;
        while (i > 0 && /[0-9.eE+-]/.test(source[i - 1]!)) i--;
        return i;
      }
      default:
        return Math.max(0, end - 1);
    }
  }
}

function missingMessage(name: string, type: ObjectType, typo: string | undefined): string {
  const names = type.names.length === 0 ? undefined : listNames(type.names);
  const suggestion = typo === undefined ? '' : ` (did you mean "${typo}"?)`;
  if (type.declaredBy === undefined) return `"${name}" is not a field of ${type.label}: it has ${names === undefined ? 'no fields' : `only ${names}`}${suggestion}`;
  return `"${name}" cannot exist in ${type.label}: ${type.declaredBy} allows ${names === undefined ? 'no properties there' : `only ${names}`}${suggestion}`;
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 8).map((n) => `"${n}"`);
  return names.length > 8 ? `${shown.join(', ')}, …` : shown.join(', ');
}

/** Where the string or quoted name closed by the quote at `closing` opens. */
function openingQuote(source: string, closing: number): number {
  const quote = source[closing];
  for (let i = closing - 1; i >= 0; i--) {
    if (source[i] !== quote) continue;
    let backslashes = 0;
    for (let j = i - 1; j >= 0 && source[j] === '\\'; j--) backslashes++;
    if (backslashes % 2 === 0) return i;
  }
  return Math.max(0, closing);
}

/** Every variable the expression binds itself: `$v := …`, lambda parameters, focus and index variables. */
function boundNames(root: AstNode): Set<string> {
  const names = new Set<string>();
  const visit = (node: AstNode): void => {
    if (node.type === 'bind' && node.lhs !== undefined && !Array.isArray(node.lhs)) {
      const lhs = node.lhs as AstNode;
      if (typeof lhs.value === 'string') names.add(lhs.value);
    }
    if (node.type === 'lambda') for (const argument of node.arguments ?? []) if (typeof argument.value === 'string') names.add(argument.value);
    for (const label of [node.focus, node.index]) if (typeof label === 'string') names.add(label);
    for (const child of children(node)) visit(child);
  };
  visit(root);
  return names;
}
