/**
 * Endpoints at run time: one HttpListener per listener, one trigger runner per endpoint. A request
 * becomes a delivery of its endpoint's runner, answered when the runner completes it (2xx, or the
 * failure's status) or abandons it (503): where an MQTT message would be acknowledged, or left to
 * the broker (docs/architecture.md, invariant 47). A reload keeps a listener whose definition is
 * unchanged (its port stays open) and swaps its routes.
 */
import type { Endpoint, FlowModel, Listener } from '../flow/model.js';
import type { HttpDelivery } from '../host/delivery-kinds.js';
import type { MessageHost } from '../host/host.js';
import { HttpListener, pathMatcher, problem, type Answer, type IncomingRequest, type Reply, type Route } from '../http/listener.js';
import type { HttpContext } from '../pipeline/context.js';
import type { MessageFailure } from '../pipeline/execution.js';
import type { Log } from '../util/log.js';
import { TriggerRunner } from './trigger-runner.js';

/** Answers by status class, per endpoint, for /metrics. */
export type AnswerCounts = Record<'2xx' | '4xx' | '5xx', number>;

interface RunningListener {
  readonly definition: Listener;
  readonly server: HttpListener;
  port?: number;
  error?: string;
}

export interface RunningEndpoint {
  readonly runner: TriggerRunner<Endpoint>;
  readonly answers: AnswerCounts;
}

/** A failure's status: the request's own fault is 4xx (the sender should not send it again as it is), anything else 500. */
export function failureStatus(failure: MessageFailure): number {
  switch (failure.code) {
    case 'MQFLOW_PAYLOAD_JSON':
    case 'MQFLOW_PAYLOAD_ENCODING':
      return 400;
    case 'MQFLOW_PAYLOAD_TOO_LARGE':
      return 413;
    case 'MQFLOW_INPUT':
    case 'MQFLOW_VALIDATE':
      return 422;
    default:
      return 500;
  }
}

class RequestDelivery implements HttpDelivery {
  readonly qos = 1 as const;
  readonly retain = false;
  readonly dup = false;
  readonly messageId = undefined;
  readonly properties = undefined;
  readonly topic: string;
  readonly payload: Buffer;
  readonly receivedAt: number;
  readonly http: HttpContext;
  #reply: Reply | undefined;
  #failure: MessageFailure | undefined;

  constructor(
    name: string,
    request: IncomingRequest,
    private readonly answer: Answer,
    private readonly answers: AnswerCounts,
  ) {
    this.topic = request.path;
    this.payload = request.body;
    this.receivedAt = request.receivedAt;
    this.http = { endpoint: name, method: request.method, path: request.path, params: request.params, query: request.query, headers: request.headers };
  }

  get connectionLost(): boolean {
    return this.answer.gone;
  }

  reply(reply: Reply | undefined): void {
    this.#reply = reply;
  }

  failed(failure: MessageFailure): void {
    this.#failure = failure;
  }

  complete(): void {
    const failure = this.#failure;
    if (failure === undefined) return this.#send(this.#reply ?? { status: 204 });
    const status = failureStatus(failure);
    // A 4xx says what to fix; a 5xx says only that the work was not done (its cause is in mqflow's log).
    this.#send(problem(status, status < 500 ? failure.message : 'the request was not processed', failure.code));
  }

  abandon(): void {
    const reply = problem(503, 'the request was not processed; send it again later');
    this.#send({ ...reply, headers: { ...reply.headers, 'retry-after': '1' } });
  }

  #send(reply: Reply): void {
    this.answers[reply.status >= 500 ? '5xx' : reply.status >= 400 ? '4xx' : '2xx']++;
    this.answer.send(reply);
  }
}

/** A request to endpoint `name`, as its trigger runner takes it (mqflow test delivers them too). */
export function endpointDelivery(name: string, request: IncomingRequest, answer: Answer, answers: AnswerCounts): HttpDelivery {
  return new RequestDelivery(name, request, answer, answers);
}

export class Endpoints {
  readonly #listeners = new Map<string, RunningListener>();
  readonly #endpoints = new Map<string, RunningEndpoint>();

  constructor(
    private readonly host: () => MessageHost,
    private readonly log: Log,
  ) {}

  get endpoints(): ReadonlyMap<string, RunningEndpoint> {
    return this.#endpoints;
  }

  /** Where each listener listens, or why it does not. */
  listeners(): { readonly name: string; readonly url?: string; readonly error?: string }[] {
    return [...this.#listeners.values()].map((l) => ({
      name: l.definition.name,
      ...(l.port === undefined ? {} : { url: `${l.definition.tls === undefined ? 'http' : 'https'}://${l.definition.host}:${l.port}` }),
      ...(l.error === undefined ? {} : { error: l.error }),
    }));
  }

  /** Makes the listeners and endpoints of `model` the ones in force. */
  async apply(model: FlowModel, drainTimeoutMs: number): Promise<void> {
    const retired: RunningListener[] = [];
    for (const [name, running] of this.#listeners) {
      const next = model.listeners.get(name);
      if (next !== undefined && next.enabled && next.fingerprint === running.definition.fingerprint) continue;
      this.#listeners.delete(name);
      retired.push(running);
    }
    // A listener whose address is kept must free its port first.
    await Promise.all(retired.map((l) => l.server.close(drainTimeoutMs)));
    for (const [name, definition] of model.listeners) {
      if (!definition.enabled || this.#listeners.has(name)) continue;
      let running: RunningListener | undefined;
      try {
        running = { definition, server: new HttpListener(definition) };
        this.#listeners.set(name, running);
        running.port = (await running.server.listen()).port;
        this.log.info({ event: 'listening', listener: name, url: this.listeners().find((l) => l.name === name)?.url }, `listener ${name} on ${definition.host}:${running.port}`);
      } catch (error) {
        const reason = (error as Error).message;
        if (running !== undefined) running.error = reason;
        this.log.error({ event: 'listen-failed', listener: name, reason }, `listener ${name} cannot listen on ${definition.host}:${definition.port}: ${reason}`);
      }
    }
    const stale = [...this.#endpoints.keys()].filter((name) => model.endpoints.get(name)?.enabled !== true);
    for (const name of stale) {
      const { runner } = this.#endpoints.get(name)!;
      this.#endpoints.delete(name);
      void runner.drain(drainTimeoutMs);
    }
    for (const endpoint of model.endpoints.values()) {
      if (!endpoint.enabled) continue;
      const running = this.#endpoints.get(endpoint.name);
      if (running !== undefined) running.runner.update(endpoint, false);
      else this.#endpoints.set(endpoint.name, { runner: new TriggerRunner(endpoint, { host: this.host, log: this.log, sessionKept: false }), answers: { '2xx': 0, '4xx': 0, '5xx': 0 } });
    }
    for (const [name, { server }] of this.#listeners) {
      server.routes = [...model.endpoints.values()].filter((e) => e.enabled && e.listener === name).map((e) => this.#route(e));
    }
  }

  #route(endpoint: Endpoint): Route {
    const { match } = pathMatcher(endpoint.path);
    return {
      method: endpoint.method,
      match,
      handle: (request, answer) => {
        const running = this.#endpoints.get(endpoint.name);
        if (running === undefined) return answer.send(problem(503, 'the endpoint is not running'));
        const { runner } = running;
        // The queue bound: what is running or waiting its turn (invariant 48).
        if (runner.inFlight + runner.queueDepth >= runner.trigger.queueSize) {
          const reply = problem(503, `${endpoint.name} holds ${runner.trigger.queueSize} requests (queueSize); send it again later`);
          running.answers['5xx']++;
          return answer.send({ ...reply, headers: { ...reply.headers, 'retry-after': '1' } });
        }
        runner.onDelivery(new RequestDelivery(endpoint.name, request, answer, running.answers));
      },
    };
  }

  /** Stops taking requests, lets those taken finish (answered), then closes the listeners. */
  async stop(drainTimeoutMs: number): Promise<void> {
    for (const { server } of this.#listeners.values()) server.stopTaking();
    const closing = [...this.#listeners.values()].map((l) => l.server.close(drainTimeoutMs));
    await Promise.all([...this.#endpoints.values()].map(({ runner }) => runner.drain(drainTimeoutMs)));
    await Promise.all(closing);
  }
}
