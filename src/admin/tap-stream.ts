/**
 * GET /api/tap: the tap as Server-Sent Events (docs/operations.md, "Watching traffic";
 * docs/architecture.md, invariant 58). At most MAX_TAP_CLIENTS streams at once. Each is bounded:
 * events go straight to the socket while it takes them; once it pushes back, at most
 * MAX_QUEUED_EVENTS wait, and further ones are dropped and counted — the client is told how many
 * (a `dropped` event) when it has caught up. Nothing here can make the message path wait.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_RATE, EVENTS_PER_MESSAGE, MAX_RATE, PAYLOAD_EXCERPT, type Tap, type TapClient, type TapEvent, type TapFilter } from '../host/tap.js';
import { topicFilterProblem } from '../mqtt/topic-filter.js';

export const MAX_TAP_CLIENTS = 4;
export const MAX_QUEUED_EVENTS = 256;
const HEARTBEAT_MS = 15_000;

/** One stream's counts, shown in /api/status (`tap`). */
export interface TapStreamStatus {
  readonly filter: TapFilter;
  readonly rate: number;
  readonly since: string;
  /** Events written to the socket. */
  readonly sent: number;
  /** Events dropped because the client did not read fast enough. */
  readonly dropped: number;
  /** Events waiting now, and the most that ever waited (at most MAX_QUEUED_EVENTS). */
  readonly queued: number;
  readonly queuedPeak: number;
}

export interface TapStatus {
  readonly maxClients: number;
  readonly maxQueuedEvents: number;
  readonly streams: readonly TapStreamStatus[];
}

/** What the request asked for, or why it cannot have it. */
export type TapRequest = { readonly filter: TapFilter; readonly rate: number } | { readonly status: 400 | 404; readonly error: string };

/** Reads ?trigger=&topic=&service=&rate= ; `known` says whether a trigger (or service) name exists. */
export function parseTapRequest(url: URL, known: { trigger(name: string): boolean; service(name: string): boolean }): TapRequest {
  const q = url.searchParams;
  const trigger = q.get('trigger') ?? undefined;
  const topic = q.get('topic') ?? undefined;
  const service = q.get('service') ?? undefined;
  const rateText = q.get('rate') ?? String(DEFAULT_RATE);
  const rate = Number(rateText);
  if (!/^\d+$/.test(rateText) || rate < 1 || rate > MAX_RATE) return { status: 400, error: `rate must be a whole number of messages a second from 1 to ${MAX_RATE} (got "${rateText.slice(0, 40)}")` };
  if (topic !== undefined) {
    const problem = topicFilterProblem(topic);
    if (problem !== undefined) return { status: 400, error: `topic: ${problem}` };
  }
  if (trigger !== undefined && !known.trigger(trigger)) return { status: 404, error: `no trigger named "${trigger.slice(0, 200)}"` };
  if (service !== undefined && !known.service(service)) return { status: 404, error: `no service named "${service.slice(0, 200)}"` };
  return { filter: { ...(trigger === undefined ? {} : { trigger }), ...(topic === undefined ? {} : { topic }), ...(service === undefined ? {} : { service }) }, rate };
}

export class TapStreams {
  readonly #streams = new Set<TapStream>();

  constructor(private readonly tap: Tap) {}

  get full(): boolean {
    return this.#streams.size >= MAX_TAP_CLIENTS;
  }

  /** Starts an event stream on `res` (the caller checked the request and that there is room). */
  open(req: IncomingMessage, res: ServerResponse, filter: TapFilter, rate: number): void {
    const stream = new TapStream(res, filter, rate);
    this.#streams.add(stream);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write(`retry: 5000\nevent: hello\ndata: ${JSON.stringify({ filter, rate, payloadBytes: PAYLOAD_EXCERPT, eventsPerMessage: EVENTS_PER_MESSAGE, maxQueuedEvents: MAX_QUEUED_EVENTS })}\n\n`);
    const detach = this.tap.attach(stream);
    const heartbeat = setInterval(() => stream.comment('keep-alive'), HEARTBEAT_MS).unref();
    const close = (): void => {
      clearInterval(heartbeat);
      detach();
      this.#streams.delete(stream);
    };
    req.socket.once('close', close);
    res.once('close', close);
  }

  /** Ends every stream (the server is closing). */
  closeAll(): void {
    for (const s of this.#streams) s.end();
  }

  status(): TapStatus {
    return { maxClients: MAX_TAP_CLIENTS, maxQueuedEvents: MAX_QUEUED_EVENTS, streams: [...this.#streams].map((s) => s.status()) };
  }
}

class TapStream implements TapClient {
  readonly #queue: string[] = [];
  #sent = 0;
  #dropped = 0;
  /** Dropped since the client was last told. */
  #unreported = 0;
  #queuedPeak = 0;
  readonly #since = new Date().toISOString();

  constructor(
    private readonly res: ServerResponse,
    readonly filter: TapFilter,
    readonly rate: number,
  ) {
    res.on('drain', () => this.#flush());
  }

  deliver(event: TapEvent): void {
    this.#write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  }

  comment(text: string): void {
    if (this.#queue.length === 0 && !this.res.writableNeedDrain) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    this.res.end();
  }

  status(): TapStreamStatus {
    return { filter: this.filter, rate: this.rate, since: this.#since, sent: this.#sent, dropped: this.#dropped, queued: this.#queue.length, queuedPeak: this.#queuedPeak };
  }

  #write(text: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (this.#queue.length === 0 && !this.res.writableNeedDrain) {
      this.#reportDropped();
      this.res.write(text);
      this.#sent++;
      return;
    }
    if (this.#queue.length >= MAX_QUEUED_EVENTS) {
      this.#dropped++;
      this.#unreported++;
      return;
    }
    this.#queue.push(text);
    if (this.#queue.length > this.#queuedPeak) this.#queuedPeak = this.#queue.length;
  }

  #flush(): void {
    let i = 0;
    while (i < this.#queue.length && !this.res.writableNeedDrain) {
      this.res.write(this.#queue[i++]!);
      this.#sent++;
    }
    this.#queue.splice(0, i);
    if (this.#queue.length === 0 && !this.res.writableNeedDrain) this.#reportDropped();
  }

  #reportDropped(): void {
    if (this.#unreported === 0) return;
    this.res.write(`event: dropped\ndata: ${JSON.stringify({ type: 'dropped', dropped: this.#unreported, total: this.#dropped })}\n\n`);
    this.#unreported = 0;
  }
}
