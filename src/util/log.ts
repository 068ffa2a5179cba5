/** The runtime's structured log (pino): JSON lines, or human-readable lines with --pretty / on a TTY (coloured only on a TTY). */
import { pino, stdSerializers, transport, type DestinationStream, type Logger } from 'pino';

export type Log = Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface LogOptions {
  readonly level: LogLevel;
  readonly pretty: boolean;
  /** Values that must never be printed (resolved secrets). */
  readonly secrets: readonly string[];
  /** Where JSON lines go (default: stdout). */
  readonly destination?: NodeJS.WritableStream;
}

const secretLists = new WeakMap<Log, string[]>();

// Short or numeric values (a port, a QoS) are not secrets worth masking, and replacing them
// everywhere would corrupt timestamps and numbers in every line.
const worthMasking = (s: string): boolean => s.length >= 4 && !/^[\d.:-]+$/.test(s) && s !== 'true' && s !== 'false';

/** A reload resolved new secrets: they are masked in this log's lines from now on. */
export function rememberSecrets(log: Log, values: readonly string[]): void {
  const list = secretLists.get(log);
  if (list === undefined) return;
  for (const value of values) if (worthMasking(value) && !list.includes(value)) list.push(value);
  longestFirst(list);
}

/** A secret that contains another is masked first, or masking the shorter one would leave the rest of it readable. */
function longestFirst(list: string[]): void {
  list.sort((a, b) => b.length - a.length);
}

/**
 * pino's error serializer, without the fields that say nothing: an error given as plain data
 * (`{ message, code }`) has no stack, and would print an empty `"stack":` and `"type": "Object"`.
 */
function serializeError(value: unknown): unknown {
  const serialized = stdSerializers.err(value as Error) as unknown;
  if (typeof serialized !== 'object' || serialized === null) return serialized;
  const { stack, type, ...rest } = serialized as { stack?: unknown; type?: unknown; [key: string]: unknown };
  return {
    ...(type === undefined || type === 'Object' ? {} : { type }),
    ...rest,
    ...(typeof stack === 'string' && stack !== '' ? { stack } : {}),
  };
}

/** Colours only on a terminal (a file or a pipe gets none); NO_COLOR turns them off, FORCE_COLOR on. */
export function useColours(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function createLog(options: LogOptions): Log {
  const secrets = options.secrets.filter(worthMasking);
  longestFirst(secrets);
  const redactSecrets = (text: string): string => {
    let out = text;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('[secret]');
    return out;
  };
  const base = {
    level: options.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
    redact: { paths: ['password', '*.password', 'token', '*.token', 'key', '*.key', 'passphrase', '*.passphrase'], censor: '[secret]' },
    hooks: {
      // Last line of defence: no resolved secret reaches a log line, whatever field it is in.
      streamWrite: redactSecrets,
    },
  };
  let log: Log;
  if (options.pretty) {
    // One line per entry: an error's fields go on its line like any other (errorLikeObjectKeys would
    // print them as an indented block below it). pino-pretty writes to stdout.
    const pretty: DestinationStream = transport({
      target: 'pino-pretty',
      options: { colorize: useColours(process.stdout), translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,event', singleLine: true, errorLikeObjectKeys: [] },
    }) as DestinationStream;
    log = pino(base, pretty);
  } else log = options.destination === undefined ? pino(base) : pino(base, options.destination as DestinationStream);
  secretLists.set(log, secrets);
  return log;
}
