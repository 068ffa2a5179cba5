/**
 * What the one-shot commands that connect (publish, invoke --live, subscribe) share: a `--timeout`
 * that bounds the whole command, and a client of a connection that gives up. A broker that is
 * down, unreachable or frozen ends the command with exit 1 and the reason the connection gave,
 * never a hang (docs/running.md, "One-shot commands").
 */
import { connect, type MqttClient } from 'mqtt';
import { clientOptions } from '../connections/client-options.js';
import type { Connection } from '../flow/model.js';
import { endClient } from '../mqtt/reconnect.js';
import { DURATION_PATTERN, durationMs } from '../util/duration.js';
import { UsageError } from './io.js';
import { commandClientId } from './load-model.js';

/** `--timeout`'s default. */
export const DEFAULT_TIMEOUT = '10s';

/** setTimeout's limit: a longer delay would fire at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Parses a `--timeout` value (`500ms`, `10s`, `1m`, or milliseconds): a UsageError unless it is a duration over 0. */
export function parseTimeout(text: string, flag = 'timeout'): number {
  const ms = /^\d+$/.test(text) ? Number(text) : new RegExp(DURATION_PATTERN).test(text) ? durationMs(text) : Number.NaN;
  if (!(ms > 0 && ms <= MAX_TIMEOUT_MS)) throw new UsageError(`--${flag} must be a duration over 0 such as 500ms, 10s or 1m (got ${text})`);
  return ms;
}

/** The command ran out of its `--timeout`. */
export class DeadlineError extends Error {
  readonly code = 'MQFLOW_TIMEOUT';
}

/**
 * `work`, or a DeadlineError after `timeoutMs`: "gave up after 10s (--timeout): <why()>", where `why` says
 * what was waited for (the connection's last error, say). The timer keeps the process alive, so a
 * command never ends with its work unsettled (exit 13).
 */
export async function withDeadline<T>(work: Promise<T>, timeoutMs: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError(`gave up after ${formatMs(timeoutMs)} (--timeout): ${why()}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `10s`, `1.5s`, `250ms`: how a timeout is written back. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

/** Why a connection has not connected yet, from its last error (as the connection layer words it). */
export function notConnected(connection: string, lastError: string | undefined): string {
  return `connection ${connection} did not connect${lastError === undefined ? ' (no answer from the broker)' : `: ${lastError}`}`;
}

/**
 * Connects a client of `connection` (its URLs, credentials, TLS and protocol; the client id
 * `<clientId>-cli-<pid>`; no will), retrying as the connection does, and resolves once the broker
 * accepted it. After `timeoutMs` it gives up, closes the client and rejects with a DeadlineError
 * that says why (the connection's last error). Close the client with closeClient().
 */
export async function connectOnce(connection: Connection, options: { readonly timeoutMs: number; readonly clientId?: string }): Promise<MqttClient> {
  const client = connect(clientOptions(connection, { clientId: options.clientId ?? commandClientId(connection) }));
  let lastError: string | undefined;
  // An 'error' listener is also what keeps mqtt.js from throwing it.
  client.on('error', (error) => (lastError = error.message));
  const connected = new Promise<void>((resolve) => client.once('connect', () => resolve()));
  try {
    await withDeadline(connected, options.timeoutMs, () => notConnected(connection.name, lastError));
    return client;
  } catch (error) {
    await closeClient(client, 0);
    throw error;
  }
}

/** Disconnects cleanly, or forcibly after `graceMs` (a frozen broker never holds the command). */
export function closeClient(client: MqttClient, graceMs = 1000): Promise<void> {
  return endClient(client, graceMs === 0, graceMs);
}
