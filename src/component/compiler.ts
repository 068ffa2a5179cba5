/**
 * What a component's compile may use: report problems at their place, compile expressions,
 * templates, nested steps and payload schemas, record references, read files next to the flow
 * file. src/flow implements it for each definition it compiles.
 */
import type { Expression } from '../expr/expression.js';
import type { Template } from '../expr/template.js';
import type { PayloadSchema } from '../pipeline/payload-schema.js';
import type { Step } from '../pipeline/step.js';
import type { ValuePath } from '../util/path.js';

export interface ComponentCompiler {
  /** An error at `path`: the definition is not compiled. */
  problem(path: ValuePath, code: string, message: string, hint?: string): void;
  /** A warning at `path`: the definition still compiles. */
  warn(path: ValuePath, code: string, message: string, hint?: string): void;
  /** A JSONata expression; syntax errors are reported at their line and column inside the file. */
  expression(source: string, path: ValuePath): Expression | undefined;
  /** A `{{ expression }}` template. */
  template(source: string, path: ValuePath): Template | undefined;
  /** A nested list of steps (choice branches, split bodies). */
  steps(list: readonly unknown[], path: ValuePath): readonly Step[];
  payloadSchema(schema: unknown, path: ValuePath): PayloadSchema | undefined;
  /** A value quoted for a message (`"text"`), or `the value of ${env:NAME}` when it came from a secret. */
  quote(path: ValuePath, value: unknown): string;
  /** True when the schema check found a problem at exactly `path` (its type, or a key inside it); such a part is skipped (its problem is reported). */
  broken(path: ValuePath): boolean;
  /** True when the schema check found a problem at `path` or anywhere below it. */
  brokenBelow(path: ValuePath): boolean;
  /** True when the value at `path` came from `${env:…}` or `${file:…}`. */
  interpolated(path: ValuePath): boolean;
  /** Records a reference, checked once every definition of the folder is known. */
  refer(kind: 'service' | 'connection' | 'store' | 'window' | 'listener', name: string, path: ValuePath): void;
  /** The absolute path of a file or folder named relative to the flow file's folder. */
  resolvePath(name: string): string;
  /** The contents of a file named relative to the flow file (TLS certificates); problems reported at `path`. */
  readFile(name: string, path: ValuePath): string | undefined;
  /** The contents of a file compile depends on (a .proto): a changed file is a changed definition. Throws when it cannot be read. */
  read(absolutePath: string): string;
  /** An error inside a file the definition names (a line of a .proto file): the definition is not compiled. */
  problemInFile(absolutePath: string, line: number, column: number, code: string, message: string, hint?: string): void;
}
