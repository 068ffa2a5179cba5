/** compile: triggers, by merging what each trigger option compiles (src/triggers/options.ts). */
import { TRIGGER_OPTIONS } from '../triggers/options.js';
import { definitionHeader, type CompileContext, type Located } from './compile-context.js';
import { compileOptions } from './component-compiler.js';
import type { Trigger } from './model.js';

export function compileTrigger(context: CompileContext, def: Located<Record<string, unknown>>): Trigger | undefined {
  const parts = compileOptions(context, def, TRIGGER_OPTIONS);
  return parts === undefined ? undefined : ({ ...definitionHeader(def, def.value), ...parts } as Trigger);
}
