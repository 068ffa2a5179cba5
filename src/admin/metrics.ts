/**
 * Prometheus metrics (prom-client). Counters and gauges are read from the engine when scraped;
 * the processing-time histogram is fed per message through the engine's `observe` hook. Names
 * are listed in docs/operations.md.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import type { Reloader } from '../engine/reloader.js';

export interface Metrics {
  readonly registry: Registry;
  /** The engine's `observe` option: one call per message processed. */
  readonly observe: (trigger: string, seconds: number, outcome: 'processed' | 'failed') => void;
  /** Connects the collectors to the running engine (created after the metrics). */
  attach(engine: Engine, reloader: Reloader): void;
}

export function createMetrics(version: string): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mqflow_' });
  let engine: Engine | undefined;
  let reloader: Reloader | undefined;

  new Gauge({ name: 'mqflow_build_info', help: 'mqflow version and Node.js version (always 1)', labelNames: ['version', 'node'], registers: [registry] }).set({ version, node: process.version }, 1);

  /** A counter whose value is read from the engine at scrape time (totals only grow, as counters must). */
  const totals = (name: string, help: string, labelNames: readonly string[], read: (set: (labels: Record<string, string>, value: number) => void) => void): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        read((labels, value) => this.inc(labels, value));
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: readonly string[], read: (set: (labels: Record<string, string>, value: number) => void) => void): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        read((labels, value) => this.set(labels, value));
      },
    });
  };
  const eachTrigger = (fn: (name: string, r: NonNullable<ReturnType<Engine['triggers']['get']>>) => void): void => {
    for (const [name, running] of engine?.triggers ?? []) fn(name, running);
  };

  totals('mqflow_trigger_messages_received_total', 'Messages delivered to the trigger', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.counters.received)));
  totals('mqflow_trigger_messages_processed_total', 'Messages whose service finished', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.counters.processed)));
  totals('mqflow_trigger_messages_failed_total', 'Messages that failed after their retries', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.counters.failed)));
  totals('mqflow_trigger_retries_total', 'Retries of failed attempts', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.counters.retried)));
  totals('mqflow_trigger_messages_routed_total', 'Failed messages sent to the error route', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.counters.routed)));
  gauge('mqflow_trigger_in_flight', 'Messages being processed now', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.inFlight)));
  gauge('mqflow_trigger_queue_depth', 'Messages delivered and waiting to be processed', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.queueDepth)));
  gauge('mqflow_trigger_subscribed', '1 when the trigger\'s subscription is granted', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.subscriber.state === 'subscribed' ? 1 : 0)));
  gauge('mqflow_trigger_suspended', '1 when the trigger is suspended', ['trigger'], (set) => eachTrigger((trigger, r) => set({ trigger }, r.runner.paused ? 1 : 0)));
  const processing = new Histogram({
    name: 'mqflow_trigger_processing_seconds',
    help: 'Time from a message starting processing to done (its publishes acknowledged, or its failure routed)',
    labelNames: ['trigger', 'outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const eachConnection = (fn: (name: string, p: NonNullable<ReturnType<Engine['publishers']['get']>>) => void): void => {
    for (const [name, publisher] of engine?.publishers ?? []) fn(name, publisher);
  };
  gauge('mqflow_connection_up', '1 when the connection\'s publishing client is connected', ['connection'], (set) => eachConnection((connection, p) => set({ connection }, p.state === 'connected' ? 1 : 0)));
  totals('mqflow_connection_reconnects_total', 'Reconnections of the publishing client', ['connection'], (set) => eachConnection((connection, p) => set({ connection }, p.reconnects.count)));
  totals('mqflow_connection_publishes_total', 'Publishes by outcome (ok: sent or acknowledged; failed)', ['connection', 'outcome'], (set) =>
    eachConnection((connection, p) => {
      set({ connection, outcome: 'ok' }, p.publishes.ok);
      set({ connection, outcome: 'failed' }, p.publishes.failed);
    }),
  );
  gauge('mqflow_connection_offline_queue_depth', 'Publishes waiting for the connection to come back', ['connection'], (set) => eachConnection((connection, p) => set({ connection }, p.offlineQueueDepth)));
  totals('mqflow_reloads_total', 'Hot reloads by outcome', ['outcome'], (set) => {
    const counts = reloader?.counts ?? { applied: 0, unchanged: 0, failed: 0 };
    set({ outcome: 'applied' }, counts.applied);
    set({ outcome: 'unchanged' }, counts.unchanged);
    set({ outcome: 'failed' }, counts.failed);
  });
  gauge('mqflow_flow_version', 'The flow version in force (1 at start, +1 per applied reload)', [], (set) => set({}, reloader?.version ?? 1));

  return {
    registry,
    observe: (trigger, seconds, outcome) => processing.observe({ trigger, outcome }, seconds),
    attach(e, r) {
      engine = e;
      reloader = r;
    },
  };
}
