/**
 * What a Sparkplug B host application keeps between messages: per edge node, the alias table its
 * last BIRTH declared, the bdSeq of that NBIRTH and the seq expected next (docs/architecture.md,
 * invariants 55 and 56). One session per open store: the store outlives a reload that keeps it,
 * and so does the session; the table is written to the store at each BIRTH, so a restart (disk)
 * or another replica (Redis) reads it back.
 */
import { MessageFailure } from '../../pipeline/execution.js';
import type { OpenStore } from '../../state/open-store.js';
import { after, type Maybe } from '../../util/maybe.js';
import { birthAliases, bdSeqOf, readPayload, toJson, writePayload, type RawPayload } from './payload.js';
import { parseSparkplugTopic, sparkplugTopicProblem, type SparkplugTopic } from './topic.js';

export interface SparkplugSettings {
  /** The store the alias tables are kept in (default `memory`). */
  readonly store: string;
  /** At most one rebirth request per edge node per this many ms; undefined: none. */
  readonly rebirthMs: number | undefined;
  /** `ignore`: seq is not checked (replicas on a shared subscription each see only some messages). */
  readonly sequence: 'check' | 'ignore';
}

export type SparkplugEvent = 'sequence_gap' | 'unknown_alias' | 'data_before_birth' | 'stale_death' | 'rebirth_requested' | 'table_not_stored';

/** What a decode tells its trigger about: reports (logged and counted) and rebirth requests to publish. */
export interface SparkplugHooks {
  report(event: SparkplugEvent, node: string, detail: string): void;
  /** Publish `payload` to `topic` (an NCMD) through the trigger's connection. */
  rebirth(topic: string, payload: Buffer): void;
}

/** A decoded message that is acknowledged without running the service (a stale NDEATH). */
export const IGNORED: unique symbol = Symbol('sparkplug message ignored');

const NAMESPACE = 'mqflow.sparkplug';
/**
 * Edge nodes kept in memory per session: beyond it, the least recently created one without
 * decodes waiting is forgotten (its table stays in the store). Topics are the sender's choice.
 */
const MAX_EDGE_NODES = 50_000;
/** Rebirth requests per session per second, whatever the number of edge nodes asking for one. */
const MAX_REBIRTHS_PER_SECOND = 100;

interface AliasEntry {
  readonly name: string;
  readonly datatype: number;
}

/** An edge node's table as stored: `[alias, name, datatype]` rows. */
interface StoredTable {
  readonly bdSeq?: number;
  readonly aliases: readonly (readonly [string, string, number])[];
}

interface EdgeNode {
  /** Undefined: not read from the store yet; null: no BIRTH known. */
  aliases: Map<string, AliasEntry> | null | undefined;
  bdSeq: number | undefined;
  /** The seq the next message must carry; undefined when unknown (no BIRTH yet, after a restart or NDEATH). */
  expected: number | undefined;
  lastRebirth: number | undefined;
  /** Decodes of this node waiting for its table to be read (invariant 55). */
  tail: Promise<unknown> | undefined;
  waiting: number;
}

const sessions = new WeakMap<OpenStore, SparkplugSession>();

/** The session of `store`: the same object for as long as the store stays open. */
export function sparkplugSession(store: OpenStore): SparkplugSession {
  let session = sessions.get(store);
  if (session === undefined) sessions.set(store, (session = new SparkplugSession(store)));
  return session;
}

/** The session of `store` if a trigger used one (the engine's snapshot reads its counts). */
export function existingSparkplugSession(store: OpenStore): SparkplugSession | undefined {
  return sessions.get(store);
}

export class SparkplugSession {
  readonly #nodes = new Map<string, EdgeNode>();
  readonly events = new Map<SparkplugEvent, number>();
  #rebirthSecond = 0;
  #rebirthsInSecond = 0;

  constructor(
    readonly store: OpenStore,
    private readonly limits: { readonly maxEdgeNodes: number; readonly maxRebirthsPerSecond: number } = { maxEdgeNodes: MAX_EDGE_NODES, maxRebirthsPerSecond: MAX_REBIRTHS_PER_SECOND },
  ) {}

  get nodes(): number {
    return this.#nodes.size;
  }

  /** The JSON a service sees, or IGNORED. Throws MessageFailure for what is not Sparkplug B. */
  decode(bytes: Buffer, topicName: string, settings: SparkplugSettings, hooks: SparkplugHooks, now: number): Maybe<unknown> {
    const topic = parseSparkplugTopic(topicName);
    if (topic === undefined) {
      throw new MessageFailure(`the topic ${JSON.stringify(topicName.slice(0, 200))} is not a Sparkplug B topic: ${sparkplugTopicProblem(topicName) ?? 'unknown form'}`, 'MQFLOW_PAYLOAD_SPARKPLUG', undefined, { permanent: true });
    }
    if (topic.type === 'STATE') return stateMessage(topic.hostId, bytes);
    const raw = readPayload(bytes);
    const key = `${topic.group}/${topic.edgeNode}`;
    let node = this.#nodes.get(key);
    if (node === undefined) {
      if (this.#nodes.size >= this.limits.maxEdgeNodes) this.#forgetOne();
      node = { aliases: undefined, bdSeq: undefined, expected: undefined, lastRebirth: undefined, tail: undefined, waiting: 0 };
      this.#nodes.set(key, node);
    }
    const n = node;
    const apply = (): Maybe<unknown> => this.#apply(n, key, topic, raw, settings, hooks, now);
    if (n.waiting > 0) return this.#queue(n, apply);
    if (n.aliases === undefined && topic.type !== 'NBIRTH') return this.#queue(n, () => after(this.#load(n, key), apply));
    return apply();
  }

  #forgetOne(): void {
    for (const [key, node] of this.#nodes) {
      if (node.waiting > 0) continue;
      this.#nodes.delete(key);
      return;
    }
  }

  /** A rebirth request may go: once per node per interval, and at most maxRebirthsPerSecond in all. */
  #mayRequestRebirth(node: EdgeNode, settings: SparkplugSettings, now: number): boolean {
    if (settings.rebirthMs === undefined || (node.lastRebirth !== undefined && now - node.lastRebirth < settings.rebirthMs)) return false;
    const second = Math.floor(now / 1000);
    if (second !== this.#rebirthSecond) {
      this.#rebirthSecond = second;
      this.#rebirthsInSecond = 0;
    }
    if (this.#rebirthsInSecond >= this.limits.maxRebirthsPerSecond) return false;
    this.#rebirthsInSecond++;
    node.lastRebirth = now;
    return true;
  }

  /** Runs `fn` after the decodes of `node` already waiting, so they keep their order. */
  #queue(node: EdgeNode, fn: () => Maybe<unknown>): Promise<unknown> {
    node.waiting++;
    const run = (node.tail ?? Promise.resolve()).then(fn);
    const done = (): void => {
      if (--node.waiting === 0) node.tail = undefined;
    };
    node.tail = run.then(done, done);
    return run;
  }

  async #load(node: EdgeNode, key: string): Promise<void> {
    if (node.aliases !== undefined) return;
    let stored: unknown;
    try {
      stored = await this.store.store.get(this.store.key(NAMESPACE, key), Date.now());
    } catch {
      stored = undefined; // an unreadable table is an unknown one: a rebirth request rebuilds it
    }
    if (node.aliases !== undefined) return;
    const table = isStoredTable(stored) ? stored : undefined;
    node.aliases = table === undefined ? null : new Map(table.aliases.map(([alias, name, datatype]) => [alias, { name, datatype }]));
    node.bdSeq = table?.bdSeq;
  }

  #apply(node: EdgeNode, key: string, topic: Extract<SparkplugTopic, { edgeNode: string }>, raw: RawPayload, settings: SparkplugSettings, hooks: SparkplugHooks, now: number): Maybe<unknown> {
    const where = topic.device === undefined ? key : `${key}/${topic.device}`;
    let wantRebirth = false;
    const report = (event: SparkplugEvent, detail: string): void => {
      this.events.set(event, (this.events.get(event) ?? 0) + 1);
      hooks.report(event, where, detail);
    };
    const type = topic.type;
    let store: Maybe<void> = undefined;
    if (type === 'NBIRTH') {
      node.aliases = new Map();
      node.bdSeq = bdSeqOf(raw);
      for (const a of birthAliases(raw)) node.aliases.set(String(a.alias), { name: a.name, datatype: a.datatype });
      node.expected = raw.seq === undefined ? undefined : (raw.seq + 1) % 256;
      store = this.#save(node, key, report);
    } else if (type === 'NDEATH') {
      const bdSeq = bdSeqOf(raw);
      if (bdSeq !== undefined && node.bdSeq !== undefined && bdSeq !== node.bdSeq) {
        report('stale_death', `NDEATH with bdSeq ${bdSeq} ignored: the current NBIRTH has bdSeq ${node.bdSeq}`);
        return IGNORED;
      }
      node.expected = undefined;
    } else if (type !== 'NCMD' && type !== 'DCMD') {
      if (node.aliases === null || node.aliases === undefined) {
        report('data_before_birth', `${type} from an edge node whose NBIRTH is not known`);
        wantRebirth = true;
      }
      if (settings.sequence === 'check' && raw.seq !== undefined) {
        if (node.expected !== undefined && raw.seq !== node.expected) {
          report('sequence_gap', `${type} has seq ${raw.seq}, ${node.expected} expected`);
          wantRebirth = true;
        }
        node.expected = (raw.seq + 1) % 256;
      }
      if (type === 'DBIRTH') {
        node.aliases ??= new Map();
        for (const a of birthAliases(raw)) node.aliases.set(String(a.alias), { name: a.name, datatype: a.datatype });
        store = this.#save(node, key, report);
      }
    }
    const table = node.aliases ?? undefined;
    const { value, unknownAliases } = toJson(raw, (alias) => table?.get(String(alias)));
    if (unknownAliases.length > 0 && table !== undefined) {
      report('unknown_alias', `${type} uses alias${unknownAliases.length === 1 ? '' : 'es'} ${unknownAliases.slice(0, 10).join(', ')} that its BIRTH did not declare`);
      wantRebirth = true;
    }
    if (wantRebirth && this.#mayRequestRebirth(node, settings, now)) {
      report('rebirth_requested', 'Node Control/Rebirth sent');
      hooks.rebirth(`spBv1.0/${topic.group}/NCMD/${topic.edgeNode}`, rebirthRequest(now));
    }
    const decoded = { group: topic.group, messageType: type, edgeNode: topic.edgeNode, ...(topic.device === undefined ? {} : { device: topic.device }), ...value };
    return after(store, () => decoded);
  }

  /** Writes a node's table: the BIRTH is acknowledged after it is stored (invariant 55). */
  #save(node: EdgeNode, key: string, report: (event: SparkplugEvent, detail: string) => void): Maybe<void> {
    const table: StoredTable = { ...(node.bdSeq === undefined ? {} : { bdSeq: node.bdSeq }), aliases: [...(node.aliases ?? new Map<string, AliasEntry>())].map(([alias, e]) => [alias, e.name, e.datatype] as const) };
    const failed = (error: unknown): void => {
      // The table stays in memory; a restart without it asks for a rebirth.
      report('table_not_stored', `the alias table is not kept in store "${this.store.name}": ${(error as Error).message}`);
    };
    try {
      const storeKey = this.store.key(NAMESPACE, key);
      this.store.checkValue(table);
      const written = this.store.store.commit([{ key: storeKey, value: table }], Date.now());
      return written instanceof Promise ? written.catch(failed) : written;
    } catch (error) {
      failed(error);
      return undefined;
    }
  }
}

function isStoredTable(value: unknown): value is StoredTable {
  if (value === null || typeof value !== 'object') return false;
  const t = value as { aliases?: unknown; bdSeq?: unknown };
  return Array.isArray(t.aliases) && t.aliases.every((r) => Array.isArray(r) && typeof r[0] === 'string' && typeof r[1] === 'string' && typeof r[2] === 'number') && (t.bdSeq === undefined || typeof t.bdSeq === 'number');
}

/** STATE: Sparkplug 3.0 sends JSON `{"online": …, "timestamp": …}`, 2.x the text ONLINE or OFFLINE. */
function stateMessage(hostId: string, bytes: Buffer): unknown {
  const text = bytes.toString('utf8').trim();
  if (text === 'ONLINE' || text === 'OFFLINE') return { messageType: 'STATE', hostId, online: text === 'ONLINE' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || typeof (parsed as { online?: unknown }).online !== 'boolean') {
    throw new MessageFailure(`STATE of host ${JSON.stringify(hostId)} is neither {"online": true|false, "timestamp": …} nor ONLINE/OFFLINE`, 'MQFLOW_PAYLOAD_SPARKPLUG', undefined, { permanent: true });
  }
  const { online, timestamp } = parsed as { online: boolean; timestamp?: unknown };
  return { messageType: 'STATE', hostId, online, ...(typeof timestamp === 'number' ? { timestamp } : {}) };
}

/** A payload as JSON without an edge node's aliases (what `mqflow test` shows of a Sparkplug publish). */
export function readSparkplug(bytes: Buffer): unknown {
  return toJson(readPayload(bytes), () => undefined).value;
}

/** The NCMD that asks an edge node to publish its BIRTH messages again. */
export function rebirthRequest(now: number): Buffer {
  return writePayload({ timestamp: now, metrics: [{ name: 'Node Control/Rebirth', datatype: 'Boolean', value: true }] }, {});
}
