/**
 * What static analysis knows of a value (docs/flow-language.md, "Typed expressions"): the type a
 * JSON Schema gives it (a service's `input`), or what an expression builds. Every type states only
 * what is certain; anything else is `unknown`, about which nothing is ever reported.
 *
 * A type also covers arrays of its values: JSONata maps a path over arrays and unwraps a sequence
 * of one, so `readings.value` is a number or an array of numbers, and both read the same way.
 */

export type Primitive = 'string' | 'number' | 'boolean' | 'null';

export type ValueType = UnknownType | NothingType | PrimitiveType | ArrayType | ObjectType;

/** Anything: no warning is ever derived from it. */
export interface UnknownType {
  readonly kind: 'unknown';
}

/** Certainly no value (a property that cannot exist): reading on gives nothing, and is not reported again. */
export interface NothingType {
  readonly kind: 'nothing';
}

export interface PrimitiveType {
  readonly kind: 'primitive';
  readonly types: readonly Primitive[];
  /** Where the value is, for messages: `payload.temp (services.x.input)`. */
  readonly label?: string;
}

export interface ArrayType {
  readonly kind: 'array';
  readonly items: ValueType;
  readonly label?: string;
}

export interface ObjectType {
  readonly kind: 'object';
  /** The object, for messages: `the payload`, `payload.reading`, `the object built by services.x.steps[0].transform`. */
  readonly label: string;
  /** The schema that declares its properties (`services.x.input`); undefined for an object an expression builds. */
  readonly declaredBy?: string;
  /** The property names declared (or built). */
  readonly names: readonly string[];
  /** No property other than those declared (or matching `patternProperties`) can exist. */
  readonly closed: boolean;
  /** The type of a declared property, or undefined when `name` is not declared. */
  property(name: string): ValueType | undefined;
}

export const UNKNOWN: UnknownType = { kind: 'unknown' };
export const NOTHING: NothingType = { kind: 'nothing' };

export function primitive(types: readonly Primitive[], label?: string): PrimitiveType {
  return label === undefined ? { kind: 'primitive', types } : { kind: 'primitive', types, label };
}

/** What a step over each value of `type` sees: the items of an array, else the value itself. */
export function each(type: ValueType): ValueType {
  return type.kind === 'array' ? type.items : type;
}

/** True when a value of `type`, whenever it has one, is certainly not a number (arithmetic on it fails). */
export function nonNumeric(type: ValueType): boolean {
  if (type.kind === 'primitive') return !type.types.includes('number');
  if (type.kind === 'object') return true;
  if (type.kind === 'array') return nonNumeric(type.items);
  return false;
}

/** `a string`, `a string or null`, `an object`, `an array of strings`. */
export function describeKind(type: ValueType): string {
  switch (type.kind) {
    case 'primitive':
      return type.types.map((t) => (t === 'null' ? 'null' : `a ${t}`)).join(' or ');
    case 'object':
      return 'an object';
    case 'array': {
      const items = type.items;
      if (items.kind === 'primitive' && items.types.length === 1) return `an array of ${items.types[0] === 'null' ? 'nulls' : `${items.types[0]!}s`}`;
      if (items.kind === 'object') return 'an array of objects';
      return 'an array';
    }
    default:
      return 'a value';
  }
}

/** Whether two types are certainly the same (the same schema node or the same built object). */
export function sameType(a: ValueType, b: ValueType): boolean {
  if (a === b) return true;
  if (a.kind === 'primitive' && b.kind === 'primitive') return a.types.length === b.types.length && a.types.every((t) => b.types.includes(t));
  return a.kind === 'nothing' && b.kind === 'nothing';
}

/** A value of one of `types`: the same when they agree, else unknown. */
export function join(types: readonly ValueType[]): ValueType {
  const first = types[0];
  if (first === undefined) return UNKNOWN;
  return types.every((t) => sameType(t, first)) ? first : UNKNOWN;
}

type SchemaNode = Readonly<Record<string, unknown>>;

const isNode = (value: unknown): value is SchemaNode => value !== null && typeof value === 'object' && !Array.isArray(value);

/** References followed in a row before giving up (a `$ref` cycle). */
const MAX_REFS = 32;

/**
 * The type a JSON Schema (draft-07) gives a value that passed it. Reads a schema's own `type`
 * (or `enum`/`const` when there is none), `properties`, `patternProperties`, `additionalProperties`
 * and `items`, and follows local `$ref`s (`#/definitions/…`). The other keywords (`anyOf`, `allOf`,
 * `oneOf`, `not`, `if`) only add constraints to these, so the type stays true without them.
 */
export function schemaType(schema: unknown, declaredBy: string): ValueType {
  // A `$id` below the root changes what a `$ref` resolves against: such references are not followed.
  const followRefs = !(isNode(schema) && Object.entries(schema).some(([key, value]) => key !== '$id' && holdsId(value)));
  return fromSchema(schema, { root: schema, declaredBy, followRefs }, 'the payload', 0);
}

interface SchemaRoot {
  readonly root: unknown;
  readonly declaredBy: string;
  readonly followRefs: boolean;
}

function fromSchema(node: unknown, root: SchemaRoot, label: string, refs: number): ValueType {
  if (!isNode(node)) return UNKNOWN;
  if (node.$ref !== undefined) {
    // draft-07: the keywords beside a $ref are ignored; what it points at applies.
    if (!root.followRefs || refs >= MAX_REFS || typeof node.$ref !== 'string') return UNKNOWN;
    const target = resolvePointer(root.root, node.$ref);
    return target === undefined ? UNKNOWN : fromSchema(target, root, label, refs + 1);
  }
  const types = declaredTypes(node);
  if (types === undefined || types.length === 0) return UNKNOWN;
  const where = `${label} (${root.declaredBy})`;
  if (types.length === 1 && types[0] === 'object') return objectType(node, root, label);
  if (types.length === 1 && types[0] === 'array') {
    const items = isNode(node.items) ? fromSchema(node.items, root, `${label === 'the payload' ? 'payload' : label}[]`, refs) : UNKNOWN;
    return { kind: 'array', items, label: where };
  }
  if (types.every((t): t is Primitive => t === 'string' || t === 'number' || t === 'boolean' || t === 'null')) return primitive(types, where);
  return UNKNOWN;
}

function objectType(node: SchemaNode, root: SchemaRoot, label: string): ObjectType {
  const properties = isNode(node.properties) ? node.properties : {};
  const patterns = isNode(node.patternProperties) ? Object.keys(node.patternProperties) : [];
  const child = (name: string): string => `${label === 'the payload' ? 'payload' : label}.${/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : `\`${name}\``}`;
  return {
    kind: 'object',
    label,
    declaredBy: root.declaredBy,
    names: Object.keys(properties),
    closed: node.additionalProperties === false,
    property(name) {
      if (Object.prototype.hasOwnProperty.call(properties, name)) {
        const sub = properties[name];
        return sub === false ? NOTHING : fromSchema(sub, root, child(name), 0);
      }
      // A name a pattern allows may exist; its type is not worked out.
      if (patterns.some((pattern) => patternAllows(pattern, name))) return UNKNOWN;
      return undefined;
    },
  };
}

/** `type` (integer counts as number), or the types of every `enum` / `const` value when there is no `type`. */
function declaredTypes(node: SchemaNode): string[] | undefined {
  const { type } = node;
  if (typeof type === 'string') return [type === 'integer' ? 'number' : type];
  if (Array.isArray(type)) {
    if (!type.every((t) => typeof t === 'string')) return undefined;
    return [...new Set(type.map((t: string) => (t === 'integer' ? 'number' : t)))];
  }
  if (type !== undefined) return undefined;
  const values = Array.isArray(node.enum) ? node.enum : 'const' in node ? [node.const] : undefined;
  if (values === undefined || values.length === 0) return undefined;
  const kinds = new Set<string>();
  for (const value of values) {
    if (value === null) kinds.add('null');
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') kinds.add(typeof value);
    else return undefined;
  }
  return [...kinds];
}

/** ajv compiles `patternProperties` with the `u` flag; a pattern that does not compile is taken to allow the name. */
function patternAllows(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(name);
  } catch {
    return true;
  }
}

function holdsId(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(holdsId);
  return isNode(value) && Object.entries(value).some(([key, inner]) => key === '$id' || holdsId(inner));
}

/** A local JSON Pointer reference (`#`, `#/definitions/reading`), or undefined. */
function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  if (fragment === '') return root;
  if (!fragment.startsWith('/')) return undefined;
  let node: unknown = root;
  for (const raw of fragment.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
