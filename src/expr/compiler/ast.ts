/**
 * The shape of jsonata's parse tree (the output of `jsonata(source).ast()`), as far as the
 * compiler reads it, and the check that decides whether an expression is inside the compiled
 * subset. Anything outside it runs, whole, on jsonata's own evaluator.
 */
import type { Signature } from './values.js';

export interface AstNode {
  readonly type: string;
  readonly value?: unknown;
  readonly position?: number;
  readonly steps?: readonly AstNode[];
  readonly stages?: readonly Stage[];
  readonly predicate?: readonly Stage[];
  readonly expressions?: readonly AstNode[];
  readonly lhs?: AstNode | readonly (readonly [AstNode, AstNode])[];
  readonly rhs?: AstNode;
  readonly expression?: AstNode;
  readonly condition?: AstNode;
  readonly then?: AstNode;
  readonly else?: AstNode;
  readonly procedure?: AstNode;
  readonly arguments?: readonly AstNode[];
  readonly body?: AstNode;
  readonly signature?: Signature;
  readonly thunk?: boolean;
  readonly keepArray?: boolean;
  readonly keepSingletonArray?: boolean;
  readonly consarray?: boolean;
  readonly group?: Group;
  readonly pattern?: AstNode;
  readonly update?: AstNode;
  readonly delete?: AstNode;
  readonly terms?: readonly { readonly descending?: boolean; readonly expression: AstNode }[];
  readonly tuple?: boolean;
  readonly focus?: unknown;
  readonly index?: unknown;
  readonly ancestor?: unknown;
  readonly seekingParent?: unknown;
}

/** `{ key: value, … }` after a path or another expression: grouping. */
export interface Group {
  readonly lhs: readonly (readonly [AstNode, AstNode])[];
  readonly position?: number;
}

export interface Stage {
  readonly type: string;
  readonly expr: AstNode;
}

const UNSUPPORTED_TYPES: Readonly<Record<string, string>> = {
  parent: 'the parent operator (%)',
};

/** Why an expression cannot be compiled, or undefined when it can. */
export function outsideSubset(root: AstNode): string | undefined {
  let reason: string | undefined;
  const visit = (node: AstNode): void => {
    if (reason !== undefined) return;
    const unsupported = UNSUPPORTED_TYPES[node.type];
    if (unsupported !== undefined) {
      reason = `uses ${unsupported}`;
      return;
    }
    // A step that `%` looks back to carries an ancestor label: name the operator the user wrote.
    if (node.ancestor !== undefined) reason = `uses ${UNSUPPORTED_TYPES['parent'] as string}`;
    else if (node.tuple === true || node.focus !== undefined || node.index !== undefined) reason = 'uses a focus (@) or index (#) binding';
    else if (node.type === 'variable' && node.value === 'eval') reason = 'uses $eval';
    else if (node.stages?.some((stage) => stage.type !== 'filter') === true) reason = 'uses an index (#) binding';
    if (reason !== undefined) return;
    for (const child of children(node)) visit(child);
  };
  visit(root);
  return reason;
}

/** The nodes jsonata evaluates below this one. */
export function children(node: AstNode): AstNode[] {
  const out: AstNode[] = [];
  const add = (child: AstNode | undefined): void => {
    if (child !== undefined) out.push(child);
  };
  for (const step of node.steps ?? []) add(step);
  for (const stage of node.stages ?? []) add(stage.expr);
  for (const stage of node.predicate ?? []) add(stage.expr);
  for (const expression of node.expressions ?? []) add(expression);
  if (Array.isArray(node.lhs)) {
    for (const [key, value] of node.lhs as readonly (readonly [AstNode, AstNode])[]) {
      add(key);
      add(value);
    }
  } else add(node.lhs as AstNode | undefined);
  add(node.rhs);
  add(node.expression);
  add(node.condition);
  add(node.then);
  add(node.else);
  add(node.procedure);
  // A lambda's arguments are its parameter names; a partial application's `?` is a placeholder.
  if (node.type !== 'lambda') for (const argument of node.arguments ?? []) if (argument.type !== 'operator') add(argument);
  add(node.body);
  add(node.pattern);
  add(node.update);
  add(node.delete);
  for (const term of node.terms ?? []) add(term.expression);
  for (const [key, value] of node.group?.lhs ?? []) {
    add(key);
    add(value);
  }
  return out;
}

/** How deeply jsonata nests evaluations for this tree (an upper bound: every node counts one). */
export function nestingDepth(node: AstNode): number {
  let deepest = 0;
  for (const child of children(node)) deepest = Math.max(deepest, nestingDepth(child));
  return deepest + 1;
}

export function containsLambda(node: AstNode): boolean {
  return node.type === 'lambda' || children(node).some(containsLambda);
}

/**
 * Every variable name the expression reads (without `$`): those it mentions, and `clone`, which a
 * transform (`| … |`) looks up by name, so a binding of that name replaces the copying function.
 */
export function variableNames(node: AstNode, into = new Set<string>()): Set<string> {
  if (node.type === 'variable' && typeof node.value === 'string') into.add(node.value);
  if (node.type === 'transform') into.add('clone');
  for (const child of children(node)) variableNames(child, into);
  return into;
}
