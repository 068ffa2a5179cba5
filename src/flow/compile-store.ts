/** compile: state stores (src/stores), and the default `memory` store every model has. */
import { compileStore, DEFAULT_STORE, DEFAULT_STORE_SETTINGS } from '../stores/store-options.js';
import { revealSecrets } from '../util/secret.js';
import { definitionHeader, type CompileContext, type Located } from './compile-context.js';
import { componentCompiler } from './component-compiler.js';
import { fingerprint } from './fingerprint.js';
import type { Store } from './model.js';

export function compileStoreDefinition(context: CompileContext, def: Located<Record<string, unknown>>): Store | undefined {
  let failed = false;
  const settings = compileStore(def.value, def.path, componentCompiler(context, def, () => (failed = true)));
  if (settings === undefined || failed) return undefined;
  // The settings decide "changed" (a changed store is opened again); secrets count by value, never shown.
  return { ...definitionHeader(def, revealSecrets(settings)), ...settings };
}

/** `stores` with the default memory store added, unless the flow declares a store by that name. */
export function withDefaultStore(stores: Map<string, Store>): Map<string, Store> {
  if (!stores.has(DEFAULT_STORE)) {
    stores.set(DEFAULT_STORE, { name: DEFAULT_STORE, enabled: true, at: { file: '(built in)', line: 1, column: 1 }, fingerprint: fingerprint(DEFAULT_STORE_SETTINGS), ...DEFAULT_STORE_SETTINGS });
  }
  return stores;
}
