/**
 * A steady QoS 1 stream and the check that nothing of it was lost, as test/e2e/reload-load.test.ts
 * drives and checks it: `{ seq }` messages published at a fixed rate in 10 ms slices, and a sink
 * that records which version (`v`) each output came from.
 */
import { connectAsync, type MqttClient } from 'mqtt';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Consecutive runs [from, to] of sorted numbers. */
export function runsOf(sorted: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const n of sorted) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === n - 1) last[1] = n;
    else runs.push([n, n]);
  }
  return runs;
}

export interface Sink {
  /** Versions seen per seq (more than one: a duplicate). */
  readonly versionsOf: Map<number, number[]>;
  readonly client: MqttClient;
}

export async function startSink(url: string, topic: string, clientId: string): Promise<Sink> {
  const client = await connectAsync(url, { clientId, clean: true });
  const versionsOf = new Map<number, number[]>();
  client.on('message', (_topic, payload) => {
    const { seq, v } = JSON.parse(payload.toString()) as { seq: number; v: number };
    const seen = versionsOf.get(seq);
    if (seen === undefined) versionsOf.set(seq, [v]);
    else seen.push(v);
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return { versionsOf, client };
}

export interface Load {
  readonly total: number;
  readonly publishedAt: Float64Array;
  /** Resolves when every message was handed to the client. */
  readonly done: Promise<void>;
  failedPublishes(): number;
  readonly client: MqttClient;
}

/** Publishes `rate` messages per second for `seconds`, QoS 1, seq 1…total. */
export async function startLoad(url: string, topic: string, clientId: string, rate: number, seconds: number): Promise<Load> {
  const client = await connectAsync(url, { clientId, clean: true });
  const total = rate * seconds;
  const publishedAt = new Float64Array(total + 1);
  let failed = 0;
  const done = (async () => {
    const started = Date.now();
    let next = 1;
    while (next <= total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) * rate) / 1000));
      for (; next <= due; next++) {
        publishedAt[next] = Date.now();
        client.publish(topic, JSON.stringify({ seq: next }), { qos: 1 }, (error) => {
          if (error) failed++;
        });
      }
      await sleep(10);
    }
  })();
  return { total, publishedAt, done, failedPublishes: () => failed, client };
}

/** The seqs of 1…total with no output yet. */
export function missingOf(sink: Sink, total: number): number[] {
  return [...Array(total).keys()].map((i) => i + 1).filter((seq) => !sink.versionsOf.has(seq));
}
