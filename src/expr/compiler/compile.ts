/**
 * Compiles jsonata's parse tree to synchronous JavaScript closures, one per node.
 *
 * Each closure does what jsonata's `evaluate()` does for that node (src/jsonata.js), in the same
 * order, with the same intermediate values (sequences and their flags), so results and errors
 * are jsonata's. The differences are only in how: no promises, variables in prototype-chained
 * frames, built-ins resolved when compiled, and a few fast paths whose result is provably the
 * general path's. Evaluation bounds: when the expression defines functions (the only way it can
 * recurse), every node counts its depth as jsonata's evaluator does, so a depth limit trips at
 * the very same point; otherwise the tree's own height bounds the depth, checked once here.
 */
import jsonata from 'jsonata';
import { children, type AstNode, type Group, type Stage } from './ast.js';
import { BUILTINS, type Focus } from './builtins.js';
import { Reinterpret, tick, type Code, type Context, type Frame } from './context.js';
import { apply, asError, focusFor, Lambda, lookupVariable, partialLambda, procedureName, partialNative, PLACEHOLDER, TailCall, tag } from './functions.js';
import { operator } from './operators.js';
import { descendants, matcher, wildcard } from './selectors.js';
import { append, createSequence, fail, isArrayOfNumbers, isArrayOfStrings, isFunction, isNativeFunction, isNumeric, isSequence, lookup, toBoolean, type Sequence } from './values.js';

export interface CompileOptions {
  /** Count depth per node (the expression defines functions and a depth or time bound is set). */
  readonly guarded: boolean;
}

/** jsonata collapses every result: an empty sequence is nothing, a one-item one is its item. */
function normalize(result: unknown, keepArray: boolean): unknown {
  if (result && isSequence(result) && !result.tupleStream) {
    if (keepArray) result.keepSingleton = true;
    if (result.length === 0) return undefined;
    if (result.length === 1) return result.keepSingleton ? result : result[0];
  }
  return result;
}

/** Which blocks need a frame of their own: those a `:=` binds into (its nearest enclosing block). */
function bindingScopes(root: AstNode): Set<AstNode> {
  const scopes = new Set<AstNode>();
  const visit = (node: AstNode, scope: AstNode | undefined): void => {
    if (node.type === 'bind' && scope !== undefined) scopes.add(scope);
    const inner = node.type === 'block' || node.type === 'lambda' ? node : scope;
    for (const child of children(node)) visit(child, inner);
  };
  visit(root, undefined);
  return scopes;
}

export function compileTree(root: AstNode, options: CompileOptions): Code {
  const framed = bindingScopes(root);

  /** A node as jsonata's evaluate() runs it: the node, its predicates, collapsing, depth. */
  const node = (n: AstNode): Code => {
    let code = body(n);
    if (n.predicate !== undefined && n.predicate.length > 0) {
      const inner = code;
      const filters = n.predicate.map(filterStage);
      code = (input, frame, ctx) => {
        let result = inner(input, frame, ctx);
        for (const filter of filters) result = filter(result, frame, ctx);
        return result;
      };
    }
    if (n.type !== 'path' && n.group !== undefined) {
      const inner = code;
      const group = grouping(n.group);
      code = (input, frame, ctx) => group(inner(input, frame, ctx), frame, ctx);
    }
    const plain = n.type === 'string' || n.type === 'number' || n.type === 'value' || n.type === 'lambda';
    if (!plain || n.predicate !== undefined || n.group !== undefined || n.keepArray === true) {
      const inner = code;
      const keepArray = n.keepArray === true;
      code = (input, frame, ctx) => normalize(inner(input, frame, ctx), keepArray);
    }
    return options.guarded ? counted(code) : code;
  };

  const counted = (code: Code): Code => (input, frame, ctx) => {
    if (++ctx.depth > ctx.maxDepth) fail('D1011', { value: ctx.maxDepth });
    tick(ctx);
    const result = code(input, frame, ctx);
    ctx.depth--;
    return result;
  };

  const body = (n: AstNode): Code => {
    switch (n.type) {
      case 'path':
        return path(n);
      case 'binary':
        return binary(n);
      case 'unary':
        return unary(n);
      case 'name': {
        const name = String(n.value);
        return (input) => lookup(input, name);
      }
      case 'string':
      case 'number':
      case 'value': {
        const value = n.value;
        return () => value;
      }
      case 'wildcard':
        return wildcard;
      case 'descendant':
        return descendants;
      case 'condition':
        return condition(n);
      case 'block':
        return block(n);
      case 'bind':
        return bind(n);
      case 'function':
        return call(n, false);
      case 'variable':
        return variable(n);
      case 'lambda':
        return lambda(n);
      case 'apply':
        return applyOperator(n);
      case 'regex':
        return () => matcher(n);
      case 'transform':
        return transform(n);
      case 'partial':
        return partial(n);
      default:
        throw new Error(`the compiler does not handle "${n.type}" nodes`);
    }
  };

  const path = (n: AstNode): Code => {
    const steps = n.steps ?? [];
    const first = steps[0] as AstNode;
    const simpleName =
      !options.guarded && n.group === undefined && steps.length === 1 && first.type === 'name' && first.stages === undefined && first.predicate === undefined && first.keepArray !== true && n.keepSingletonArray !== true;
    const general = generalPath(n);
    if (!simpleName) return general;
    // `field` on an object: the general path's sequences would hand back exactly the field's value.
    const name = String(first.value);
    return (input, frame, ctx) => {
      if (input !== null && typeof input === 'object' && !Array.isArray(input) && !isFunction(input)) {
        if (!Object.prototype.hasOwnProperty.call(input, name)) return undefined;
        const value = (input as Record<string, unknown>)[name];
        if (!isSequence(value)) return value;
      }
      return general(input, frame, ctx);
    };
  };

  const generalPath = (n: AstNode): Code => {
    const steps = (n.steps ?? []).map((step, i) => ({
      code: step.type === 'sort' ? undefined : node(step),
      sort: step.type === 'sort' ? orderBy(step) : undefined,
      stages: step.stages?.map(filterStage),
      consarray: i === 0 && step.consarray === true,
    }));
    const absolute = n.steps?.[0]?.type === 'variable';
    const keepSingletonArray = n.keepSingletonArray === true;
    const group = n.group === undefined ? undefined : grouping(n.group);
    return (input, frame, ctx) => {
      let inputSequence: unknown = Array.isArray(input) && !absolute ? input : createSequence(input);
      let resultSequence: unknown;
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i] as (typeof steps)[number];
        if (step.sort !== undefined) {
          resultSequence = step.sort(inputSequence as Sequence, frame, ctx);
          for (const stage of step.stages ?? []) resultSequence = stage(resultSequence, frame, ctx);
        } else if (step.consarray) resultSequence = (step.code as Code)(inputSequence, frame, ctx);
        else resultSequence = evaluateStep(step.code as Code, step.stages, inputSequence as Sequence, frame, ctx, i === steps.length - 1);
        if (resultSequence === undefined || (resultSequence as Sequence).length === 0) break;
        inputSequence = resultSequence;
      }
      if (keepSingletonArray) {
        if (Array.isArray(resultSequence) && (resultSequence as Sequence).cons && !(resultSequence as Sequence).sequence) {
          resultSequence = createSequence(resultSequence);
        }
        (resultSequence as Sequence).keepSingleton = true;
      }
      if (group !== undefined) resultSequence = group(resultSequence, frame, ctx);
      return resultSequence;
    };
  };

  /** `^( … )`: jsonata's merge sort with a comparator built from the order-by terms. */
  const orderBy = (n: AstNode): ((input: Sequence, frame: Frame, ctx: Context) => unknown) => {
    const terms = (n.terms ?? []).map((term) => ({ descending: term.descending === true, code: node(term.expression) }));
    const sort = (BUILTINS.get('sort') as { implementation: (this: Focus, arr: unknown, comparator: unknown) => unknown }).implementation;
    return (input, frame, ctx) => {
      const comparator = (a: unknown, b: unknown): boolean => {
        let comp = 0;
        for (let index = 0; comp === 0 && index < terms.length; index++) {
          const term = terms[index] as (typeof terms)[number];
          const aa = term.code(a, frame, ctx);
          const bb = term.code(b, frame, ctx);
          const atype = typeof aa;
          const btype = typeof bb;
          if (atype === 'undefined') {
            comp = btype === 'undefined' ? 0 : 1;
            continue;
          }
          if (btype === 'undefined') {
            comp = -1;
            continue;
          }
          if (!(atype === 'string' || atype === 'number') || !(btype === 'string' || btype === 'number')) {
            fail('T2008', { position: n.position, value: !(atype === 'string' || atype === 'number') ? aa : bb });
          }
          if (atype !== btype) fail('T2007', { position: n.position, value: aa, value2: bb });
          if (aa === bb) continue;
          comp = (aa as number) < (bb as number) ? -1 : 1;
          if (term.descending) comp = -comp;
        }
        return comp === 1;
      };
      return sort.call(focusFor(input, ctx), input, comparator);
    };
  };

  const grouping = (group: Group): ((input: unknown, frame: Frame, ctx: Context) => unknown) =>
    groupExpression(
      group.lhs.map(([key, value]) => ({ key: node(key), value: node(value) })),
      group.position,
    );

  const evaluateStep = (code: Code, stages: Filter[] | undefined, input: Sequence, frame: Frame, ctx: Context, lastStep: boolean): unknown => {
    const result = createSequence();
    for (let i = 0; i < input.length; i++) {
      tick(ctx);
      let res = code(input[i], frame, ctx);
      if (stages !== undefined) for (const stage of stages) res = stage(res, frame, ctx);
      if (res !== undefined) result.push(res);
    }
    if (lastStep && result.length === 1 && Array.isArray(result[0]) && !isSequence(result[0])) return result[0];
    const resultSequence = createSequence();
    const max = ctx.options.sequence;
    for (const res of result) {
      if (!Array.isArray(res) || (res as Sequence).cons) resultSequence.push(res);
      else for (const value of res) resultSequence.push(value);
      // Flattening can multiply the items: bounded as it goes, not once it is done (invariant 28).
      if (resultSequence.length > max) fail('D2015', { value: max });
    }
    return resultSequence;
  };

  type Filter = (input: unknown, frame: Frame, ctx: Context) => unknown;

  /** A predicate `[ … ]`: an index (a number literal) or a filter evaluated per item. */
  const filterStage = (stage: Stage): Filter => {
    const predicate = stage.expr;
    if (predicate.type === 'number') {
      const at = Math.floor(predicate.value as number);
      return (input) => {
        const items = (Array.isArray(input) ? input : createSequence(input)) as Sequence;
        const index = at < 0 ? items.length + at : at;
        const item = items[index];
        let results = createSequence() as unknown[];
        if (item !== undefined) {
          if (Array.isArray(item)) results = item;
          else results.push(item);
        }
        return results;
      };
    }
    const code = node(predicate);
    return (input, frame, ctx) => {
      const results = createSequence();
      const items = (Array.isArray(input) ? input : createSequence(input)) as Sequence;
      for (let index = 0; index < items.length; index++) {
        tick(ctx);
        const item = items[index];
        let res = code(item, frame, ctx);
        if (isNumeric(res)) res = [res];
        if (isArrayOfNumbers(res)) {
          for (const wanted of res) {
            let i = Math.floor(wanted);
            if (i < 0) i = items.length + i;
            if (i === index) results.push(item);
          }
        } else if (toBoolean(res)) {
          results.push(item);
        }
      }
      return results;
    };
  };

  const binary = (n: AstNode): Code => {
    const lhs = node(n.lhs as AstNode);
    const rhs = node(n.rhs as AstNode);
    const op = String(n.value);
    const position = n.position;
    const tagged = (error: unknown): unknown => {
      const err = asError(error);
      err.position = position;
      err.token = op;
      return error;
    };
    if (op === 'and' || op === 'or') {
      const isAnd = op === 'and';
      return (input, frame, ctx) => {
        const left = lhs(input, frame, ctx);
        try {
          const l = toBoolean(left) ?? false;
          if (isAnd ? !l : l) return l;
          return toBoolean(rhs(input, frame, ctx)) ?? false;
        } catch (error) {
          throw tagged(error);
        }
      };
    }
    const operate = operator(op);
    return (input, frame, ctx) => {
      const left = lhs(input, frame, ctx);
      const right = rhs(input, frame, ctx);
      try {
        return operate(left, right, ctx);
      } catch (error) {
        throw tagged(error);
      }
    };
  };

  const unary = (n: AstNode): Code => {
    if (n.value === '-') {
      const operand = node(n.expression as AstNode);
      return (input, frame, ctx) => {
        const value = operand(input, frame, ctx);
        if (value === undefined) return undefined;
        if (isNumeric(value)) return -value;
        fail('D1002', { position: n.position, token: '-', value });
      };
    }
    if (n.value === '[') return arrayConstructor(n);
    return objectConstructor(n);
  };

  const arrayConstructor = (n: AstNode): Code => {
    const items = (n.expressions ?? []).map((item) => ({ code: node(item), nested: item.value === '[' }));
    const cons = n.consarray === true;
    return (input, frame, ctx) => {
      let result: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as (typeof items)[number];
        let value: unknown;
        try {
          value = item.code(input, frame, ctx);
        } catch (error) {
          throw anotherFails(items.slice(i + 1), input, frame, ctx) ? new Reinterpret('several items of an array constructor failed') : error;
        }
        if (value === undefined) continue;
        if (item.nested) result.push(value);
        else result = append(result, value) as unknown[];
        if (result.length > ctx.options.sequence) fail('D2015', { value: ctx.options.sequence });
      }
      if (cons) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
      return result;
    };
  };

  const objectConstructor = (n: AstNode): Code => {
    const pairs = (n.lhs ?? []) as readonly (readonly [AstNode, AstNode])[];
    const compiled = pairs.map(([key, value]) => ({ key: node(key), value: node(value) }));
    const general = groupExpression(compiled, n.position);
    // Literal keys, all different and none reserved: on a non-array input jsonata makes one group
    // per key with the input as its data, so the object can be built directly.
    const literal = pairs.every(([key]) => key.type === 'string' && key.predicate === undefined);
    const keys = pairs.map(([key]) => String(key.value));
    if (options.guarded || !literal || new Set(keys).size !== keys.length || keys.some((k) => k === '__proto__' || k.startsWith('_jsonata_'))) {
      return general;
    }
    // Keys come out (and values are evaluated) in JavaScript's property order, as jsonata's do.
    const order = Object.keys(Object.fromEntries(keys.map((k) => [k, 0])));
    const values = order.map((k) => ({ key: k, code: (compiled[keys.indexOf(k)] as { value: Code }).value }));
    return (input, frame, ctx) => {
      if (Array.isArray(input)) return general(input, frame, ctx);
      const result = new Bare();
      for (let i = 0; i < values.length; i++) {
        const { key, code } = values[i] as (typeof values)[number];
        let v: unknown;
        try {
          v = code(input, frame, ctx);
        } catch (error) {
          throw anotherFails(values.slice(i + 1), input, frame, ctx) ? new Reinterpret('several values of an object constructor failed') : error;
        }
        if (v !== undefined) result[key] = v;
      }
      return result;
    };
  };

  const groupExpression = (pairs: readonly { key: Code; value: Code }[], position: number | undefined): Code => {
    return (input, frame, ctx) => {
      const result = Object.create(null) as Record<string, unknown>;
      const groups = Object.create(null) as Record<string, { data: unknown; exprIndex: number }>;
      const items = (Array.isArray(input) ? input : createSequence(input)) as unknown[];
      // jsonata pushes `undefined` into the (possibly shared) empty array and evaluates the
      // values concurrently, so what the other values see depends on its scheduling.
      if (items.length === 0 && Array.isArray(input)) throw new Reinterpret('an object constructor over an empty array');
      if (items.length === 0) items.push(undefined);
      for (const item of items) {
        tick(ctx);
        for (let pairIndex = 0; pairIndex < pairs.length; pairIndex++) {
          const key = (pairs[pairIndex] as { key: Code }).key(item, frame, ctx);
          if (typeof key !== 'string' && key !== undefined) fail('T1003', { position, value: key });
          if (key === undefined) continue;
          if (key === '_jsonata_lambda' || key === '_jsonata_function') fail('D1013', { position, value: key });
          const existing = groups[key];
          if (existing !== undefined) {
            if (existing.exprIndex !== pairIndex) fail('D1009', { position, value: key });
            existing.data = append(existing.data, item);
          } else {
            groups[key] = { data: item, exprIndex: pairIndex };
          }
        }
      }
      const keys = Object.keys(groups);
      const valueOf = (key: string): unknown => {
        const entry = groups[key] as { data: unknown; exprIndex: number };
        return (pairs[entry.exprIndex] as { value: Code }).value(entry.data, frame, ctx);
      };
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        let value: unknown;
        try {
          value = valueOf(key);
        } catch (error) {
          const others = keys.slice(i + 1).map((other) => ({ code: () => valueOf(other) }));
          throw anotherFails(others, undefined, frame, ctx) ? new Reinterpret('several values of an object constructor failed') : error;
        }
        if (value !== undefined) result[key] = value;
      }
      return result;
    };
  };

  const condition = (n: AstNode): Code => {
    const test = node(n.condition as AstNode);
    const then = node(n.then as AstNode);
    const otherwise = n.else === undefined ? undefined : node(n.else);
    return (input, frame, ctx) => {
      if (toBoolean(test(input, frame, ctx))) return then(input, frame, ctx);
      return otherwise === undefined ? undefined : otherwise(input, frame, ctx);
    };
  };

  const block = (n: AstNode): Code => {
    const expressions = (n.expressions ?? []).map(node);
    const ownFrame = framed.has(n);
    return (input, frame, ctx) => {
      const scope = ownFrame ? (Object.create(frame) as Frame) : frame;
      let result: unknown;
      for (const expression of expressions) result = expression(input, scope, ctx);
      return result;
    };
  };

  const bind = (n: AstNode): Code => {
    const name = String((n.lhs as AstNode).value);
    const value = node(n.rhs as AstNode);
    return (input, frame, ctx) => {
      const v = value(input, frame, ctx);
      frame[name] = v;
      return v;
    };
  };

  const variable = (n: AstNode): Code => {
    const name = String(n.value);
    if (name === '') return (input) => (input && (input as Sequence).outerWrapper ? (input as Sequence)[0] : input);
    // lookupVariable(), with the built-in looked up once here: this is the hot path.
    const builtin = BUILTINS.get(name);
    return (_input, frame) => (name in frame ? frame[name] : builtin);
  };

  /** `f(…)` where `$f` exists: the "did you mean $f" errors (T1005, T1007) name it. */
  const forgottenDollar = (procedure: AstNode): string | undefined => (procedure.type === 'path' ? String(procedureName(procedure)) : undefined);

  /** A function call; `applyTo` for `lhs ~> $f(…)`, where lhs becomes the first argument. */
  const call = (n: AstNode, applyTo: boolean): Code & ((input: unknown, frame: Frame, ctx: Context, context?: unknown) => unknown) => {
    const procedureNode = n.procedure as AstNode;
    const procedure = node(procedureNode);
    const args = (n.arguments ?? []).map(node);
    const procName = procedureName(procedureNode);
    const forgotDollar = forgottenDollar(procedureNode);
    return (input: unknown, frame: Frame, ctx: Context, context?: unknown) => {
      const proc = procedure(input, frame, ctx);
      if (proc === undefined && forgotDollar !== undefined && lookupVariable(forgotDollar, frame)) {
        fail('T1005', { position: n.position, token: forgotDollar });
      }
      const evaluated: unknown[] = [];
      if (applyTo) evaluated.push(context);
      for (const arg of args) evaluated.push(arg(input, frame, ctx));
      try {
        if (typeof proc === 'object') {
          tag(proc, 'token', procName);
          tag(proc, 'position', n.position);
        }
        return apply(proc, evaluated, input, ctx);
      } catch (error) {
        const err = asError(error);
        if (!err.position) err.position = n.position;
        if (!err.token) err.token = procName;
        throw error;
      }
    };
  };

  const lambda = (n: AstNode): Code => {
    if (n.thunk === true) {
      const target = n.body as AstNode;
      const procedure = node(target.procedure as AstNode);
      const args = (target.arguments ?? []).map(node);
      return (input, frame) => new TailCall(target, procedure, args, input, frame);
    }
    const params = (n.arguments ?? []).map((p) => String(p.value));
    const code = node(n.body as AstNode);
    const signature = n.signature;
    return (input, frame) => new Lambda(params, signature, code, input, frame);
  };

  /** `| pattern | update, delete |`: a function returning a changed copy of its argument. */
  const transform = (n: AstNode): Code => {
    const pattern = node(n.pattern as AstNode);
    const update = node(n.update as AstNode);
    const deletion = n.delete === undefined ? undefined : node(n.delete);
    return (_input, frame, ctx) => {
      const transformer = (obj: unknown): unknown => {
        if (obj === undefined) return undefined;
        const clone = lookupVariable('clone', frame);
        if (!isFunction(clone)) fail('T2013', { position: n.position });
        const result = apply(clone, [obj], null, ctx);
        let matches = pattern(result, frame, ctx);
        if (matches === undefined) return result;
        if (!Array.isArray(matches)) matches = [matches];
        for (const match of matches as unknown[]) {
          const changes = update(match, frame, ctx);
          if (changes !== undefined) {
            if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) fail('T2011', { position: n.update?.position, value: changes });
            for (const prop of Object.keys(changes)) (match as Record<string, unknown>)[prop] = (changes as Record<string, unknown>)[prop];
          }
          if (deletion === undefined) continue;
          let deletions = deletion(match, frame, ctx);
          if (deletions === undefined) continue;
          const value = deletions;
          if (!Array.isArray(deletions)) deletions = [deletions];
          if (!isArrayOfStrings(deletions)) fail('T2012', { position: n.delete?.position, value });
          for (const key of deletions) {
            if (typeof match === 'object' && match !== null) delete (match as Record<string, unknown>)[key];
          }
        }
        return result;
      };
      return { _jsonata_function: true, implementation: transformer, signature: TRANSFORM_SIGNATURE };
    };
  };

  /** `$f(?, 2)`: a function of the `?` parameters with the others bound. */
  const partial = (n: AstNode): Code => {
    const procedureNode = n.procedure as AstNode;
    const procedure = node(procedureNode);
    const args = (n.arguments ?? []).map((arg) => (arg.type === 'operator' && arg.value === '?' ? undefined : node(arg)));
    const forgotDollar = forgottenDollar(procedureNode);
    const token = procedureName(procedureNode);
    return (input, frame, ctx) => {
      const evaluated = args.map((arg) => (arg === undefined ? PLACEHOLDER : arg(input, frame, ctx)));
      const proc = procedure(input, frame, ctx);
      if (proc === undefined && forgotDollar !== undefined && lookupVariable(forgotDollar, frame)) fail('T1007', { position: n.position, token: forgotDollar });
      if (proc instanceof Lambda) return partialLambda(proc.params, proc.body, proc.input, proc.frame, evaluated);
      if (isNativeFunction(proc)) return partialNative(proc.implementation, evaluated, frame);
      if (typeof proc === 'function') return partialNative(proc as (...a: unknown[]) => unknown, evaluated, frame);
      return fail('T1008', { position: n.position, token });
    };
  };

  const applyOperator = (n: AstNode): Code => {
    const lhs = node(n.lhs as AstNode);
    const rhsNode = n.rhs as AstNode;
    if (rhsNode.type === 'function') {
      // jsonata invokes the call directly here, not through evaluate(): no predicates, no depth.
      const invocation = call(rhsNode, true);
      return (input, frame, ctx) => invocation(input, frame, ctx, lhs(input, frame, ctx));
    }
    const rhs = node(rhsNode);
    let chain: Code | undefined;
    return (input, frame, ctx) => {
      const left = lhs(input, frame, ctx);
      const fn = rhs(input, frame, ctx);
      if (!isFunction(fn)) fail('T2006', { position: n.position, value: fn });
      if (isFunction(left)) {
        // `$f ~> $g` composes, through the very expression jsonata uses for it.
        chain ??= node(CHAIN);
        return apply(chain(null, frame, ctx), [left, fn], null, ctx);
      }
      return apply(fn, [left], null, ctx);
    };
  };

  return node(root);
}

/**
 * Objects with nothing to inherit, as jsonata's (`Object.create(null)`: no `toString`, no
 * `valueOf`), but built with a constructor, so V8 keeps them in its fast object layout, which
 * builds and serialises about twice as fast.
 */
const Bare = function Bare() {} as unknown as new () => Record<string, unknown>;
Bare.prototype = Object.create(null) as object;

const CHAIN = jsonata('function($f, $g) { function($x){ $g($f($x)) } }').ast() as AstNode;

const TRANSFORM_SIGNATURE = (jsonata('function($o)<(oa):o>{ $o }').ast() as AstNode).signature;

/** Whether evaluating any of these (the siblings after a failed one) fails too. */
function anotherFails(siblings: readonly { code: Code }[], input: unknown, frame: Frame, ctx: Context): boolean {
  // Out of time is out of time, whichever item noticed first.
  if (Date.now() > ctx.deadline) return false;
  for (const sibling of siblings) {
    try {
      sibling.code(input, frame, ctx);
    } catch {
      return true;
    }
  }
  return false;
}

