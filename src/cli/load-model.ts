/** Loads a flow folder for a command that needs its model (invoke, publish); prints the problems when it is invalid. */
import { baseClientId, clientOptions } from '../connections/client-options.js';
import type { ExpressionEngine } from '../expr/expression.js';
import { Publisher } from '../mqtt/publisher.js';
import type { Log } from '../util/log.js';
import { buildFlowFolder } from '../flow/build.js';
import type { Connection, FlowModel } from '../flow/model.js';
import { formatProblem } from '../flow/problem.js';
import type { CommandIO } from './io.js';

export function loadModel(dir: string, io: CommandIO, options: { engine?: ExpressionEngine } = {}): FlowModel | undefined {
  const result = buildFlowFolder(dir, { cwd: io.cwd, ...options });
  if (result.model === undefined) {
    io.stderr(`${result.problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n')}\n${dir}: ${result.summary.errors} error${result.summary.errors === 1 ? '' : 's'}\n`);
    return undefined;
  }
  return result.model;
}

/**
 * A publishing client for a one-off command: its own client id (taking the running mqflow's would
 * disconnect it), and without the will and birth messages, which announce the running mqflow (a
 * CLI publish must not say "online", nor leave "offline" behind).
 */
export function commandPublisher(connection: Connection, log: Log): Publisher {
  return new Publisher({
    name: connection.name,
    clientOptions: clientOptions(connection, { clientId: `${baseClientId(connection, undefined)}-cli-${process.pid}` }),
    reconnectPeriodMs: connection.reconnectPeriodMs,
    offlineQueueSize: connection.offlineQueueSize,
    publishTimeoutMs: connection.publishTimeoutMs,
    ...(connection.maxPacketSize === undefined ? {} : { maxPacketSize: connection.maxPacketSize }),
    log,
  });
}
