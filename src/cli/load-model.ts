/** Loads a flow folder for a command that needs its model (invoke, publish); prints the problems when it is invalid. */
import type { ExpressionEngine } from '../expr/expression.js';
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
 * A connection for a one-off command's own client: without the will and birth messages, which
 * announce the running mqflow (a CLI publish must not say "online", nor leave "offline" behind).
 */
export function commandConnection(connection: Connection): Connection {
  const copy: { -readonly [K in keyof Connection]: Connection[K] } = { ...connection };
  delete copy.will;
  delete copy.birth;
  return copy;
}
