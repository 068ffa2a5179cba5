/**
 * An option of a definition (a trigger's retry, a connection's TLS): one component that owns some
 * keys of the definition's map. Its compile returns its part of the compiled definition; its
 * runtime part is whatever its module exports beside it (docs/architecture.md, "Components").
 */
import type { ValuePath } from '../util/path.js';
import type { ComponentCompiler } from './compiler.js';
import type { FieldSpec } from './spec.js';

export interface DefinitionOption<Part extends object> {
  /** For messages and the docs. */
  readonly name: string;
  /** The keys it owns, in the order the reference table lists them. */
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Keys among `fields` that every definition must give. */
  readonly required?: readonly string[];
  /** A flow file using it; it may use the connection `plant` and the service `to-celsius` of the docs' complete example. */
  readonly example: string;
  /**
   * `value` is the definition's whole map (its own keys have passed their schemas, unless
   * `compiler.broken` says otherwise); `path` points at the definition. Undefined when it reported an error.
   */
  compile(value: Readonly<Record<string, unknown>>, path: ValuePath, compiler: ComponentCompiler): Part | undefined;
}
