/**
 * The windows of a flow at run time (docs/architecture.md, "Windows"): open windows per key,
 * the timers that close them, and the emission, which runs the window's steps once per closing
 * window. A collected message stays unacknowledged until every window it went into has emitted
 * and the emission's outputs settled (invariant 41): a window's contributors are outputs of the
 * messages that contributed.
 */
import type { OutputTracker } from '../mqtt/message.js';
import type { MessageContext } from '../pipeline/context.js';
import type { Clock } from '../state/clock.js';
import { MessageState, type StateEnvironment } from '../state/message-state.js';
import type { OpenStore } from '../state/open-store.js';
import { after, type Maybe } from '../util/maybe.js';
import type { Log } from '../util/log.js';
import type { Aggregate, WindowSettings } from '../windows/window-options.js';

/** A running aggregate of one open window. */
interface Accumulator {
  sum: number;
  n: number;
  /** null until a number came: JSON data, as a stored window keeps it. */
  min: number | null;
  max: number | null;
  first: unknown;
  last: unknown;
}

const newAccumulator = (): Accumulator => ({ sum: 0, n: 0, min: null, max: null, first: null, last: null });

/** One open window of one key: what it holds is made when first needed, so an open key stays small. */
interface Open {
  readonly key: string;
  readonly start: number;
  /** When it closes (moves for a session window); Infinity for a count window. */
  end: number;
  count: number;
  /** The collected values, without aggregates. */
  values: unknown[] | undefined;
  /** One per aggregate, in the order of the definition. */
  sums: Accumulator[] | undefined;
  /** The held messages (QoS 1 and 2). */
  contributors: OutputTracker[] | undefined;
  closed: boolean;
}

export interface WindowCounters {
  open: number;
  emitted: number;
  failed: number;
  /** Event time: values whose windows had all closed. */
  late: number;
  /** Messages held until their windows emitted. */
  held: number;
}

/** A window kept in a store: its record, under `window/<name>:<start>/<key>`. */
interface StoredWindow {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly values?: unknown[];
  readonly sums?: Accumulator[];
}

/** How long a collected value's id is kept after its window's end: a redelivery later than that counts again. */
const ID_KEPT_MS = 3_600_000;
/** A stored window whose steps failed is emitted again after this. */
const RETRY_MS = 5_000;

/** Where a stored window keeps its open windows. */
export interface WindowStore {
  readonly store: OpenStore;
  readonly env: StateEnvironment;
}

/** Runs a window's steps on its output: resolves once its outputs settled, rejects with its failure. */
export type EmitSteps = (payload: unknown, context: MessageContext) => Promise<void>;

export class WindowRuntime {
  readonly #open = new Map<string, Open[]>();
  /** Close times with the windows due then. */
  readonly #due = new Map<number, Set<Open>>();
  readonly counters: WindowCounters = { open: 0, emitted: 0, failed: 0, late: 0, held: 0 };
  /** Set by close(): from then on a window closes as soon as a value went into it. */
  #closing = false;
  /** Stored windows (invariant 44): the ones this runtime will close, and those closed, by store key. */
  readonly #stored = new Map<string, number>();
  readonly #closedStored = new Set<string>();
  #stopped = false;

  constructor(
    readonly name: string,
    readonly settings: WindowSettings,
    readonly fingerprint: string,
    private readonly emitSteps: EmitSteps,
    private readonly connection: string,
    private readonly clock: Clock,
    private readonly log: Log,
    /** Set for a window kept in a store. */
    readonly store?: WindowStore,
  ) {}

  /**
   * A stored window: adds `value` to its windows through the message's state, so it is committed
   * with the message, before its acknowledgement. A value whose `id` was counted already (a
   * redelivery) is not counted again.
   */
  addStored(state: MessageState, key: string, value: unknown, inputs: readonly unknown[], id: string, eventTime?: number): Maybe<boolean> {
    const { store } = this.store!;
    if (eventTime !== undefined && this.#late(eventTime, this.clock.now())) {
      this.counters.late++;
      return false;
    }
    // The id is the key's, whatever window it went into: a redelivery comes later, into a later window.
    const idKey = store.key(`window-id/${this.name}`, `${key}/${id}`);
    return after(state.hold(store, idKey), () =>
      after(state.read(store, idKey), (seen) => {
        if (seen !== undefined) return true;
        const now = this.clock.now();
        const bounds = this.#bounds(eventTime ?? now);
        state.write(store, idKey, 1, Math.max(...bounds.map(([, end]) => end)) + this.settings.latenessMs - now + ID_KEPT_MS);
        return after(this.#addToWindows(state, key, value, inputs, bounds, 0), () => true);
      }),
    );
  }

  #addToWindows(state: MessageState, key: string, value: unknown, inputs: readonly unknown[], bounds: readonly [number, number][], i: number): Maybe<void> {
    if (i >= bounds.length) return undefined;
    const { store } = this.store!;
    const [start, end] = bounds[i]!;
    const windowKey = store.key(`window/${this.name}`, `${start}/${key}`);
    return after(state.hold(store, windowKey), () => {
      // Closed while this message waited for it: the value goes into the windows open now.
      if (this.#closedStored.has(windowKey) && this.settings.time !== undefined) {
        // Event time: its window closed while it waited; the value is late for it.
        this.counters.late++;
        return this.#addToWindows(state, key, value, inputs, bounds, i + 1);
      }
      if (this.#closedStored.has(windowKey)) {
        const later = this.#bounds(this.clock.now()).filter(([s]) => s > start);
        return this.#addToWindows(state, key, value, inputs, [...later, ...bounds.slice(i + 1).filter(([s]) => !later.some(([l]) => l === s))], 0);
      }
      return after(state.read(store, windowKey), (found) => {
        state.write(store, windowKey, this.#updated(found as StoredWindow | undefined, key, start, end, value, inputs), undefined);
        this.#track(windowKey, end + this.settings.latenessMs);
        return this.#addToWindows(state, key, value, inputs, bounds, i + 1);
      });
    });
  }

  /** Finds the stored windows still open (after a restart) and closes each when its time comes. */
  restore(): Maybe<void> {
    const { store } = this.store!;
    const entries = store.store.entries?.(`window/${this.name}:`, this.clock.now());
    return after(entries ?? [], (list) => {
      for (const [windowKey, record] of list) this.#track(windowKey, (record as StoredWindow).end + this.settings.latenessMs);
      if (list.length > 0) this.log.info({ event: 'windows-restored', window: this.name, open: list.length }, `window ${this.name}: ${list.length} open windows found in store ${store.name}`);
    });
  }

  #updated(record: StoredWindow | undefined, key: string, start: number, end: number, value: unknown, inputs: readonly unknown[]): StoredWindow {
    const aggregates = this.settings.aggregates;
    // A copy: a memory store hands out the object it keeps, and a write takes effect only at commit.
    const sums = aggregates.length === 0 ? undefined : aggregates.map((a, i) => {
      const acc = { ...(record?.sums?.[i] ?? newAccumulator()) };
      accumulate(acc, a, inputs[i]);
      return acc;
    });
    return {
      key,
      start,
      end,
      count: (record?.count ?? 0) + 1,
      ...(aggregates.length === 0 ? { values: [...(record?.values ?? []), value] } : { sums }),
    };
  }

  /** The [start, end) of the time windows a value of time `now` goes into (tumbling; sliding: every window whose start is a multiple of `every` and that holds `now`). */
  #bounds(now: number): [number, number][] {
    const shape = this.settings.shape;
    if (shape.kind === 'tumbling') {
      const start = Math.floor(now / shape.everyMs) * shape.everyMs;
      return [[start, start + shape.everyMs]];
    }
    if (shape.kind !== 'sliding') throw new Error(`a ${shape.kind} window is not kept in a store`);
    const out: [number, number][] = [];
    const last = Math.floor(now / shape.everyMs) * shape.everyMs;
    for (let start = last; start > now - shape.sizeMs; start -= shape.everyMs) out.push([start, start + shape.sizeMs]);
    return out;
  }

  #track(windowKey: string, end: number): void {
    if (this.#stored.has(windowKey)) return;
    this.#stored.set(windowKey, end);
    this.counters.open++;
    void this.clock.sleep(end - this.clock.now()).then(() => this.#closeStored(windowKey));
  }

  /** Emits a stored window, then removes it from the store; a failure is tried again later. */
  async #closeStored(windowKey: string): Promise<void> {
    if (this.#stopped) return;
    const { store, env } = this.store!;
    // The window's lock: values of messages still in flight are committed before it is read.
    const holder = new MessageState(env);
    try {
      await holder.hold(store, windowKey);
      this.#closedStored.add(windowKey);
      const record = (await holder.read(store, windowKey)) as StoredWindow | undefined;
      if (record !== undefined) {
        const payload = this.#payload(record.key, record.start, record.end, record.count, record.values, record.sums);
        await this.emitSteps(payload, this.#context(payload.end, payload));
        holder.write(store, windowKey, undefined, undefined);
      }
      await holder.commit();
      this.#stored.delete(windowKey);
      this.counters.open--;
      if (record !== undefined) this.counters.emitted++;
      // Contributors queued behind the close have been redirected by now; keep the set small.
      setTimeout(() => this.#closedStored.delete(windowKey), 60_000).unref();
    } catch (error) {
      holder.abort();
      this.counters.failed++;
      const reason = error instanceof Error ? error.message : String(error);
      this.log.error({ event: 'window-failed', window: this.name, store: store.name, reason }, `window ${this.name}: ${windowKey} failed (${reason}); trying again in ${RETRY_MS / 1000} s`);
      setTimeout(() => void this.#closeStored(windowKey), RETRY_MS).unref();
    }
  }

  /**
   * Adds `value` (whose key is `key`) to its windows. `tracker`'s message is held until they
   * emitted; undefined for a QoS 0 message, which has no acknowledgement to hold (invariant 41).
   */
  add(key: string, value: unknown, aggregates: readonly unknown[], tracker: OutputTracker | undefined, eventTime?: number): 'added' | 'late' | 'full' {
    const now = this.clock.now();
    const at = eventTime ?? now;
    if (eventTime !== undefined && this.#late(eventTime, now)) {
      this.counters.late++;
      return 'late';
    }
    // A flood of new keys cannot open windows without bound (invariant 39's kin for windows).
    if (this.counters.open >= this.settings.maxOpen && !this.#open.has(key)) return 'full';
    for (const open of this.#windowsFor(key, at)) {
      open.count++;
      const aggregateList = this.settings.aggregates;
      if (aggregateList.length === 0) (open.values ??= []).push(value);
      else {
        const sums = (open.sums ??= aggregateList.map(newAccumulator));
        for (let i = 0; i < aggregateList.length; i++) accumulate(sums[i]!, aggregateList[i]!, aggregates[i]);
      }
      if (tracker !== undefined) {
        tracker.outputHanded();
        tracker.heldByWindow?.(1);
        this.counters.held++;
        (open.contributors ??= []).push(tracker);
      }
      if (this.#closing || (this.settings.shape.kind === 'count' && open.count >= this.settings.shape.count)) void this.#close(open, this.#closing);
      else if (this.settings.shape.kind === 'session') open.end = now + this.settings.shape.gapMs;
    }
    return 'added';
  }

  /** Event time: every window a value of time `t` falls in has closed (its end and the allowed lateness passed). */
  #late(t: number, now: number): boolean {
    const latestEnd = Math.max(...this.#bounds(t).map(([, end]) => end));
    return latestEnd + this.settings.latenessMs <= now;
  }

  /** The values each aggregate reads, from a collected value (evaluated by the caller). */
  get aggregates(): readonly Aggregate[] {
    return this.settings.aggregates;
  }

  #payload(key: string, start: number, end: number, count: number, values: readonly unknown[] | undefined, sums: readonly Accumulator[] | undefined): { start: string; end: string } & Record<string, unknown> {
    return {
      window: this.name,
      key,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      count,
      ...(this.settings.aggregates.length === 0 ? { values: values ?? [] } : { aggregate: aggregateOf(sums, this.settings.aggregates) }),
    };
  }

  #context(receivedAt: string, payload: unknown): MessageContext {
    return { topic: '', levels: [''], wildcards: [], payload, qos: 1, retain: false, dup: false, receivedAt, trigger: `window ${this.name}`, connection: this.connection };
  }

  /** Closes every open window now (the end of a flow test); later values open windows as usual. */
  flush(): Promise<void> {
    if (this.store !== undefined) return Promise.all([...this.#stored.keys()].map((k) => this.#closeStored(k))).then(() => undefined);
    const all = [...this.#open.values()].flat();
    return Promise.all(all.map((open) => this.#close(open, true))).then(() => undefined);
  }

  /**
   * Closes every open window now, and each later one as soon as a value went into it: shutdown,
   * or a reload that changed or removed the window. Its messages are then acknowledged once those
   * windows emitted, instead of waiting for their time (invariant 43).
   */
  close(): Promise<void> {
    // Stored windows stay in their store, for the next run (or the new version) to close on time.
    if (this.store !== undefined) {
      this.#stopped = true;
      return Promise.resolve();
    }
    this.#closing = true;
    return this.flush();
  }

  /** The windows of `key` that a value collected now goes into, opened as needed. */
  #windowsFor(key: string, now: number): Open[] {
    let list = this.#open.get(key);
    if (list === undefined) this.#open.set(key, (list = []));
    const shape = this.settings.shape;
    const found: Open[] = [];
    const ensure = (start: number, end: number): void => {
      let open = list.find((o) => o.start === start && !o.closed);
      if (open === undefined) {
        open = { key, start, end, count: 0, values: undefined, sums: undefined, contributors: undefined, closed: false };
        list.push(open);
        this.counters.open++;
        if (Number.isFinite(end)) this.#schedule(open, end + this.settings.latenessMs);
      }
      found.push(open);
    };
    switch (shape.kind) {
      case 'tumbling':
      case 'sliding':
        for (const [start, end] of this.#bounds(now)) ensure(start, end);
        break;
      case 'count': {
        const open = list.find((o) => !o.closed);
        if (open !== undefined) found.push(open);
        else ensure(now, Infinity);
        break;
      }
      case 'session': {
        const open = list.find((o) => !o.closed);
        if (open !== undefined) found.push(open);
        else ensure(now, now + shape.gapMs);
        break;
      }
    }
    return found;
  }

  #schedule(open: Open, at: number): void {
    let due = this.#due.get(at);
    if (due === undefined) {
      this.#due.set(at, (due = new Set()));
      void this.clock.sleep(at - this.clock.now()).then(() => this.#fire(at));
    }
    due.add(open);
  }

  #fire(at: number): void {
    const due = this.#due.get(at);
    this.#due.delete(at);
    for (const open of due ?? []) {
      if (open.closed) continue;
      // A session window whose key got a message since: it closes later.
      if (open.end > at) this.#schedule(open, open.end);
      else void this.#close(open);
    }
  }

  /** Emits `open` and settles its contributors with the outcome. */
  /** `early`: before its time (shutdown, a reload, the end of a flow test): its `end` is then now. */
  #close(open: Open, early = false): Promise<void> {
    if (open.closed) return Promise.resolve();
    open.closed = true;
    this.counters.open--;
    const list = this.#open.get(open.key);
    if (list !== undefined) {
      list.splice(list.indexOf(open), 1);
      if (list.length === 0) this.#open.delete(open.key);
    }
    const now = this.clock.now();
    const end = Number.isFinite(open.end) && !(early && now < open.end) ? open.end : now;
    const payload = this.#payload(open.key, open.start, end, open.count, open.values, open.sums);
    const context = this.#context(payload.end, payload);
    const settle = (error: Error | undefined): void => {
      for (const tracker of open.contributors ?? []) {
        this.counters.held--;
        tracker.heldByWindow?.(-1);
        tracker.outputSettled(error);
      }
    };
    return this.emitSteps(payload, context).then(
      () => {
        this.counters.emitted++;
        settle(undefined);
      },
      (error: unknown) => {
        this.counters.failed++;
        const failure = error instanceof Error ? error : new Error(String(error));
        this.log.error({ event: 'window-failed', window: this.name, key: open.key, start: payload.start, reason: failure.message }, `window ${this.name} (${open.key}, ${payload.start}) failed: ${failure.message}; its ${open.contributors?.length ?? 0} messages fail`);
        settle(failure);
      },
    );
  }
}

function accumulate(acc: Accumulator, aggregate: Aggregate, value: unknown): void {
  if (aggregate.op === 'count') {
    acc.n++;
    return;
  }
  if (value === undefined) return;
  if (aggregate.op === 'first' || aggregate.op === 'last') {
    if (acc.n === 0) acc.first = value;
    acc.last = value;
    acc.n++;
    return;
  }
  // sum, min, max and average read numbers only: anything else is left out, not counted.
  if (typeof value !== 'number') return;
  acc.n++;
  acc.sum += value;
  if (acc.min === null || value < acc.min) acc.min = value;
  if (acc.max === null || value > acc.max) acc.max = value;
}

function aggregateOf(sums: readonly Accumulator[] | undefined, aggregates: readonly Aggregate[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < aggregates.length; i++) {
    const a = aggregates[i]!;
    const acc = sums?.[i];
    const n = acc?.n ?? 0;
    switch (a.op) {
      case 'count':
        out[a.name] = n;
        break;
      case 'sum':
        out[a.name] = acc?.sum ?? 0;
        break;
      case 'min':
        out[a.name] = n === 0 ? null : acc!.min;
        break;
      case 'max':
        out[a.name] = n === 0 ? null : acc!.max;
        break;
      case 'average':
        out[a.name] = n === 0 ? null : acc!.sum / n;
        break;
      case 'first':
        out[a.name] = acc?.first ?? null;
        break;
      case 'last':
        out[a.name] = acc?.last ?? null;
        break;
    }
  }
  return out;
}

/** What the message host needs to collect into windows: the runtime of each window by name. */
export interface WindowEnvironment {
  window(name: string): WindowRuntime | undefined;
}
