/** A JSON Schema (draft-07) as a plain object: the flow schema is assembled from these. */
export type JsonSchema = Readonly<Record<string, unknown>>;
