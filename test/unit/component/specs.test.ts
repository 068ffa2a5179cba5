/**
 * The components' specs and docs/flow-language.md agree (docs/architecture.md, "Components"):
 * every reference table is the one the specs give (`npm run docs:tables` writes them), every
 * component's example is shown in the docs, and passes `mqflow validate` next to the docs'
 * complete example (section 2).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { componentExamples, referenceTables, withReferenceTables } from '../../../src/flow/reference.js';
import { buildMemory } from '../flow/helpers.js';

const DOCS = fileURLToPath(new URL('../../../docs/flow-language.md', import.meta.url));
const docs = readFileSync(DOCS, 'utf8');

/** The docs' complete example (section 2): the connection `plant` and service `to-celsius` examples may use. */
const completeExample = /## 2\. A complete example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(docs)![1]!;

describe('component specs and docs/flow-language.md', () => {
  it('every reference table is the one the specs give (run npm run docs:tables after changing a spec)', () => {
    const { text, unknown, missing } = withReferenceTables(docs);
    expect(unknown).toEqual([]);
    expect(missing).toEqual([]);
    expect(text).toBe(docs);
  });

  it('has a table for every connection option, trigger option and step kind', () => {
    const ids = referenceTables().map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining(['connections', 'triggers', 'steps', 'step-publish', 'trigger-retry', 'connection-tls']));
    for (const table of referenceTables()) for (const row of table.rows) expect(row.length, `${table.id}: ${row.join(' | ')}`).toBe(table.header.length);
  });

  const examples = componentExamples();
  it.each(examples.map((e) => [e.component, e.example] as const))('%s: its example is in the docs and passes validation', (_component, example) => {
    expect(docs, 'the example is shown in docs/flow-language.md, as a yaml block').toContain(`\`\`\`yaml\n${example}\`\`\``);
    const { text, model } = buildMemory({
      files: { 'plant.yaml': completeExample, 'example.yaml': example },
      env: { MQTT_USERNAME: 'svc', MQTT_PASSWORD: 'from-the-environment', REDIS_PASSWORD: 'from-the-environment', INVENTORY_TOKEN: 'from-the-environment', API_TOKEN: 'from-the-environment', WEBHOOK_TOKEN: 'from-the-environment' },
      extra: { '/flows/certs/ca.pem': '-----BEGIN CERTIFICATE-----\nexample\n-----END CERTIFICATE-----\n' },
    });
    expect(text.filter((line) => / error: /.test(line))).toEqual([]);
    expect(model).toBeDefined();
  });

  it('checks what it claims to (the examples exist)', () => {
    expect(examples.length).toBeGreaterThanOrEqual(9 + 6 + 7);
  });
});
