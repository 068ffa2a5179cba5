import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLOW_SCHEMA } from '../../../src/flow/schema.js';

/** Every `properties` entry anywhere in the schema, with its path. */
function properties(node: unknown, path: string, out: [string, Record<string, unknown>][] = []): [string, Record<string, unknown>][] {
  if (Array.isArray(node)) node.forEach((item, i) => properties(item, `${path}[${i}]`, out));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && value !== null && typeof value === 'object') {
        for (const [name, schema] of Object.entries(value as Record<string, Record<string, unknown>>)) {
          out.push([`${path}.${name}`, schema]);
          properties(schema, `${path}.${name}`, out);
        }
      } else if (key !== 'examples') {
        properties(value, `${path}.${key}`, out);
      }
    }
  }
  return out;
}

describe('flow schema', () => {
  it('is the committed schemas/flow.schema.json (run npm run schema:write after changing it)', () => {
    const committed: unknown = JSON.parse(readFileSync(new URL('../../../schemas/flow.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(FLOW_SCHEMA);
  });

  it('describes every property', () => {
    const all = properties(FLOW_SCHEMA, '#');
    expect(all.length).toBeGreaterThan(60);
    const undocumented = all.filter(([, schema]) => typeof schema.description !== 'string' || schema.description.length < 10).map(([p]) => p);
    expect(undocumented).toEqual([]);
  });
});
