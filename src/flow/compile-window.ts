/** compile: windows (src/windows), with their nested steps. */
import { compileWindow } from '../windows/window-options.js';
import { definitionHeader, type CompileContext, type Located } from './compile-context.js';
import { componentCompiler } from './component-compiler.js';
import type { Window } from './model.js';

export function compileWindowDefinition(context: CompileContext, def: Located<Record<string, unknown>>): Window | undefined {
  let failed = false;
  const settings = compileWindow(def.value, def.path, componentCompiler(context, def, () => (failed = true)));
  if (settings === undefined || failed || def.broken(def.path)) return undefined;
  return { ...definitionHeader(def, def.value), ...settings };
}
