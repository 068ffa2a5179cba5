/**
 * How a client tells its connection that it failed to connect or lost its network connection. The
 * publishing client and every trigger's client of one connection report to the same
 * ConnectionErrors (src/connections/diagnose.ts), which logs one line per cause, not per client
 * (docs/architecture.md, invariant 59). Each attempt is also logged, at debug level, by its client.
 */
import type { MqttClient } from 'mqtt';
import type { Log } from '../util/log.js';

/** The broker address a client was trying, as mqtt.js has it (failover moves it along the URL list). */
export interface Endpoint {
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
}

export interface ConnectionErrors {
  /**
   * A client failed: an `error` event (`error`), or a network connection closed before its CONNACK
   * with no error (`error` undefined). `established`: it had got its CONNACK. Returns the text that
   * says what went wrong (a client's last error).
   */
  failed(error: Error | undefined, endpoint: Endpoint, established: boolean): string;
  /** A client of the connection got its CONNACK: the next failure is reported again. */
  connected(): void;
}

export interface ErrorWatch {
  /** Where failures are reported; without it, each error is logged as it comes (at error level). */
  readonly errors: ConnectionErrors | undefined;
  readonly log: Log;
  /** How the client's lines start: `connection plant` or `trigger client`. */
  readonly label: string;
  /** The current network connection got its CONNACK. Read before the client's own `close` handler resets it. */
  readonly established: () => boolean;
  /** False once stopped or suspended: errors of a client being closed on purpose are not failures. */
  readonly active: () => boolean;
  readonly lastError: (text: string) => void;
}

/** Registers the handlers; call it before the client's own `connect` and `close` handlers. */
export function watchConnectionErrors(client: MqttClient, watch: ErrorWatch): void {
  /** The current attempt reported an error already (a `close` after it is no news). */
  let reported = false;
  const endpoint = (): Endpoint => ({ protocol: String(client.options.protocol ?? 'mqtt'), host: String(client.options.host ?? ''), port: Number(client.options.port ?? 0) });
  client.on('connect', () => {
    reported = false;
    watch.errors?.connected();
  });
  client.on('error', (error) => {
    const code = (error as { code?: unknown }).code;
    const err = { message: error.message, code };
    if (watch.errors === undefined) {
      watch.lastError(error.message);
      watch.log.error({ event: 'connection-error', err }, `${watch.label}: ${error.message}`);
      return;
    }
    watch.log.debug({ event: 'connection-attempt-failed', err }, `${watch.label}: ${error.message}`);
    if (!watch.active()) return;
    reported = true;
    watch.lastError(watch.errors.failed(error, endpoint(), watch.established()));
  });
  client.on('close', () => {
    const silent = !reported && !watch.established() && watch.active();
    reported = false;
    // A server that closes before answering CONNECT gives mqtt.js no error at all.
    if (!silent || watch.errors === undefined) return;
    watch.log.debug({ event: 'connection-attempt-failed' }, `${watch.label}: the connection was closed before CONNACK`);
    watch.lastError(watch.errors.failed(undefined, endpoint(), false));
  });
}
