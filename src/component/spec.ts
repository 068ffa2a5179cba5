/**
 * The spec every component declares (docs/architecture.md, "Components"): the schema of the YAML
 * keys it owns, the rows of its reference tables in docs/flow-language.md, and a YAML example.
 * `schemas/flow.schema.json` is assembled from the schemas, `npm run docs:tables` writes the tables
 * from the rows, and test/unit/component/specs.test.ts checks both the docs and the examples.
 */
import type { JsonSchema } from '../util/json-schema.js';

/** One YAML key of a definition: its schema and its row in the reference table. */
export interface FieldSpec {
  readonly schema: JsonSchema;
  /** The "Type" column, in Markdown. */
  readonly type: string;
  /** The "Default" column, in Markdown: `required` for a required key. */
  readonly default: string;
  /** The "Description" column, in Markdown. */
  readonly doc: string;
}

/** A reference table of docs/flow-language.md, by the id of its marker (`<!-- table: id -->`). */
export interface DocTable {
  readonly id: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** The table of a definition's fields: Field, Type, Default, Description. */
export function fieldTable(id: string, fields: Readonly<Record<string, FieldSpec>>): DocTable {
  return { id, ...fieldRows(fields) };
}

/** A field table without its id (a step kind's, whose id the registry gives). */
export function fieldRows(fields: Readonly<Record<string, FieldSpec>>): Omit<DocTable, 'id'> {
  return {
    header: ['Field', 'Type', 'Default', 'Description'],
    rows: Object.entries(fields).map(([name, f]) => [`\`${name}\``, f.type, f.default, f.doc]),
  };
}

/** A table as Markdown. */
export function renderTable(table: DocTable): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(table.header), line(table.header.map(() => '---')), ...table.rows.map(line)].join('\n');
}

/** The schema of an object made of these fields. */
export function objectSchema(description: string, fields: Readonly<Record<string, FieldSpec>>, required: readonly string[] = []): JsonSchema {
  return {
    type: 'object',
    description,
    ...(required.length === 0 ? {} : { required: [...required] }),
    additionalProperties: false,
    properties: Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, f.schema])),
  };
}
