/** JSON Schemas that flows apply to message payloads (a service's `input`, the `validate` step). */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export interface PayloadSchema {
  /** The schema as written in the flow. */
  readonly schema: unknown;
  /** Problems with `value`, one sentence each; empty when it is valid. */
  check(value: unknown): readonly string[];
}

// One instance for every payload schema; `strict: false` lets users keep annotations ajv does not know.
// `verbose` gives errors their schema and data, which problem messages quote.
// ajv-formats checks `format` (email, date-time, uri, …), which ajv alone ignores with a warning.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, logger: false });
// ajv-formats is CommonJS; its function is the default export's default.
(addFormats as unknown as { default: (a: Ajv) => void }).default(ajv);

const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;

/** What is wrong with `schema` as a JSON Schema (checked against the meta-schema): ajv errors, or a sentence. */
export function schemaErrors(schema: unknown): readonly ErrorObject[] | string | undefined {
  const declared = (schema as { $schema?: unknown }).$schema;
  if (declared !== undefined && (typeof declared !== 'string' || !DRAFT_07.test(declared))) {
    return `$schema must be http://json-schema.org/draft-07/schema# or left out (got ${JSON.stringify(declared)}): flows use JSON Schema draft-07`;
  }
  const text = JSON.stringify(schema);
  if (validSchemaTexts.has(text)) return undefined;
  try {
    if (ajv.validateSchema(schema as object) === true) {
      validSchemaTexts.add(text);
      return undefined;
    }
  } catch (error) {
    return (error as Error).message;
  }
  return ajv.errors ?? [];
}

const validSchemaTexts = new Set<string>();

// Flows repeat the same schemas (one per device type, copied across files): compile each text once.
const compiledByText = new Map<string, ValidateFunction>();

/** Compiles `schema` (each distinct schema text once); throws with ajv's reason when it cannot be compiled (e.g. an unresolvable $ref). */
export function compilePayloadSchema(schema: unknown): PayloadSchema {
  const text = JSON.stringify(schema);
  let validate = compiledByText.get(text);
  if (validate === undefined) {
    validate = ajv.compile(schema as object);
    compiledByText.set(text, validate);
  }
  const v = validate;
  return {
    schema,
    check(value: unknown): readonly string[] {
      if (v(value)) return [];
      return (v.errors ?? []).map(describePayloadError);
    },
  };
}

function describePayloadError(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'payload' : `payload${error.instancePath.replace(/\//g, '.')}`;
  return `${where} ${error.message ?? 'is invalid'}`;
}
