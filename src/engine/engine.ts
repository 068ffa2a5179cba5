/**
 * The engine owns the running state: a publisher per enabled connection, and a runner with its
 * subscriber client per enabled trigger. Built from one FlowModel; hot reload (a later stage)
 * replaces pieces by difference.
 */
import type { Connection, FlowModel } from '../flow/model.js';
import { baseClientId } from '../mqtt/client-options.js';
import { Publisher, PublishError } from '../mqtt/publisher.js';
import { Subscriber } from '../mqtt/subscriber.js';
import type { Effects, PublishRequest } from '../pipeline/execution.js';
import { Pipeline } from '../pipeline/run-service.js';
import type { Log } from './log.js';
import { TriggerRunner } from './trigger-runner.js';

export interface EngineOptions {
  readonly log: Log;
  /** Suffix for client ids, so replicas of the same flows do not take each other's sessions. */
  readonly instance?: string;
}

export class Engine {
  readonly #publishers = new Map<string, Publisher>();
  readonly #runners = new Map<string, { runner: TriggerRunner; subscriber: Subscriber }>();
  readonly #log: Log;
  #pipeline: Pipeline;

  constructor(
    private model: FlowModel,
    private readonly options: EngineOptions,
  ) {
    this.#log = options.log;
    this.#pipeline = this.#newPipeline(model);
  }

  #newPipeline(model: FlowModel): Pipeline {
    const effects: Effects = {
      publish: (request, from) => this.#publish(request, from.message.connection),
      invoke: (service, payload, from) => pipeline.invoke(service, payload, from),
      log: (level, text, from, step) => this.#log[level]({ event: 'log-step', trigger: from.message.trigger, topic: from.message.topic, step }, text),
    };
    const pipeline = new Pipeline(model.services, effects);
    return pipeline;
  }

  start(): void {
    for (const connection of this.model.connections.values()) {
      if (!connection.enabled) {
        this.#log.info({ connection: connection.name, event: 'disabled' }, `connection ${connection.name} is disabled`);
        continue;
      }
      this.#publishers.set(connection.name, new Publisher(connection, baseClientId(connection, this.options.instance), this.#log));
    }
    for (const trigger of this.model.triggers.values()) {
      const connection = this.model.connections.get(trigger.connection);
      if (!trigger.enabled || connection === undefined || !connection.enabled) continue;
      this.#startTrigger(trigger.name, connection);
    }
  }

  #startTrigger(name: string, connection: Connection): void {
    const trigger = this.model.triggers.get(name)!;
    const runner = new TriggerRunner(trigger, {
      pipeline: () => this.#pipeline,
      publish: (request, triggerConnection) => this.#publish(request, triggerConnection),
      log: this.#log,
      sessionKept: !connection.cleanSession && trigger.ack === 'afterProcessing',
    });
    const subscriber = new Subscriber({
      connection,
      clientId: `${baseClientId(connection, this.options.instance)}-${trigger.name}`,
      subscriptions: trigger.subscriptions,
      qos: trigger.qos,
      capacity: trigger.queueSize,
      ack: trigger.ack,
      log: this.#log.child({ trigger: trigger.name, connection: connection.name }),
      onDelivery: runner.onDelivery,
    });
    runner.attach(subscriber);
    this.#runners.set(name, { runner, subscriber });
  }

  /** Publishes through the request's connection, or the connection of the trigger whose message is being processed. */
  #publish(request: PublishRequest, triggerConnection: string | undefined): Promise<void> {
    const name = request.connection ?? triggerConnection;
    const publisher = name === undefined ? undefined : this.#publishers.get(name);
    if (publisher === undefined) {
      return Promise.reject(new PublishError(`connection ${name ?? '(none)'} is not running (disabled or not defined)`, 'MQFLOW_PUBLISH_NO_CONNECTION'));
    }
    const v5 = publisher.connection.protocolVersion === 5;
    const properties = v5 && (request.userProperties !== undefined || request.contentType !== undefined)
      ? { ...(request.userProperties === undefined ? {} : { userProperties: { ...request.userProperties } }), ...(request.contentType === undefined ? {} : { contentType: request.contentType }) }
      : undefined;
    if (this.#log.isLevelEnabled('debug')) this.#log.debug({ event: 'publish', connection: publisher.connection.name, topic: request.topic, qos: request.qos }, `publish ${request.topic}`);
    return publisher.publish(properties === undefined ? request : { topic: request.topic, payload: request.payload, qos: request.qos, retain: request.retain, properties });
  }

  get triggers(): ReadonlyMap<string, { readonly runner: TriggerRunner; readonly subscriber: Subscriber }> {
    return this.#runners;
  }

  get publishers(): ReadonlyMap<string, Publisher> {
    return this.#publishers;
  }

  /**
   * Graceful stop: take no new messages, let those in flight finish (up to `drainTimeoutMs`) so
   * their acks go out, then disconnect trigger clients, then publishers once their publishes are acknowledged.
   */
  async stop(drainTimeoutMs: number): Promise<{ drained: boolean }> {
    for (const { subscriber } of this.#runners.values()) subscriber.stopAccepting();
    const drained = await Promise.all([...this.#runners.values()].map(({ runner }) => runner.drain(drainTimeoutMs)));
    await Promise.all([...this.#runners.values()].map(({ subscriber }) => subscriber.stop()));
    await Promise.all([...this.#publishers.values()].map((p) => p.stop(Math.max(1000, drainTimeoutMs))));
    return { drained: drained.every(Boolean) };
  }
}
