/**
 * compile: services. Compiles every step through its kind's compile function, and every
 * expression once, reporting syntax errors at their line and column in the flow file.
 */
import { definitionHeader, recordingReads, type CompileContext, type Located } from './compile-context.js';
import { componentCompiler } from './component-compiler.js';
import type { Service } from './model.js';
import { checkServiceTypes } from './typed-expressions.js';

export interface ServiceValue {
  description?: string;
  input?: Record<string, unknown>;
  steps: unknown[];
}

export function compileService(context: CompileContext, def: Located<ServiceValue>): Service | undefined {
  const { value, path } = def;
  let ok = true;
  const own = recordingReads(context);
  const compiler = componentCompiler(own.context, def, () => (ok = false), def.name);
  const input = value.input === undefined || def.broken([...path, 'input']) ? undefined : compiler.payloadSchema(value.input, [...path, 'input']);
  // Missing steps are reported by the schema (at the service); there is nothing to compile.
  const steps = def.brokenAt([...path, 'steps']) || !Array.isArray(value.steps) ? [] : compiler.steps(value.steps, [...path, 'steps']);
  if (def.broken(path)) ok = false;
  if (!ok) return undefined;
  // Warnings only (typed expressions): what is compiled does not depend on them.
  checkServiceTypes(context, { file: def.file, path, input: value.input, steps: value.steps });
  return {
    // A file a step read (a .proto) is part of what it is: a changed file is a changed service.
    ...definitionHeader(def, own.files.size === 0 ? value : { value, files: [...own.files] }),
    ...(input === undefined ? {} : { input }),
    steps,
  };
}
