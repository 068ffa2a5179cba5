/**
 * Prometheus metrics (prom-client). Every value is read from the engine's snapshot when scraped
 * (the processing-time histogram included, kept by the engine per message), so metrics and
 * /api/status cannot disagree. Names are listed in docs/operations.md.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import type { Reloader } from '../engine/reloader.js';
import type { EngineSnapshot } from '../engine/snapshot.js';
import type { HistogramSnapshot } from '../util/histogram.js';

export interface Metrics {
  readonly registry: Registry;
  /** Connects the collectors to the running engine (created after the metrics). */
  attach(engine: Engine, reloader: Reloader): void;
}

export function createMetrics(version: string): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'mqflow_' });
  let engine: Engine | undefined;
  let reloader: Reloader | undefined;
  // One snapshot per scrape: every collector of one scrape reads the same state.
  let scraped: { at: number; snapshot: EngineSnapshot } | undefined;
  const snapshot = (): EngineSnapshot | undefined => {
    if (engine === undefined) return undefined;
    const now = Date.now();
    if (scraped === undefined || now - scraped.at > 100) scraped = { at: now, snapshot: engine.snapshot() };
    return scraped.snapshot;
  };

  new Gauge({ name: 'mqflow_build_info', help: 'mqflow version and Node.js version (always 1)', labelNames: ['version', 'node'], registers: [registry] }).set({ version, node: process.version }, 1);

  type Set = (labels: Record<string, string>, value: number) => void;
  /** A counter whose value is read at scrape time (totals only grow, as counters must). */
  const totals = (name: string, help: string, labelNames: readonly string[], read: (set: Set, s: EngineSnapshot) => void): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const s = snapshot();
        if (s !== undefined) read((labels, value) => this.inc(labels, value), s);
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: readonly string[], read: (set: Set, s: EngineSnapshot) => void): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const s = snapshot();
        if (s !== undefined) read((labels, value) => this.set(labels, value), s);
      },
    });
  };
  const running = (s: EngineSnapshot): EngineSnapshot['triggers'] => s.triggers.filter((t) => t.running);

  totals('mqflow_trigger_messages_received_total', 'Messages delivered to the trigger', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.counters.received)));
  totals('mqflow_trigger_messages_processed_total', 'Messages whose service finished and whose publishes were acknowledged', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.counters.processed)));
  totals('mqflow_trigger_messages_failed_total', 'Messages that failed after their retries', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.counters.failed)));
  totals('mqflow_trigger_retries_total', 'Retries of failed attempts', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.counters.retried)));
  totals('mqflow_trigger_messages_routed_total', 'Failed messages sent to the error route', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.counters.routed)));
  gauge('mqflow_trigger_in_flight', 'Messages being processed now (steps running, or publishes awaiting acknowledgement)', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.inFlight)));
  gauge('mqflow_trigger_queue_depth', 'Messages delivered and waiting to be processed', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.queueDepth)));
  gauge('mqflow_trigger_subscribed', '1 when the trigger\'s subscription is granted', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.state === 'subscribed' ? 1 : 0)));
  gauge('mqflow_trigger_suspended', '1 when the trigger is suspended (by an operator or by onError)', ['trigger'], (set, s) => running(s).forEach((t) => set({ trigger: t.name }, t.suspended ? 1 : 0)));
  registry.registerMetric(
    histogram('mqflow_trigger_processing_seconds', 'Time from a message starting processing to done (its publishes acknowledged, or its failure routed)', snapshot, (s) =>
      s.triggers.filter((t) => t.running).flatMap((t) => (['processed', 'failed'] as const).map((outcome) => ({ labels: { trigger: t.name, outcome }, h: t.processingTime[outcome] }))),
    ),
  );
  totals('mqflow_http_requests_total', 'Requests of http steps, by host and status class (error: no response: timeout, connection refused, response too large)', ['host', 'status'], (set, s) =>
    s.http.forEach((h) => Object.entries(h.requests).forEach(([status, n]) => set({ host: h.host, status }, n))),
  );
  totals('mqflow_endpoint_requests_total', 'Requests to endpoints (HTTP triggers) answered, by status class', ['endpoint', 'status'], (set, s) =>
    s.endpoints.filter((e) => e.running).forEach((e) => Object.entries(e.answers).forEach(([status, n]) => set({ endpoint: e.name, status }, n))),
  );
  gauge('mqflow_endpoint_in_flight', 'Requests to the endpoint being processed or waiting their turn', ['endpoint'], (set, s) => s.endpoints.filter((e) => e.running).forEach((e) => set({ endpoint: e.name }, e.inFlight + e.queueDepth)));
  totals('mqflow_schedule_fires_total', 'Schedule ticks by outcome: fired (the service ran; made-up fires included), elsewhere (another replica claimed it), overrun (skipped: queueSize fires waiting)', ['schedule', 'outcome'], (set, s) =>
    s.schedules.filter((x) => x.running).forEach((x) => {
      set({ schedule: x.name, outcome: 'fired' }, x.fires.fired);
      set({ schedule: x.name, outcome: 'elsewhere' }, x.fires.elsewhere);
      set({ schedule: x.name, outcome: 'overrun' }, x.fires.overrun);
    }),
  );
  totals('mqflow_schedule_missed_fires_total', 'Fires of ticks missed while mqflow was down, made up for (missed: once or all)', ['schedule'], (set, s) => s.schedules.filter((x) => x.running).forEach((x) => set({ schedule: x.name }, x.fires.madeUp)));
  gauge('mqflow_schedule_last_fire_timestamp_seconds', 'The tick of the last fire done (seconds since the epoch)', ['schedule'], (set, s) => s.schedules.forEach((x) => x.lastFire !== undefined && set({ schedule: x.name }, Date.parse(x.lastFire) / 1000)));
  totals('mqflow_mqtt_requests_total', 'MQTT 5 requests of request steps, by connection and outcome (replied, timeout, late: a reply after its request timed out)', ['connection', 'outcome'], (set, s) =>
    s.connections.forEach((c) => {
      if (c.requests === undefined) return;
      set({ connection: c.name, outcome: 'replied' }, c.requests.replied);
      set({ connection: c.name, outcome: 'timeout' }, c.requests.timedOut);
      set({ connection: c.name, outcome: 'late' }, c.requests.late);
    }),
  );
  registry.registerMetric(histogram('mqflow_mqtt_request_duration_seconds', 'From sending an MQTT 5 request to its reply, by connection', snapshot, (s) => s.connections.flatMap((c) => (c.requests === undefined ? [] : [{ labels: { connection: c.name }, h: c.requests.latency }]))));
  gauge('mqflow_http_requests_in_flight', 'Requests of http steps sent and not answered yet, by host', ['host'], (set, s) => s.http.forEach((h) => set({ host: h.host }, h.inFlight)));
  registry.registerMetric(histogram('mqflow_http_request_duration_seconds', 'Time from sending a request of an http step to its whole response (or its failure), by host', snapshot, (s) => s.http.map((h) => ({ labels: { host: h.host }, h: h.duration }))));

  gauge('mqflow_connection_up', '1 when the connection\'s publishing client is connected', ['connection'], (set, s) => s.connections.forEach((c) => c.running && set({ connection: c.name }, c.state === 'connected' ? 1 : 0)));
  totals('mqflow_connection_reconnects_total', 'Reconnections of the publishing client', ['connection'], (set, s) => s.connections.forEach((c) => c.running && set({ connection: c.name }, c.reconnects)));
  totals('mqflow_connection_publishes_total', 'Publishes by outcome (ok: sent or acknowledged; failed)', ['connection', 'outcome'], (set, s) =>
    s.connections.forEach((c) => {
      if (!c.running) return;
      set({ connection: c.name, outcome: 'ok' }, c.publishes.ok);
      set({ connection: c.name, outcome: 'failed' }, c.publishes.failed);
    }),
  );
  gauge('mqflow_connection_offline_queue_depth', 'Publishes waiting for the connection to come back', ['connection'], (set, s) => s.connections.forEach((c) => c.running && set({ connection: c.name }, c.offlineQueue)));
  gauge('mqflow_store_entries', 'Entries a state store holds (memory and disk stores)', ['store', 'type'], (set, s) => s.stores.forEach((st) => st.entries !== undefined && set({ store: st.name, type: st.type }, st.entries)));
  totals('mqflow_store_reads_total', 'Reads of a state store by result (hit: a value was there; miss: none, or expired)', ['store', 'result'], (set, s) =>
    s.stores.forEach((st) => {
      set({ store: st.name, result: 'hit' }, st.hits);
      set({ store: st.name, result: 'miss' }, st.misses);
    }),
  );
  totals('mqflow_store_evictions_total', 'Entries a memory store evicted to stay within maxEntries', ['store'], (set, s) => s.stores.forEach((st) => set({ store: st.name }, st.evictions)));
  totals('mqflow_store_errors_total', 'Reads, claims and commits of a state store that failed', ['store'], (set, s) => s.stores.forEach((st) => set({ store: st.name }, st.errors)));
  totals('mqflow_store_commits_total', 'Messages whose state changes a store committed', ['store'], (set, s) => s.stores.forEach((st) => set({ store: st.name }, st.commits)));
  gauge('mqflow_sparkplug_edge_nodes', 'Sparkplug B edge nodes whose alias table and sequence are kept, by the store their tables are in', ['store'], (set, s) => s.stores.forEach((st) => st.sparkplug !== undefined && set({ store: st.name }, st.sparkplug.edgeNodes)));
  totals('mqflow_sparkplug_events_total', 'Sparkplug B reports by kind: sequence_gap, data_before_birth, unknown_alias, stale_death, rebirth_requested, table_not_stored', ['store', 'kind'], (set, s) =>
    s.stores.forEach((st) => Object.entries(st.sparkplug?.events ?? {}).forEach(([kind, n]) => set({ store: st.name, kind }, n))),
  );
  gauge('mqflow_store_keys_held', 'Keys held by messages in flight (others with the same key wait)', ['store'], (set, s) => s.stores.forEach((st) => set({ store: st.name }, st.keysHeld)));
  gauge('mqflow_window_open', 'Windows open now (one per key; more when sliding)', ['window'], (set, s) => s.windows.forEach((w) => set({ window: w.name }, w.open)));
  gauge('mqflow_window_messages_held', 'Messages held until the windows they went into emit', ['window'], (set, s) => s.windows.forEach((w) => set({ window: w.name }, w.held)));
  totals('mqflow_window_emitted_total', 'Windows closed, by outcome (ok: their outputs were acknowledged; failed: their messages failed)', ['window', 'outcome'], (set, s) =>
    s.windows.forEach((w) => {
      set({ window: w.name, outcome: 'ok' }, w.emitted);
      set({ window: w.name, outcome: 'failed' }, w.failed);
    }),
  );
  totals('mqflow_window_late_total', 'Event time: values whose windows had all closed (dropped, or their messages failed)', ['window'], (set, s) => s.windows.forEach((w) => set({ window: w.name }, w.late)));
  totals('mqflow_reloads_total', 'Hot reloads by outcome', ['outcome'], (set) => {
    const counts = reloader?.counts ?? { applied: 0, unchanged: 0, failed: 0 };
    set({ outcome: 'applied' }, counts.applied);
    set({ outcome: 'unchanged' }, counts.unchanged);
    set({ outcome: 'failed' }, counts.failed);
  });
  gauge('mqflow_flow_version', 'The flow version in force (1 at start, +1 per applied reload)', [], (set) => set({}, reloader?.version ?? 1));
  gauge('mqflow_flow_revision_info', 'The commit the flow version in force was built from (1; absent outside git), dirty="true" when the folder differed from it', ['revision', 'dirty'], (set) => {
    const revision = reloader?.current.revision;
    if (revision !== undefined) set({ revision: revision.commit, dirty: String(revision.dirty) }, 1);
  });

  return {
    registry,
    attach(e, r) {
      engine = e;
      reloader = r;
    },
  };
}

/** A histogram the engine keeps (cumulative buckets, as Prometheus wants), one series per entry `series` gives. */
function histogram(name: string, help: string, snapshot: () => EngineSnapshot | undefined, series: (s: EngineSnapshot) => { labels: Record<string, string>; h: HistogramSnapshot }[]): Metric {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
      const values: MetricValueWithName<string>[] = [];
      const s = snapshot();
      for (const { labels, h } of s === undefined ? [] : series(s)) {
        let cumulative = 0;
        h.buckets.forEach((le, i) => {
          cumulative += h.counts[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: h.count });
        values.push({ metricName: `${name}_sum`, labels, value: h.sum });
        values.push({ metricName: `${name}_count`, labels, value: h.count });
      }
      // prom-client formats what get() returns; a histogram's values carry their own metric names.
      return Promise.resolve({ name, help, type: 'histogram', values, aggregator: 'sum' } as unknown as MetricObjectWithValues<MetricValueWithName<string>>);
    },
    reset() {},
  };
  return metric as unknown as Metric;
}
