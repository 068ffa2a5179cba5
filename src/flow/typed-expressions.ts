/**
 * Typed expressions (docs/flow-language.md, "Typed expressions: what validate checks with an input
 * schema"): follows the payload type a service's `input` schema gives through its steps, and warns
 * where an expression reads a path that cannot exist or does arithmetic on a value that cannot be
 * a number. Warnings only, each one true of every payload the schema accepts (invariant 63); the
 * compiled service is the same with or without them.
 */
import { checkExpression, type Suggestions, type TypeScope } from '../expr/typecheck/check.js';
import { each, join, primitive, schemaType, UNKNOWN, type ValueType } from '../expr/typecheck/value-type.js';
import { splitTemplate } from '../expr/template.js';
import { STEP_KIND_NAMES } from '../steps/kinds.js';
import { formatPath, toPointer, type ValuePath } from '../util/path.js';
import type { SourcePosition } from '../util/position.js';
import type { CompileContext } from './compile-context.js';
import type { LoadedFile } from './load.js';
import { sourceOffsetOf } from './scalar-offsets.js';
import { closestMatch, editDistance } from './suggest.js';

/** The service as written (schema-valid, compiled without errors). */
export interface TypedService {
  readonly file: LoadedFile;
  /** `['services', name]` */
  readonly path: ValuePath;
  readonly input?: unknown;
  readonly steps: readonly unknown[];
}

/** Reports the typed-expression warnings of one service into `context.problems`. */
export function checkServiceTypes(context: CompileContext, service: TypedService): void {
  try {
    const input = service.input === undefined ? UNKNOWN : schemaType(service.input, formatPath([...service.path, 'input']));
    new StepWalker(context, service.file).steps(service.steps, [...service.path, 'steps'], { payload: input, variables: new Map() });
  } catch {
    // Only warnings are at stake: a failure here (a bug, a stack too deep) must not fail the load.
  }
}

/** A name of one or two letters is a typo of another only by case: `y` is no misspelling of `x`. */
function plausible(name: string, match: string | undefined): string | undefined {
  return match !== undefined && (name.length >= 3 || name.toLowerCase() === match.toLowerCase()) ? match : undefined;
}

const SUGGESTIONS: Suggestions = {
  closest: (name, candidates) => plausible(name, closestMatch(name, candidates)),
  // Evidence enough to warn where the schema allows other names: one edit, or a difference of case.
  typo(name, candidates) {
    const match = plausible(name, closestMatch(name, candidates));
    return match !== undefined && editDistance(name.toLowerCase(), match.toLowerCase()) <= 1 ? match : undefined;
  },
};

/** What the steps know at one point: the payload's type and the variables' (absent: unknown). */
interface Scope {
  payload: ValueType;
  readonly variables: Map<string, ValueType>;
}

/** Step kinds that leave the payload and the variables as they are (their expressions are not checked). */
const NEUTRAL = new Set(['dedupe', 'changed', 'throttle', 'remember', 'collect', 'respond', 'reply']);

const isMap = (value: unknown): value is Readonly<Record<string, unknown>> => value !== null && typeof value === 'object' && !Array.isArray(value);

class StepWalker {
  constructor(
    private readonly context: CompileContext,
    private readonly file: LoadedFile,
  ) {}

  steps(list: readonly unknown[], path: ValuePath, scope: Scope): void {
    list.forEach((raw, i) => {
      if (!isMap(raw)) return;
      const kind = Object.keys(raw).find((key) => STEP_KIND_NAMES.includes(key));
      if (kind === undefined) return;
      this.#step(kind, raw[kind], [...path, i, kind], scope);
    });
  }

  #step(kind: string, value: unknown, at: ValuePath, scope: Scope): void {
    const object = isMap(value) ? value : {};
    switch (kind) {
      case 'transform':
        scope.payload = typeof value === 'string' ? this.#expression(value, at, scope, formatPath(at)) : UNKNOWN;
        return;
      case 'filter':
        if (typeof value === 'string') this.#expression(value, at, scope);
        return;
      case 'set':
        // In order: each expression sees the variables set before it.
        for (const [name, source] of Object.entries(object)) scope.variables.set(name, typeof source === 'string' ? this.#expression(source, [...at, name], scope) : UNKNOWN);
        return;
      case 'validate':
        // A payload that reached the next step passed this schema too.
        if (scope.payload.kind === 'unknown' && object.schema !== undefined) scope.payload = schemaType(object.schema, formatPath([...at, 'schema']));
        return;
      case 'publish':
        if (typeof object.topic === 'string') this.#template(object.topic, [...at, 'topic'], scope);
        if (typeof object.payload === 'string') this.#expression(object.payload, [...at, 'payload'], scope);
        if (isMap(object.userProperties)) for (const [name, text] of Object.entries(object.userProperties)) if (typeof text === 'string') this.#template(text, [...at, 'userProperties', name], scope);
        return;
      case 'log':
        if (typeof value === 'string') this.#template(value, at, scope);
        else if (typeof object.message === 'string') this.#template(object.message, [...at, 'message'], scope);
        return;
      case 'invoke':
        if (typeof object.payload === 'string') this.#expression(object.payload, [...at, 'payload'], scope);
        scope.payload = UNKNOWN;
        return;
      case 'choice':
        this.#choice(Array.isArray(value) ? value : [], at, scope);
        return;
      case 'split': {
        const items = typeof object.items === 'string' ? this.#expression(object.items, [...at, 'items'], scope) : UNKNOWN;
        // Each element is the payload of its run, and $item; the payload after the split is the one before.
        const element = items.kind === 'array' && items.items.kind !== 'array' ? items.items : items.kind === 'array' ? UNKNOWN : each(items);
        const variables = new Map(scope.variables);
        variables.set('item', element);
        variables.set('index', primitive(['number']));
        if (Array.isArray(object.steps)) this.steps(object.steps, [...at, 'steps'], { payload: element, variables });
        return;
      }
      case 'http':
      case 'request':
        // With `as`, the response is a variable; without, it is the payload.
        if (typeof object.as === 'string') scope.variables.delete(object.as);
        else scope.payload = UNKNOWN;
        return;
      case 'lookup':
        if (typeof object.as === 'string') scope.variables.delete(object.as);
        return;
      default:
        if (NEUTRAL.has(kind)) return;
        // A kind this walk does not know: nothing is assumed after it.
        scope.payload = UNKNOWN;
        scope.variables.clear();
    }
  }

  /** Each branch starts from the scope before the choice; the payload after it is what every way through agrees on. */
  #choice(branches: readonly unknown[], at: ValuePath, scope: Scope): void {
    const ends: ValueType[] = [];
    let otherwise = false;
    branches.forEach((raw, i) => {
      if (!isMap(raw)) return;
      const steps = Array.isArray(raw.otherwise) ? raw.otherwise : Array.isArray(raw.steps) ? raw.steps : [];
      if (Array.isArray(raw.otherwise)) otherwise = true;
      if (typeof raw.when === 'string') this.#expression(raw.when, [...at, i, 'when'], scope);
      // Variables set in a branch stay in it.
      const inner: Scope = { payload: scope.payload, variables: new Map(scope.variables) };
      this.steps(steps, [...at, i, Array.isArray(raw.otherwise) ? 'otherwise' : 'steps'], inner);
      ends.push(inner.payload);
    });
    if (!otherwise) ends.push(scope.payload);
    scope.payload = join(ends);
  }

  /** Checks one expression, reports what it proves wrong, and returns the type of its result. */
  #expression(source: string, path: ValuePath, scope: Scope, builtBy?: string): ValueType {
    if (!typed(scope) || this.file.interpolated.has(toPointer(path))) return UNKNOWN;
    const result = checkExpression(source, this.#typeScope(scope, builtBy), SUGGESTIONS);
    for (const finding of result.findings) this.#warn(path, source, finding.offset, finding.code, finding.message, finding.hint);
    return result.type;
  }

  #template(source: string, path: ValuePath, scope: Scope): void {
    if (!typed(scope) || this.file.interpolated.has(toPointer(path))) return;
    const parts = splitTemplate(source);
    if (!Array.isArray(parts)) return;
    for (const part of parts) {
      if (!part.isExpression) continue;
      const result = checkExpression(part.text, this.#typeScope(scope), SUGGESTIONS);
      for (const finding of result.findings) this.#warn(path, source, part.offset + finding.offset, finding.code, finding.message, finding.hint);
    }
  }

  #typeScope(scope: Scope, builtBy?: string): TypeScope {
    return { input: scope.payload, variables: scope.variables, ...(builtBy === undefined ? {} : { builtBy }) };
  }

  #warn(path: ValuePath, value: string, offset: number, code: string, message: string, hint: string): void {
    this.context.problems.add({ severity: 'warning', code, ...this.#positionIn(path, value, offset), path: formatPath(path), message: `${formatPath(path)}: ${message}`, hint });
  }

  /** Where offset `index` of the string at `path` is in the file (the value's key when it cannot be mapped), as for syntax errors. */
  #positionIn(path: ValuePath, value: string, index: number): SourcePosition {
    const source = this.file.source;
    const scalar = source.scalarAt(path);
    if (scalar !== undefined) {
      const offset = sourceOffsetOf(source.text, scalar.offset, scalar.end, value, index);
      if (offset !== undefined) return source.positionAt(offset);
    }
    return source.locate(path);
  }
}

/** Whether anything in scope has a type: if not, no expression can be proved wrong and none is parsed. */
function typed(scope: Scope): boolean {
  if (scope.payload.kind !== 'unknown') return true;
  for (const type of scope.variables.values()) if (type.kind !== 'unknown') return true;
  return false;
}
