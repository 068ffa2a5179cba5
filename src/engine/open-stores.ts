/**
 * The stores the engine has open, kept across reloads while their definition is unchanged
 * (docs/architecture.md, invariant 40). Each flow version gets the environment of its own stores,
 * so messages of an old version finish on the stores they started with.
 */
import type { FlowModel, Store } from '../flow/model.js';
import type { Clock } from '../state/clock.js';
import type { StateEnvironment } from '../state/message-state.js';
import { OpenStore } from '../state/open-store.js';
import { StateError } from '../state/state-error.js';
import type { StateStore } from '../state/store.js';
import { openStore } from '../stores/store-options.js';
import type { Log } from '../util/log.js';

interface Opened {
  readonly definition: Store;
  readonly open: OpenStore;
}

export class OpenStores {
  readonly #open = new Map<string, Opened>();

  constructor(
    private readonly log: Log,
    readonly clock: Clock,
  ) {}

  /** Opens the stores of `model` that are new or changed; returns its environment and the stores it replaced (to close once the old version drained). */
  update(model: FlowModel): { readonly env: StateEnvironment; readonly replaced: readonly OpenStore[] } {
    const replaced: OpenStore[] = [];
    for (const [name, opened] of this.#open) {
      const next = model.stores.get(name);
      if (next === undefined || next.fingerprint !== opened.definition.fingerprint) {
        replaced.push(opened.open);
        this.#open.delete(name);
      }
    }
    const stores = new Map<string, OpenStore>();
    for (const [name, definition] of model.stores) {
      let opened = this.#open.get(name);
      if (opened === undefined) {
        opened = { definition, open: new OpenStore(name, this.#openStore(definition), definition.limits) };
        this.#open.set(name, opened);
      }
      stores.set(name, opened.open);
    }
    return { env: { store: (name) => stores.get(name), clock: this.clock }, replaced };
  }

  #openStore(definition: Store): StateStore {
    try {
      return openStore(definition, this.log.child({ store: definition.name }));
    } catch (error) {
      // A store that cannot open fails the messages that use it (transiently), not the process.
      const reason = (error as Error).message;
      this.log.error({ event: 'store-open-failed', store: definition.name, reason }, `store ${definition.name} could not be opened: ${reason}`);
      return unopenedStore(definition, reason);
    }
  }

  /** The open stores, for the snapshot. */
  get all(): ReadonlyMap<string, { readonly definition: Store; readonly open: OpenStore }> {
    return this.#open;
  }

  /** Closes stores a reload replaced, once nothing uses them. */
  static async close(stores: readonly OpenStore[], log: Log): Promise<void> {
    await Promise.all(
      stores.map((s) =>
        s.store.close().catch((error: unknown) => log.warn({ event: 'store-close-failed', store: s.name, reason: (error as Error).message }, `store ${s.name} did not close cleanly`)),
      ),
    );
  }

  async closeAll(): Promise<void> {
    const all = [...this.#open.values()].map((o) => o.open);
    this.#open.clear();
    await OpenStores.close(all, this.log);
  }
}

function unopenedStore(definition: Store, reason: string): StateStore {
  const fail = (): never => {
    throw new StateError(`store "${definition.name}" could not be opened: ${reason}`, 'MQFLOW_STATE_UNAVAILABLE');
  };
  let errors = 0;
  return {
    kind: definition.type,
    shared: definition.type === 'redis',
    get: () => (errors++, fail()),
    commit: () => (errors++, fail()),
    claim: () => Promise.reject(new StateError(`store "${definition.name}" could not be opened: ${reason}`, 'MQFLOW_STATE_UNAVAILABLE')),
    unclaim: () => Promise.resolve(),
    stats: () => ({ entries: undefined, hits: 0, misses: 0, evictions: 0, errors }),
    close: () => Promise.resolve(),
  };
}
