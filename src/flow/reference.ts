/**
 * The reference tables of docs/flow-language.md, from the components' specs: `npm run
 * docs:tables` writes them between their markers (`<!-- table: id -->`, up to the next blank
 * line), and test/unit/component/specs.test.ts fails when the docs and the specs differ.
 */
import { CONNECTION_OPTIONS, CONNECTION_TABLES } from '../connections/options.js';
import { renderTable, type DocTable } from '../component/spec.js';
import { STEP_KINDS } from '../steps/kinds.js';
import { STORE_EXAMPLE, STORE_TABLE } from '../stores/store-options.js';
import { WINDOW_EXAMPLE, WINDOW_MORE_EXAMPLES, WINDOW_TABLE } from '../windows/window-options.js';
import { TRIGGER_OPTIONS, TRIGGER_TABLES } from '../triggers/options.js';
import { ENDPOINT_TABLE, route } from '../listeners/endpoint-options.js';
import { LISTENER_EXAMPLE, LISTENER_TABLE } from '../listeners/listener-options.js';
import { firing, SCHEDULE_TABLE, timing } from '../schedules/schedule-options.js';

export function referenceTables(): DocTable[] {
  return [
    ...CONNECTION_TABLES,
    ...TRIGGER_TABLES,
    STORE_TABLE,
    WINDOW_TABLE,
    LISTENER_TABLE,
    ENDPOINT_TABLE,
    SCHEDULE_TABLE,
    { id: 'steps', header: ['Kind', 'Does', 'Changes the payload'], rows: STEP_KINDS.map((k) => [`\`${k.kind}\``, k.summary.does, k.summary.changesPayload]) },
    ...STEP_KINDS.map((k) => ({ id: `step-${k.kind}`, ...k.table })),
  ];
}

/** Every component's example, by where it comes from: the docs show each one, and each passes `mqflow validate`. */
export function componentExamples(): { readonly component: string; readonly example: string }[] {
  return [
    ...CONNECTION_OPTIONS.map((o) => ({ component: `connection option ${o.name}`, example: o.example })),
    ...TRIGGER_OPTIONS.map((o) => ({ component: `trigger option ${o.name}`, example: o.example })),
    ...STEP_KINDS.map((k) => ({ component: `step ${k.kind}`, example: k.example })),
    { component: 'stores', example: STORE_EXAMPLE },
    { component: 'listeners', example: LISTENER_EXAMPLE },
    { component: 'endpoints', example: route.example },
    ...[timing, firing].map((o) => ({ component: `schedule option ${o.name}`, example: o.example })),
    { component: 'windows', example: WINDOW_EXAMPLE },
    ...WINDOW_MORE_EXAMPLES.map((example, i) => ({ component: `windows (example ${i + 2})`, example })),
  ];
}

const MARKER = /^<!-- table: ([a-z0-9-]+) -->$/;

/** `markdown` with every marked table replaced by the one the specs give; unknown ids are reported. */
export function withReferenceTables(markdown: string): { text: string; unknown: string[]; missing: string[] } {
  const tables = new Map(referenceTables().map((t) => [t.id, t]));
  const seen = new Set<string>();
  const unknown: string[] = [];
  const lines = markdown.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    out.push(line);
    const id = MARKER.exec(line)?.[1];
    if (id === undefined) continue;
    const table = tables.get(id);
    if (table === undefined) {
      unknown.push(id);
      continue;
    }
    seen.add(id);
    // Skip the table written there now (up to the next blank line), then write the spec's.
    while (i + 1 < lines.length && lines[i + 1]!.startsWith('|')) i++;
    out.push(renderTable(table));
  }
  return { text: out.join('\n'), unknown, missing: [...tables.keys()].filter((id) => !seen.has(id)) };
}
