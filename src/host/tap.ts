/**
 * The tap (docs/architecture.md, invariants 57 and 58): what `mqflow tap` and the status page's
 * live view show of messages passing triggers, steps and publishes. Off, it costs the message
 * path one boolean read per hook (`tap.active`). On, each attached client takes at most `rate`
 * messages a second (a token bucket): a message some client took is traced whole — received,
 * each step, each publish, its failure, done — and only traced messages build events. Payloads
 * are cut to PAYLOAD_EXCERPT bytes and every resolved secret is masked before an event leaves.
 *
 * One tap per process, like the log: the engine, the message hosts of every flow version and the
 * admin server meet here. Where events go, and how a slow reader is bounded, is the client's
 * business (src/admin/tap-stream.ts): `deliver` must not block.
 */
import type { OutgoingMessage } from '../mqtt/message.js';
import type { MessageFailure } from '../pipeline/execution.js';
import type { StepTap } from '../pipeline/pipeline.js';
import type { Step } from '../pipeline/step.js';
import { topicMatches } from '../mqtt/topic-filter.js';

/** Bytes of a payload shown; the rest is left out and its size given. */
export const PAYLOAD_EXCERPT = 1024;
/** Events one message may produce (a split that publishes 10,000 times shows the first ones). */
export const EVENTS_PER_MESSAGE = 64;
/** Messages a second a client takes by default, and at most. */
export const DEFAULT_RATE = 10;
export const MAX_RATE = 1000;
/** Characters of a topic or a failure's reason shown. */
const TEXT_LIMIT = 1024;

/** A payload as shown: text (UTF-8) or, when it is not text, base64; `size` is the whole payload's, in bytes. */
export interface PayloadExcerpt {
  readonly size: number;
  readonly text?: string;
  readonly base64?: string;
  /** True when only the first PAYLOAD_EXCERPT bytes are shown. */
  readonly truncated: boolean;
}

export type TapEvent =
  | { readonly type: 'received'; readonly id: number; readonly at: string; readonly trigger: string; readonly service: string; readonly topic: string; readonly qos: number; readonly payload: PayloadExcerpt }
  | { readonly type: 'step'; readonly id: number; readonly at: string; readonly service: string; readonly step: string; readonly kind: string; readonly name?: string; readonly outcome: 'continue' | 'stop' | 'failed'; readonly ms: number }
  | { readonly type: 'publish'; readonly id: number; readonly at: string; readonly connection: string; readonly topic: string; readonly qos: number; readonly retain: boolean; readonly payload: PayloadExcerpt }
  | { readonly type: 'failed'; readonly id: number; readonly at: string; readonly code: string; readonly reason: string; readonly step?: string; readonly attempts: number }
  | { readonly type: 'done'; readonly id: number; readonly at: string; readonly trigger: string; readonly outcome: 'processed' | 'failed'; readonly ms: number; readonly omitted?: number };

/** Which messages a client wants: all of the given ones must match. */
export interface TapFilter {
  readonly trigger?: string;
  /** An MQTT topic filter (wildcards allowed) the received topic must match. */
  readonly topic?: string;
  /** The service the message's trigger runs. */
  readonly service?: string;
}

/** An attached client: its filter, its rate, and where its events go (must not block). */
export interface TapClient {
  readonly filter: TapFilter;
  /** Messages a second it takes, 1…MAX_RATE. */
  readonly rate: number;
  deliver(event: TapEvent): void;
}

/** What a message of a trigger looks like to the tap. */
export interface TappedMessage {
  readonly topic: string;
  readonly qos: number;
  readonly payload: Buffer;
}

interface Attached {
  readonly client: TapClient;
  tokens: number;
  refilledAt: number;
  sampled: number;
}

/** One traced message: the clients that took it and how many events it has made. */
interface Trace {
  readonly id: number;
  readonly trigger: string;
  readonly clients: readonly Attached[];
  events: number;
  omitted: number;
}

const worthMasking = (s: string): boolean => s.length >= 4 && !/^[\d.:-]+$/.test(s) && s !== 'true' && s !== 'false';

export class Tap implements StepTap {
  /** True while a client is attached: the one check the message path makes. */
  active = false;
  readonly #clients = new Set<Attached>();
  readonly #traces = new WeakMap<object, Trace>();
  #nextId = 1;
  /** Longest first, so a secret containing another is masked whole (as the log does). */
  #secrets: string[] = [];
  #longestSecret = 0;

  /** Values never to show (resolved secrets of every flow version loaded, the admin token). */
  addSecrets(values: readonly string[]): void {
    for (const value of values) if (worthMasking(value) && !this.#secrets.includes(value)) this.#secrets.push(value);
    this.#secrets.sort((a, b) => b.length - a.length);
    this.#longestSecret = this.#secrets[0]?.length ?? 0;
  }

  /** Attaches a client; returns what detaches it. */
  attach(client: TapClient): () => void {
    const attached: Attached = { client, tokens: 1, refilledAt: performance.now(), sampled: 0 };
    this.#clients.add(attached);
    this.active = true;
    return () => {
      this.#clients.delete(attached);
      this.active = this.#clients.size > 0;
    };
  }

  get clients(): number {
    return this.#clients.size;
  }

  /**
   * A message was delivered to `trigger` (call only while `active`): traced when a client whose
   * filter matches has a token left. `key` is the message's output tracker (its job), which every
   * execution of the message carries.
   */
  received(key: object, trigger: string, service: string, message: TappedMessage): void {
    let takers: Attached[] | undefined;
    const now = performance.now();
    for (const a of this.#clients) {
      const f = a.client.filter;
      if ((f.trigger !== undefined && f.trigger !== trigger) || (f.service !== undefined && f.service !== service) || (f.topic !== undefined && !topicMatches(f.topic, message.topic))) continue;
      const rate = a.client.rate;
      a.tokens = Math.min(rate, a.tokens + ((now - a.refilledAt) * rate) / 1000);
      a.refilledAt = now;
      if (a.tokens < 1) continue;
      a.tokens -= 1;
      a.sampled++;
      (takers ??= []).push(a);
    }
    if (takers === undefined) return;
    const trace: Trace = { id: this.#nextId++, trigger, clients: takers, events: 0, omitted: 0 };
    this.#traces.set(key, trace);
    this.#emit(trace, { type: 'received', id: trace.id, at: new Date().toISOString(), trigger, service, topic: this.#text(message.topic), qos: message.qos, payload: this.excerpt(message.payload) });
  }

  /** Is the message of `key` traced (steps then report to step()). */
  traced(key: object): boolean {
    return this.#traces.has(key);
  }

  step(key: object, step: Step, outcome: 'continue' | 'stop' | 'failed', ms: number): void {
    const trace = this.#traces.get(key);
    if (trace === undefined) return;
    const service = /^services\.([^.[]+)/.exec(step.path)?.[1] ?? '';
    this.#emit(trace, { type: 'step', id: trace.id, at: new Date().toISOString(), service, step: step.path, kind: step.kind, ...(step.name === undefined ? {} : { name: step.name }), outcome, ms: round(ms) });
  }

  published(key: object, connection: string, message: OutgoingMessage): void {
    const trace = this.#traces.get(key);
    if (trace === undefined) return;
    this.#emit(trace, { type: 'publish', id: trace.id, at: new Date().toISOString(), connection, topic: this.#text(message.topic), qos: message.qos, retain: message.retain, payload: this.excerpt(message.payload) });
  }

  failed(key: object, failure: MessageFailure, attempts: number): void {
    const trace = this.#traces.get(key);
    if (trace === undefined) return;
    this.#emit(trace, { type: 'failed', id: trace.id, at: new Date().toISOString(), code: failure.code, reason: this.#text(failure.message), ...(failure.step === undefined ? {} : { step: failure.step.path }), attempts });
  }

  done(key: object, outcome: 'processed' | 'failed', ms: number): void {
    const trace = this.#traces.get(key);
    if (trace === undefined) return;
    this.#traces.delete(key);
    // Done always goes out, whatever the message's event budget, with what was left out.
    const event: TapEvent = { type: 'done', id: trace.id, at: new Date().toISOString(), trigger: trace.trigger, outcome, ms: round(ms), ...(trace.omitted === 0 ? {} : { omitted: trace.omitted }) };
    for (const a of trace.clients) a.client.deliver(event);
  }

  /** A payload as shown: at most PAYLOAD_EXCERPT bytes, secrets masked (a secret cut by the excerpt's end is masked whole). */
  excerpt(payload: Buffer | string): PayloadExcerpt {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const size = bytes.length;
    const truncated = size > PAYLOAD_EXCERPT;
    if (isText(bytes)) {
      const text = this.#mask(bytes.subarray(0, PAYLOAD_EXCERPT + this.#longestSecret).toString('utf8'));
      return { size, text: cutText(text, PAYLOAD_EXCERPT), truncated };
    }
    return { size, base64: bytes.subarray(0, PAYLOAD_EXCERPT).toString('base64'), truncated };
  }

  /** A topic or a reason: masked, and cut to TEXT_LIMIT characters. */
  #text(text: string): string {
    const masked = this.#mask(text.length > TEXT_LIMIT + this.#longestSecret ? text.slice(0, TEXT_LIMIT + this.#longestSecret) : text);
    return masked.length > TEXT_LIMIT ? `${masked.slice(0, TEXT_LIMIT)}…` : masked;
  }

  #mask(text: string): string {
    let out = text;
    for (const secret of this.#secrets) if (out.includes(secret)) out = out.split(secret).join('[secret]');
    return out;
  }

  #emit(trace: Trace, event: TapEvent): void {
    if (trace.events >= EVENTS_PER_MESSAGE) {
      trace.omitted++;
      return;
    }
    trace.events++;
    for (const a of trace.clients) a.client.deliver(event);
  }
}

/** The process's tap. */
export const tap = new Tap();

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** Text when the first bytes are valid UTF-8 without control characters other than tab, CR and LF. */
function isText(bytes: Buffer): boolean {
  const head = bytes.subarray(0, Math.min(bytes.length, 256));
  for (const b of head) if (b < 9 || (b > 13 && b < 32) || b === 127) return false;
  const text = head.toString('utf8');
  // A U+FFFD at the very end may be a character cut by the 256-byte window.
  const inner = bytes.length > 256 ? text.slice(0, -1) : text;
  return !inner.includes('\uFFFD');
}

/** At most `bytes` UTF-8 bytes of `text`, not cutting a character. */
function cutText(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  const cut = Buffer.from(text).subarray(0, bytes).toString('utf8');
  return cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut;
}
