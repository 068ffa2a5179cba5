/**
 * compile: services. Compiles every step through its kind's compile function, and every
 * expression once, reporting syntax errors at their line and column in the flow file.
 */
import { ExpressionSyntaxError, type Expression } from '../expr/expression.js';
import { compileTemplate, splitTemplate, type Template } from '../expr/template.js';
import { STEP_KIND_NAMES, stepKind } from '../steps/kinds.js';
import type { Step, StepCompiler } from '../steps/step.js';
import { definitionHeader, quote, report, type CompileContext, type Located } from './compile-context.js';
import type { Service } from './model.js';
import { formatPath, toPointer, type ValuePath } from './path.js';
import { compilePayloadSchema, schemaErrors, type PayloadSchema } from './payload-schema.js';
import { describeSchemaErrors } from './schema-check.js';
import type { SourcePosition } from './problem.js';
import { sourceOffsetOf } from './scalar-offsets.js';

export interface ServiceValue {
  description?: string;
  input?: Record<string, unknown>;
  steps: unknown[];
}

export function compileService(context: CompileContext, def: Located<ServiceValue>): Service | undefined {
  const { value, path } = def;
  let ok = true;
  const compiler = stepCompiler(context, def, () => (ok = false));
  const input = value.input === undefined || def.broken([...path, 'input']) ? undefined : compiler.payloadSchema(value.input, [...path, 'input']);
  // Missing steps are reported by the schema (at the service); there is nothing to compile.
  const steps = def.brokenAt([...path, 'steps']) || !Array.isArray(value.steps) ? [] : compiler.steps(value.steps, [...path, 'steps']);
  if (def.broken(path)) ok = false;
  if (!ok) return undefined;
  return {
    ...definitionHeader(def, value),
    ...(input === undefined ? {} : { input }),
    steps,
  };
}

function stepCompiler(context: CompileContext, def: Located<ServiceValue>, failed: () => void): StepCompiler {
  const { file, name: serviceName } = def;
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

  const compiler: StepCompiler = {
    problem,
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
    quote: (path, value) => quote(file, path, value),
    refer(kind, name, path) {
      if (def.broken(path)) return;
      context.references.push({ kind, name, file, path, ...(kind === 'service' ? { fromService: serviceName } : {}) });
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
    return kind.compile(value, header, [...path, kind.kind], compiler) as Step | undefined;
  };

  return compiler;
}
