/** Durations in flow files: a number of milliseconds, or a string such as `500ms`, `10s`, `5m`, `1h`. */

export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h)\\s*$';
const DURATION = new RegExp(DURATION_PATTERN);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds for a schema-valid duration. */
export function durationMs(value: number | string): number {
  if (typeof value === 'number') return Math.round(value);
  const match = DURATION.exec(value);
  if (match === null) throw new Error(`not a duration: ${value}`);
  const unit = match[2]!;
  return Math.round(parseFloat(value) * UNIT_MS[unit]!);
}

/** The JSON Schema of a duration field. */
export function durationSchema(description: string, examples: readonly (string | number)[]): Record<string, unknown> {
  return {
    description: `${description} A number of milliseconds, or a string such as "500ms", "10s", "5m", "1h".`,
    anyOf: [
      { type: 'number', minimum: 0 },
      { type: 'string', pattern: DURATION_PATTERN },
    ],
    examples,
  };
}
