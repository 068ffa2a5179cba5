/**
 * Quiets mqtt-packet's `debug` calls. mqtt-packet (under mqtt.js) calls the `debug` package a
 * dozen times per packet it parses or writes; even disabled, each call allocates its arguments and
 * asks a getter, about 3 % of a busy trigger's CPU. mqtt.js itself takes a `log` option (set in
 * client-options); mqtt-packet has none, so when DEBUG is not set, the `debug` it requires makes
 * functions that do nothing. With DEBUG set, nothing changes: DEBUG=mqtt-packet:* still works.
 * Must be loaded before mqtt (bin/mqflow.js imports it first).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

type CreateDebug = ((namespace: string) => unknown) & Record<string, unknown>;

function quiet(namespace: string): unknown {
  const noop = (): void => {};
  return Object.assign(noop, { namespace, enabled: false, extend: (sub: string) => quiet(`${namespace}:${sub}`), destroy: () => true, log: noop });
}

if (process.env.DEBUG === undefined) {
  try {
    const require = createRequire(import.meta.url);
    // The `debug` mqtt-packet resolves, whichever copy that is.
    const path = require.resolve('debug', { paths: [dirname(require.resolve('mqtt-packet'))] });
    const original = require(path) as CreateDebug;
    const cached = require.cache[path];
    if (cached !== undefined) cached.exports = Object.assign((namespace: string) => quiet(namespace), original);
  } catch {
    // A layout we do not recognise: mqtt-packet keeps its own debug, which only costs CPU.
  }
}
