/**
 * Writes the reference tables of docs/flow-language.md from the components' specs (after
 * `npm run build`): `npm run docs:tables`. Exits 1 when a marker names no table, or a table has
 * no marker.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withReferenceTables } from '../dist/flow/reference.js';

const file = fileURLToPath(new URL('../docs/flow-language.md', import.meta.url));
const { text, unknown, missing } = withReferenceTables(readFileSync(file, 'utf8'));
if (unknown.length > 0 || missing.length > 0) {
  if (unknown.length > 0) console.error(`docs/flow-language.md: no table named ${unknown.join(', ')}`);
  if (missing.length > 0) console.error(`docs/flow-language.md: no marker for ${missing.map((id) => `<!-- table: ${id} -->`).join(', ')}`);
  process.exitCode = 1;
}
writeFileSync(file, text);
console.log('docs/flow-language.md: reference tables written from the specs');
