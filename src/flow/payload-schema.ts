/** JSON Schemas that flows apply to message payloads (a service's `input`, the `validate` step). */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

export interface PayloadSchema {
  /** The schema as written in the flow. */
  readonly schema: unknown;
  /** Problems with `value`, one sentence each; empty when it is valid. */
  check(value: unknown): readonly string[];
}

// One instance for every payload schema; `strict: false` lets users keep annotations ajv does not know.
// `verbose` gives errors their schema and data, which problem messages quote.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });

/** What is wrong with `schema` as a JSON Schema (checked against the meta-schema), or undefined. */
export function schemaErrors(schema: unknown): readonly ErrorObject[] | undefined {
  if (ajv.validateSchema(schema as object) === true) return undefined;
  return ajv.errors ?? [];
}

/** Compiles `schema`; throws with ajv's reason when the schema itself is invalid. */
export function compilePayloadSchema(schema: unknown): PayloadSchema {
  const validate: ValidateFunction = ajv.compile(schema as object);
  return {
    schema,
    check(value: unknown): readonly string[] {
      if (validate(value)) return [];
      return (validate.errors ?? []).map(describePayloadError);
    },
  };
}

function describePayloadError(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'payload' : `payload${error.instancePath.replace(/\//g, '.')}`;
  return `${where} ${error.message ?? 'is invalid'}`;
}
