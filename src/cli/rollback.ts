/**
 * `mqflow rollback --to URL [--version K]`: deploys again a version an instance keeps in its
 * history (GET /api/history), through the same checks as a deploy: it must build, and the
 * instance must still run the version this rollback was planned against (docs/gitops.md, "Deploying and rolling back").
 */
import { parseArgs } from 'node:util';
import { eachInstance, instanceTargets } from './deploy.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const rollbackHelp = `Usage: mqflow rollback --to URL [--to URL …] [--version K] [options]

Applies again a version the instance keeps in its flow folder's history (.mqflow/history/, the
last 10 applied; list them with GET /api/history), checked and applied as a deploy is.

Options:
  --to URL       the admin URL of an instance (repeatable, or a comma list)
  --version K    the history entry to apply (default: the newest one that is not running)
  --token TOKEN  its admin token (or MQFLOW_ADMIN_TOKEN)

Exit status: 0 applied (or nothing to change), 1 refused or unreachable, 2 usage.
`;

const OPTIONS = {
  to: { type: 'string', multiple: true },
  version: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runRollback(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.stdout(rollbackHelp);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`takes no folder: the instance rolls back to a version of its own history (got ${positionals.join(' ')})`);
  const version = values.version === undefined ? undefined : Number(values.version);
  if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new UsageError(`--version must be the number of a history entry, e.g. 3 (got ${values.version})`);
  const targets = instanceTargets(values.to, values.token);
  return eachInstance(targets, io, undefined, (expect) => ({ path: '/api/rollback', body: JSON.stringify({ expect, ...(version === undefined ? {} : { version }) }) }));
}
