/**
 * The ComponentCompiler of one definition: what step kinds and options compile with. Problems are
 * reported at their place in the flow file (expressions at their line and column inside it).
 */
import { dirname, join, relative, resolve } from 'node:path';
import type { ComponentCompiler } from '../component/compiler.js';
import type { DefinitionOption } from '../component/option.js';
import { ExpressionSyntaxError, type Expression } from '../expr/expression.js';
import { compileTemplate, splitTemplate, type Template } from '../expr/template.js';
import type { Execution } from '../pipeline/execution.js';
import { compilePayloadSchema, schemaErrors, type PayloadSchema } from '../pipeline/payload-schema.js';
import type { Step, StepRuntime } from '../pipeline/step.js';
import { STEP_KIND_NAMES, stepKind } from '../steps/kinds.js';
import { FileLimitError } from '../util/bounded-read.js';
import { formatPath, toPointer, type ValuePath } from '../util/path.js';
import type { SourcePosition } from '../util/position.js';
import { quote, report, type CompileContext, type Located } from './compile-context.js';
import { sourceOffsetOf } from './scalar-offsets.js';
import { describeSchemaErrors } from './schema-check.js';

/** `failed` is called with every error reported, so the caller knows the definition did not compile. */
export function componentCompiler(context: CompileContext, def: Located<unknown>, failed: () => void, fromService?: string): ComponentCompiler {
  const { file } = def;
  const problem = (path: ValuePath, code: string, message: string, hint?: string): void => {
    report(context, file, path, code, message, hint);
    failed();
  };

  /** Where offset `index` of the string at `path` is in the file (the value's key when it cannot be mapped). */
  const positionIn = (path: ValuePath, value: string, index: number): SourcePosition => {
    const scalar = file.source.scalarAt(path);
    if (scalar !== undefined && !file.interpolated.has(toPointer(path))) {
      const offset = sourceOffsetOf(file.source.text, scalar.offset, scalar.end, value, index);
      if (offset !== undefined) return file.source.positionAt(offset);
    }
    return file.source.locate(path);
  };

  const syntaxProblem = (path: ValuePath, value: string, offset: number, message: string): void => {
    context.problems.add({
      severity: 'error',
      code: 'MQFLOW_EXPR_SYNTAX',
      ...positionIn(path, value, offset),
      path: formatPath(path),
      message: `${formatPath(path)}: ${message}`,
    });
    failed();
  };

  const compileExpression = (source: string, path: ValuePath, within: string, offset: number): Expression | undefined => {
    if (def.broken(path)) {
      failed();
      return undefined;
    }
    try {
      const expression = context.engine.compile(source);
      context.expressions?.push({
        ...positionIn(path, within, offset),
        path: formatPath(path),
        source,
        execution: expression.execution ?? { mode: 'interpreted', reason: 'the engine does not say' },
      });
      return expression;
    } catch (error) {
      if (!(error instanceof ExpressionSyntaxError)) throw error;
      syntaxProblem(path, within, offset + error.offset, `JSONata syntax error ${error.code}: ${error.message}`);
      return undefined;
    }
  };

  const compiler: ComponentCompiler = {
    problem,
    warn: (path, code, message, hint) => report(context, file, path, code, message, hint, 'warning'),
    expression: (source, path) => compileExpression(source, path, source, 0),
    template(source, path): Template | undefined {
      if (def.broken(path)) {
        failed();
        return undefined;
      }
      const parts = splitTemplate(source);
      if (!Array.isArray(parts)) {
        syntaxProblem(path, source, parts.offset, `template error: ${parts.problem}`);
        return undefined;
      }
      return compileTemplate(source, parts, (part) => compileExpression(part.text, path, source, part.offset));
    },
    steps(list, path): readonly Step[] {
      if (def.brokenAt(path) || !Array.isArray(list)) {
        failed();
        return [];
      }
      const steps: Step[] = [];
      list.forEach((raw, i) => {
        const step = compileStep(raw, [...path, i]);
        if (step !== undefined) steps.push(step);
      });
      return steps;
    },
    payloadSchema(schema, path): PayloadSchema | undefined {
      if (def.broken(path)) {
        failed();
        return undefined;
      }
      const errors = schemaErrors(schema);
      if (typeof errors === 'string') {
        const at = errors.startsWith('$schema') ? [...path, '$schema'] : path;
        problem(at, 'MQFLOW_JSON_SCHEMA', `${formatPath(path)} is not a valid JSON Schema: ${errors}`);
        return undefined;
      }
      if (errors !== undefined) {
        for (const p of describeSchemaErrors(errors, schema, file, path)) context.problems.add(p);
        failed();
        return undefined;
      }
      try {
        return compilePayloadSchema(schema);
      } catch (error) {
        problem(path, 'MQFLOW_JSON_SCHEMA', `${formatPath(path)} is not a valid JSON Schema: ${(error as Error).message}`);
        return undefined;
      }
    },
    broken: (path) => def.brokenAt(path),
    brokenBelow: (path) => def.broken(path),
    interpolated: (path) => file.interpolated.has(toPointer(path)),
    quote: (path, value) => quote(file, path, value),
    refer(kind, name, path) {
      if (def.broken(path)) return;
      context.references.push({ kind, name, file, path, ...(kind === 'service' && fromService !== undefined ? { fromService } : {}) });
    },
    resolvePath: (name) => resolve(dirname(file.source.absolutePath), name),
    read: (absolutePath) => context.readFile(absolutePath),
    problemInFile(absolutePath, line, column, code, message, hint) {
      // Shown as the flow file is: relative to the folder of its display path.
      const shown = join(dirname(file.source.displayPath), relative(dirname(file.source.absolutePath), absolutePath));
      context.problems.add({ severity: 'error', code, file: shown, line, column, path: formatPath(def.path), message, ...(hint === undefined ? {} : { hint }) });
      failed();
    },
    readFile(name, path) {
      const absolute = resolve(dirname(file.source.absolutePath), name);
      try {
        return context.readFile(absolute);
      } catch (error) {
        // The real read (processEnvironment) takes only a regular file of at most MAX_FILE_BYTES: a PEM file is a few KiB.
        if (error instanceof FileLimitError) {
          problem(path, 'MQFLOW_TLS_FILE', `${formatPath(path)}: cannot read ${quote(file, path, name)}: ${error.reason}`, 'name a PEM file (a regular file), relative to the flow file');
          return undefined;
        }
        const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
        problem(path, 'MQFLOW_TLS_FILE', `${formatPath(path)}: cannot read ${quote(file, path, name)}: ${reason}`, 'the path is relative to the flow file');
        return undefined;
      }
    },
  };

  const compileStep = (raw: unknown, path: ValuePath): Step | undefined => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      failed();
      return undefined;
    }
    const kinds = Object.keys(raw).filter((k) => STEP_KIND_NAMES.includes(k));
    // A step whose only key is misspelt has its "unknown key … did you mean" problem already.
    if (kinds.length === 0 && def.brokenAt(path)) {
      failed();
      return undefined;
    }
    if (kinds.length !== 1) {
      const message = kinds.length === 0 ? `${formatPath(path)} has no step kind` : `${formatPath(path)} has ${kinds.map((k) => `"${k}"`).join(' and ')}: a step does one thing`;
      const hint = kinds.length === 0 ? `give one of ${STEP_KIND_NAMES.join(', ')}` : 'split it into one step per kind, in the order they should run';
      problem(path, 'MQFLOW_STEP_KIND', message, hint);
      return undefined;
    }
    const kind = stepKind(kinds[0]!)!;
    const value = (raw as Record<string, unknown>)[kind.kind];
    // A value of the wrong shape is reported already; its compile function may rely on the shape.
    if (def.brokenAt([...path, kind.kind])) {
      failed();
      return undefined;
    }
    const name = (raw as Record<string, unknown>).name;
    const header = {
      ...(typeof name === 'string' ? { name } : {}),
      at: file.source.locate(path),
      path: formatPath(path),
    };
    const data = kind.compile(value, header, [...path, kind.kind], compiler);
    if (data === undefined) return undefined;
    // The step carries its own run, so the pipeline calls it without looking anything up.
    const run = (exec: Execution, runtime: StepRuntime): ReturnType<Step['run']> => kind.run(data, exec, runtime);
    return Object.assign(data, { run });
  };

  return compiler;
}

/**
 * Compiles a definition made of options (a connection, a trigger): every option compiles, even
 * after one failed, so one run reports every problem; their parts merged, or undefined.
 */
export function compileOptions(context: CompileContext, def: Located<Record<string, unknown>>, options: readonly DefinitionOption<object>[]): object | undefined {
  let ok = true;
  const compiler = componentCompiler(context, def, () => (ok = false));
  const parts: object[] = [];
  for (const option of options) {
    const part = option.compile(def.value, def.path, compiler);
    if (part === undefined) ok = false;
    else parts.push(part);
  }
  return ok && !def.broken(def.path) ? (Object.assign({}, ...parts) as object) : undefined;
}
