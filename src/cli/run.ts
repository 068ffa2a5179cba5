/** `mqflow run [dir]`: run the flows of a folder against their brokers until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createMetrics } from '../admin/metrics.js';
import { isLoopback } from '../admin/request-guard.js';
import { startAdminServer, type AdminServer } from '../admin/server.js';
import { loadStoreDrivers } from '../stores/drivers.js';
import { Engine } from '../engine/engine.js';
import { createLog, type Log, type LogLevel } from '../util/log.js';
import { Reloader } from '../engine/reloader.js';
import { Deployer } from '../engine/deploy.js';
import { flowRevision } from '../flow/revision.js';
import type { BuildLimits } from '../expr/bounds.js';
import { createJsonataEngine, DEFAULT_LIMITS } from '../expr/jsonata-engine.js';
import { buildFlowFolder } from '../flow/build.js';
import { DURATION_PATTERN, durationMs } from '../util/duration.js';
import { FlowFileCache } from '../flow/file-cache.js';
import { formatProblem } from '../flow/problem.js';
import { watchFlowFolder, type FlowWatcher } from '../flow/watch.js';
import { EXIT, mqflowVersion, UsageError, type CommandIO } from './io.js';

export const runHelp = `Usage: mqflow run [dir] [options]

Runs the flows of dir (default: flows) until SIGINT or SIGTERM, then drains: no new messages
are taken, those in flight finish and are acknowledged, connections close cleanly. SIGHUP
reloads the folder: the difference is applied live (see docs/hot-reload.md).

Options:
  --admin HOST:PORT         admin HTTP server: health, metrics, status page, trigger control
                            (default: 127.0.0.1:9464; port 0 picks a free one)
  --no-admin                no admin HTTP server
  --admin-token TOKEN       token the admin server requires (or MQFLOW_ADMIN_TOKEN); required
                            when --admin is not a loopback address
  --admin-host NAME         a further Host name the admin server answers to (repeatable); it
                            answers its own address and localhost, and refuses other names
  --stuck-after DURATION    /readyz reports a trigger that holds messages and has finished none
                            for this long (default: 1m)
  --watch                   reload whenever a flow file in dir changes (mqflow dev always does)
  --watch-debounce DURATION quiet time after the last change before reloading (default: 100ms)
  --log-level LEVEL         trace, debug, info (default), warn, error, silent
  --pretty                  human-readable log lines (default on a terminal; JSON lines otherwise)
  --no-pretty               JSON log lines even on a terminal
  --drain-timeout DURATION  how long in-flight messages may take at shutdown (default: 10s)
  --instance ID             suffix for client ids, for replicas of the same flows
  --expression-timeout DURATION  time limit of one expression evaluation (default: 1s)
  --expression-depth N      depth limit of one expression evaluation (default: 500)
  --expression-max-sequence N  items one sequence of an evaluation may hold (default: 1000000)
  --expression-max-string N    characters one string an evaluation builds may hold
                            (default: 10000000; ten times that for all of them together)
  --interpret-expressions   run every expression on jsonata's own evaluator instead of the
                            compiled JavaScript (to rule the compiler out when chasing a difference)
`;

export const RUN_OPTIONS = {
  admin: { type: 'string', default: '127.0.0.1:9464' },
  'no-admin': { type: 'boolean' },
  'admin-token': { type: 'string' },
  'admin-host': { type: 'string', multiple: true },
  'stuck-after': { type: 'string', default: '1m' },
  watch: { type: 'boolean' },
  'watch-debounce': { type: 'string', default: '100ms' },
  'log-level': { type: 'string' },
  pretty: { type: 'boolean' },
  'no-pretty': { type: 'boolean' },
  'drain-timeout': { type: 'string', default: '10s' },
  instance: { type: 'string' },
  'expression-timeout': { type: 'string', default: `${DEFAULT_LIMITS.timeoutMs}ms` },
  'expression-depth': { type: 'string', default: String(DEFAULT_LIMITS.maxDepth) },
  'expression-max-sequence': { type: 'string', default: String(DEFAULT_LIMITS.maxSequence) },
  'expression-max-string': { type: 'string', default: String(DEFAULT_LIMITS.maxString) },
  'interpret-expressions': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface RuntimeSettings {
  readonly dir: string;
  readonly logLevel: LogLevel;
  readonly pretty: boolean;
  readonly drainTimeoutMs: number;
  readonly instance?: string;
  readonly expressionTimeoutMs: number;
  readonly expressionDepth: number;
  /** What one evaluation may build (docs/architecture.md, invariant 28). */
  readonly expressionBuild: BuildLimits;
  /** Every expression on jsonata's evaluator, none compiled. */
  readonly interpretExpressions: boolean;
  readonly watch: boolean;
  readonly watchDebounceMs: number;
  /** Undefined: no admin server. */
  readonly admin?: { readonly host: string; readonly port: number; readonly token?: string; readonly allowedHosts: readonly string[]; readonly stuckAfterMs: number };
}

export function parseDuration(flag: string, text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  if (!new RegExp(DURATION_PATTERN).test(text)) throw new UsageError(`--${flag} must be a duration such as 500ms, 10s or 1m (got ${text})`);
  return durationMs(text);
}

export function runtimeSettings(
  values: Record<string, string | boolean | string[] | undefined>,
  positionals: readonly string[],
  defaults: { logLevel: LogLevel; pretty: boolean; watch: boolean },
): RuntimeSettings {
  if (positionals.length > 1) throw new UsageError(`takes one folder (got ${positionals.length})`);
  const level = (values['log-level'] as string | undefined) ?? defaults.logLevel;
  if (!LEVELS.includes(level as LogLevel)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')} (got ${level})`);
  const depth = Number(values['expression-depth']);
  if (!Number.isInteger(depth) || depth < 10) throw new UsageError(`--expression-depth must be a whole number of at least 10 (got ${String(values['expression-depth'])})`);
  const count = (flag: string, min: number): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be a whole number of at least ${min} (got ${String(values[flag])})`);
    return n;
  };
  const expressionBuild: BuildLimits = { maxSequence: count('expression-max-sequence', 100), maxString: count('expression-max-string', 1000) };
  const instance = values.instance as string | undefined;
  if (instance !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(instance)) throw new UsageError(`--instance may hold only letters, digits, "_" and "-" (got ${instance})`);
  return {
    dir: positionals[0] ?? 'flows',
    logLevel: level as LogLevel,
    pretty: values['no-pretty'] === true ? false : values.pretty === true ? true : defaults.pretty,
    drainTimeoutMs: parseDuration('drain-timeout', String(values['drain-timeout'])),
    ...(instance === undefined ? {} : { instance }),
    expressionTimeoutMs: parseDuration('expression-timeout', String(values['expression-timeout'])),
    expressionDepth: depth,
    expressionBuild,
    interpretExpressions: values['interpret-expressions'] === true,
    watch: values['no-watch'] === true ? false : values.watch === true ? true : defaults.watch,
    watchDebounceMs: parseDuration('watch-debounce', String(values['watch-debounce'])),
    ...(values['no-admin'] === true
      ? {}
      : {
          admin: {
            ...adminSettings(String(values.admin), (values['admin-token'] as string | undefined) ?? process.env.MQFLOW_ADMIN_TOKEN),
            allowedHosts: adminHosts(values['admin-host'] as string[] | undefined),
            stuckAfterMs: parseDuration('stuck-after', String(values['stuck-after'])),
          },
        }),
  };
}

function adminHosts(names: readonly string[] | undefined): string[] {
  for (const name of names ?? []) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})$/.test(name)) throw new UsageError(`--admin-host must be a host name or address without a port, e.g. mqflow.plant.local (got ${name})`);
  }
  return [...(names ?? [])];
}

function adminSettings(address: string, token: string | undefined): { host: string; port: number; token?: string } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port > 65535) throw new UsageError(`--admin must be HOST:PORT, e.g. 127.0.0.1:9464 (got ${address})`);
  const host = (m[1] ?? m[2])!;
  if (token !== undefined && token.length < 16) throw new UsageError('the admin token must be at least 16 characters');
  if (!isLoopback(host) && token === undefined) {
    throw new UsageError(`refusing to serve the admin API on ${address}, which is not a loopback address, without a token: anyone who reaches it could suspend triggers. Set --admin-token or MQFLOW_ADMIN_TOKEN (16+ characters), or use --admin 127.0.0.1:9464`);
  }
  return { host, port, ...(token === undefined ? {} : { token }) };
}

export interface Runtime {
  readonly engine: Engine;
  readonly log: Log;
  readonly reloader: Reloader;
  readonly admin?: AdminServer;
  /** Stops watching (before the engine drains). */
  close(): Promise<void>;
}

/** Loads the folder and starts the engine (and the admin server); prints the folder's problems and returns undefined when it is invalid. */
export async function startRuntime(settings: RuntimeSettings, io: CommandIO): Promise<Runtime | undefined> {
  // One expression engine and one file cache for the process: a reload compiles only what is new.
  const expressions = createJsonataEngine({ timeoutMs: settings.expressionTimeoutMs, maxDepth: settings.expressionDepth, build: settings.expressionBuild, compile: !settings.interpretExpressions });
  const cache = new FlowFileCache();
  const build = (): ReturnType<typeof buildFlowFolder> => buildFlowFolder(settings.dir, { cwd: io.cwd, engine: expressions, cache });
  const result = buildFlowFolder(settings.dir, { cwd: io.cwd, engine: expressions, cache, explain: true });
  if (result.model === undefined) {
    io.stderr(`${result.problems.map(formatProblem).join('\n')}\n${settings.dir}: ${result.summary.errors} error${result.summary.errors === 1 ? '' : 's'}; not started\n`);
    return undefined;
  }
  const secrets = settings.admin?.token === undefined ? result.model.secrets : [...result.model.secrets, settings.admin.token];
  const log = createLog({ level: settings.logLevel, pretty: settings.pretty, secrets });
  for (const p of result.problems) log.warn({ event: 'flow-warning', file: p.file, line: p.line, column: p.column, code: p.code }, formatProblem(p));
  for (const site of result.expressions ?? []) {
    if (site.execution.mode === 'compiled') continue;
    const { file, line, column, path } = site;
    log.debug({ event: 'expression-interpreted', file, line, column, path, reason: site.execution.reason }, `${file}:${line}:${column} ${path}: interpreted by jsonata (${site.execution.reason})`);
  }
  const version = mqflowVersion();
  const metrics = settings.admin === undefined ? undefined : createMetrics(version);
  await loadStoreDrivers(result.model.stores.values());
  const engine = new Engine(result.model, {
    log,
    drainTimeoutMs: settings.drainTimeoutMs,
    ...(settings.instance === undefined ? {} : { instance: settings.instance }),
  });
  const startedAt = new Date();
  engine.start();
  const m = result.model;
  const folder = resolveDir(settings.dir, io.cwd);
  const reloader = new Reloader(engine, build, log, { revision: () => flowRevision(folder) });
  await reloader.start();
  const started = reloader.current.revision;
  log.info(
    { event: 'started', folder: settings.dir, connections: m.connections.size, triggers: m.triggers.size, services: m.services.size, ...(started === undefined ? {} : { revision: started.commit, dirty: started.dirty }) },
    `mqflow running ${settings.dir}${started === undefined ? '' : ` (commit ${started.commit.slice(0, 12)}${started.dirty ? ', with uncommitted changes' : ''})`}: ${m.connections.size} connections, ${m.triggers.size} triggers, ${m.services.size} services`,
  );
  let admin: AdminServer | undefined;
  if (settings.admin !== undefined && metrics !== undefined) {
    metrics.attach(engine, reloader);
    try {
      const deployer = new Deployer({ dir: resolveDir(settings.dir, io.cwd), engine, reloader, expressions, log });
      admin = await startAdminServer({ ...settings.admin, metrics, log, engine, reloader, version, folder: settings.dir, startedAt, deployer });
    } catch (error) {
      await engine.stop(0);
      throw new UsageError(`cannot serve the admin API on ${settings.admin.host}:${settings.admin.port}: ${(error as Error).message} (choose another with --admin HOST:PORT, or --no-admin)`);
    }
    log.info({ event: 'admin', url: admin.url }, `admin API and status page at ${admin.url}/`);
  }
  const reload = (reason: string): void => {
    reloader.request(reason).catch((error: unknown) => log.error({ event: 'reload-error', err: error }, `reload failed: ${(error as Error).message}`));
  };
  const onHangup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  let watcher: FlowWatcher | undefined;
  if (settings.watch) {
    watcher = watchFlowFolder(resolveDir(settings.dir, io.cwd), {
      debounceMs: settings.watchDebounceMs,
      onChange: (paths) => reload(paths.length === 1 ? `${paths[0]} changed` : `${paths.length} files changed`),
      onError: (error) => log.error({ event: 'watch-error', err: { message: error.message } }, `watching ${settings.dir}: ${error.message}`),
    });
    void watcher.ready.then(() => log.info({ event: 'watching', folder: settings.dir }, `watching ${settings.dir} for changes`));
  }
  return {
    engine,
    log,
    reloader,
    ...(admin === undefined ? {} : { admin }),
    async close() {
      process.off('SIGHUP', onHangup);
      await watcher?.close();
      await admin?.close();
    },
  };
}

function resolveDir(dir: string, cwd: string | undefined): string {
  return resolve(cwd ?? process.cwd(), dir);
}

/** Resolves on the first SIGINT or SIGTERM, after draining; a second signal exits at once. */
export function untilSignal(runtime: Runtime, drainTimeoutMs: number, beforeExit?: () => Promise<void>): Promise<number> {
  const { engine, log } = runtime;
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn({ event: 'forced-exit', signal }, 'second signal: exiting without draining');
        process.exit(EXIT.invalid);
      }
      stopping = true;
      log.info({ event: 'stopping', signal, drainTimeoutMs }, `${signal}: draining (up to ${drainTimeoutMs} ms)`);
      void (async () => {
        await runtime.close();
        const { drained, unfinished, unconfirmed } = await engine.stop(drainTimeoutMs);
        if (!drained) {
          log.warn(
            { event: 'drain-timeout', unfinished, unconfirmed },
            `drain timeout: ${unfinished} message${unfinished === 1 ? ' was' : 's were'} not finished and not acknowledged (the broker redelivers them); ${unconfirmed} publish${unconfirmed === 1 ? ' was' : 'es were'} not confirmed by the broker`,
          );
        } else if (unconfirmed > 0) {
          log.warn({ event: 'drain-timeout', unfinished, unconfirmed }, `${unconfirmed} publish${unconfirmed === 1 ? ' was' : 'es were'} not confirmed by the broker before the connections closed`);
        }
        await beforeExit?.();
        log.info({ event: 'stopped' }, 'stopped');
        log.flush();
        resolve(EXIT.ok);
      })();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export async function runRun(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: RUN_OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true) {
    io.stdout(runHelp);
    return EXIT.ok;
  }
  const settings = runtimeSettings(values, positionals, { logLevel: 'info', pretty: process.stdout.isTTY, watch: false });
  const started = await startRuntime(settings, io);
  if (started === undefined) return EXIT.invalid;
  return untilSignal(started, settings.drainTimeoutMs);
}
