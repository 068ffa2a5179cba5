/** compile: connections, by merging what each connection option compiles (src/connections/options.ts). */
import { CONNECTION_OPTIONS } from '../connections/options.js';
import { revealSecrets } from '../util/secret.js';
import { definitionHeader, type CompileContext, type Located } from './compile-context.js';
import { compileOptions } from './component-compiler.js';
import type { Connection } from './model.js';

export function compileConnection(context: CompileContext, def: Located<Record<string, unknown>>): Connection | undefined {
  const parts = compileOptions(context, def, CONNECTION_OPTIONS);
  if (parts === undefined) return undefined;
  // What is compiled decides "changed": file contents count (a rotated certificate is a changed
  // connection), and so do secrets, compared by value and never shown.
  return { ...definitionHeader(def, { value: def.value, compiled: revealSecrets(parts) }), ...parts } as Connection;
}

