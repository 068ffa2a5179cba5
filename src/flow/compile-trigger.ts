/** compile: triggers, by merging what each trigger option compiles (src/triggers/options.ts). */
import { TRIGGER_OPTIONS } from '../triggers/options.js';
import { definitionHeader, recordingReads, type CompileContext, type Located } from './compile-context.js';
import { compileOptions } from './component-compiler.js';
import type { Trigger } from './model.js';

export function compileTrigger(context: CompileContext, def: Located<Record<string, unknown>>): Trigger | undefined {
  const own = recordingReads(context);
  const parts = compileOptions(own.context, def, TRIGGER_OPTIONS);
  // A file it read (a .proto) is part of what it is: a changed file is a changed trigger.
  return parts === undefined ? undefined : ({ ...definitionHeader(def, own.files.size === 0 ? def.value : { value: def.value, files: [...own.files] }), ...parts } as Trigger);
}
