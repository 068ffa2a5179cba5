/** `mqflow invoke <service>`: runs one service once and prints what it publishes (dry run), or publishes it (--live). */
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { HttpError, PooledHttpClient, type HttpClient } from '../http/client.js';
import { MessageHost } from '../host/host.js';
import type { Output } from '../host/output.js';
import type { OutgoingMessage } from '../mqtt/message.js';
import type { Publisher } from '../mqtt/publisher.js';
import type { MessageContext } from '../pipeline/context.js';
import { MessageFailure } from '../pipeline/execution.js';
import { createLog } from '../util/log.js';
import type { Connection, Trigger } from '../flow/model.js';
import { wildcardValues } from '../mqtt/topic-filter.js';
import { DeadlineError, DEFAULT_TIMEOUT, notConnected, parseTimeout, withDeadline } from './connect-once.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { commandPublisher, loadModel, onlyConnection } from './load-model.js';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const invokeHelp = `Usage: mqflow invoke [service] --payload JSON [--trigger NAME] [--topic TOPIC] [--dir DIR] [--connection NAME] [--live] [--timeout DURATION] [--format text|json]

Runs the service once with the payload, as if a trigger had delivered it on TOPIC, and prints
every message it would publish (a dry run: nothing is sent). With --live the messages are
published for real through the flows' connections, each acknowledged before mqflow exits.
http steps send GET, HEAD and OPTIONS requests in a dry run (they change nothing); other
methods only with --live.
Only the service, what it references and the trigger given need to be valid: errors elsewhere in
the folder are noted and left out. A dry run stands in placeholders for \${env:…} variables that
are not set (with a warning); --live needs them set.
A published topic with an empty level while $wildcards has no value for it (no --trigger, or a
wildcard that matched nothing) is warned about in a dry run and refused with --live.
Exit 0 when the service succeeded; 1 when it failed (the reason is printed), the folder has
errors in what it uses, or --timeout ran out (a broker down or unreachable); 2 on a usage error
(a --topic the trigger's filters do not match included).

Options:
  --payload JSON       the payload, as JSON (a string that is not JSON is taken as text)
  --trigger NAME       run as this trigger's message: $wildcards from --topic and its topic
                       filters, its connection for publishes that name none, and its service
                       when no service is given
  --topic TOPIC        the topic the message arrives on ($topic, $levels; default: empty, or the
                       trigger's filter when it is one topic without wildcards)
  --dir DIR            the flow folder (default: flows)
  --connection NAME    the connection publishes without one go through (default: the trigger's,
                       or the only one)
  --live               publish for real
  --timeout DURATION   give up after this long (default: ${DEFAULT_TIMEOUT}); exit 1
  --format text|json   json: one JSON object on stdout: { published: [{ connection, topic, payload,
                       qos, retain, properties? }], logs: [{ level, text }], warnings?: [text],
                       error?: { code, message } }
`;

export async function runInvoke(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      payload: { type: 'string' },
      trigger: { type: 'string' },
      topic: { type: 'string' },
      dir: { type: 'string', default: 'flows' },
      connection: { type: 'string' },
      live: { type: 'boolean' },
      timeout: { type: 'string', default: DEFAULT_TIMEOUT },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(invokeHelp);
    return EXIT.ok;
  }
  if (positionals.length > 1 || (positionals.length === 0 && values.trigger === undefined)) throw new UsageError('invoke takes one service name (or --trigger)');
  if (values.payload === undefined) throw new UsageError('--payload is required (JSON, or text)');
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json (got ${values.format})`);
  const timeoutMs = parseTimeout(values.timeout);
  const json = values.format === 'json';
  const live = values.live === true;
  const payload = parsePayload(values.payload);
  const triggerName = values.trigger;
  const loaded = loadModel(values.dir, io, {
    command: 'mqflow invoke',
    // A dry run connects to no broker: secrets that are not set are stood in for; --live needs them.
    placeholders: !live,
    uses: (defined) => {
      if (triggerName !== undefined && !defined.triggers.has(triggerName)) throw new UsageError(`no trigger named "${triggerName}" in ${values.dir}`);
      if (positionals[0] !== undefined && !defined.services.has(positionals[0])) throw new UsageError(`no service named "${positionals[0]}" in ${values.dir}`);
      if (values.connection !== undefined && !defined.connections.has(values.connection)) throw new UsageError(`no connection named "${values.connection}" in ${values.dir}`);
      return [
        ...(positionals[0] === undefined ? [] : [['services', positionals[0]] as const]),
        ...(triggerName === undefined ? [] : [['triggers', triggerName] as const]),
        ...(values.connection === undefined ? [] : [['connections', values.connection] as const]),
      ];
    },
  });
  if (loaded === undefined) return EXIT.invalid;
  const { model, defined, leftOut } = loaded;
  const trigger = triggerName === undefined ? undefined : model.triggers.get(triggerName)!;
  const name = positionals[0] ?? trigger!.service;
  // --trigger without a service: its service must be usable too.
  if (!model.services.has(name)) {
    io.stderr(`mqflow invoke: service ${name} of trigger ${triggerName ?? ''} has errors, or uses a definition that has: mqflow validate ${values.dir} lists them\n`);
    return EXIT.invalid;
  }
  const topic = values.topic ?? (trigger !== undefined && trigger.topics.length === 1 && !/[+#]/.test(trigger.topics[0]!) ? trigger.topics[0]! : '');
  const wildcards = trigger === undefined ? [] : wildcardsOf(trigger, topic, values.topic !== undefined);
  const connection = values.connection ?? trigger?.connection ?? onlyConnection(defined);
  // $wildcards without a value for a `+` or `#` renders as nothing: a level of the topic goes empty.
  const emptyWildcard = trigger === undefined || wildcards.some((w) => w === '');

  // One message host for the dry run and the live run (invariant 25): only the output differs.
  const logs: { level: string; text: string }[] = [];
  const warnings: string[] = [];
  const log = createLog({ level: 'trace', pretty: false, secrets: model.secrets, destination: logLines(logs, json ? undefined : io) });
  const context: MessageContext = {
    topic,
    levels: topic.split('/'),
    wildcards,
    payload,
    qos: 1,
    retain: false,
    dup: false,
    receivedAt: new Date().toISOString(),
    trigger: triggerName ?? '(invoke)',
    connection: connection ?? '',
  };
  const publishers = new Map<string, Publisher>();
  const published: { connection: string; message: OutgoingMessage }[] = [];
  const describe = (name: string, message: OutgoingMessage): string => `to ${message.topic} via ${name} (qos ${message.qos}${message.retain ? ', retain' : ''}): ${message.payload.toString()}`;
  const definition = (name: string): Connection => {
    const found = model.connections.get(name);
    if (found !== undefined) return found;
    if (leftOut.has(`connections.${name}`)) throw new MessageFailure(`connection ${name} has errors (mqflow validate ${values.dir} lists them)`, 'MQFLOW_PUBLISH_NO_CONNECTION');
    throw new MessageFailure('no connection to publish through (give --connection)', 'MQFLOW_PUBLISH_NO_CONNECTION');
  };
  /** An empty level that an empty $wildcards may have made: warned about in a dry run, refused live. */
  const checkLevels = (message: OutgoingMessage): void => {
    if (!emptyWildcard || !message.topic.split('/').includes('')) return;
    const why = trigger === undefined ? '$wildcards is empty without --trigger' : `a wildcard of trigger ${trigger.name} matched an empty level of ${topic}`;
    const text = `${message.topic} has an empty level, and ${why}${trigger === undefined ? ': give --trigger with --topic to fill $wildcards' : ''}`;
    if (live) throw new MessageFailure(`not published: ${text}`, 'MQFLOW_INVOKE_EMPTY_LEVEL');
    warnings.push(text);
  };
  const publisherOf = (name: string): Publisher => {
    let publisher = publishers.get(name);
    // Connection errors are summed up once, should --timeout run out (notConnected), not logged as they come.
    if (publisher === undefined) publishers.set(name, (publisher = commandPublisher(definition(name), createLog({ level: 'silent', pretty: false, secrets: model.secrets, destination: process.stderr }))));
    return publisher;
  };
  const output: Output = live
    ? {
        request: (name, message, timeoutMs, tracker) => publisherOf(name).request(message, timeoutMs, tracker),
        send(name, message, tracker) {
          checkLevels(message);
          publisherOf(name).send(message, {
            outputHanded: () => tracker.outputHanded(),
            outputSettled(error) {
              if (error === undefined) {
                published.push({ connection: name, message });
                if (!json) io.stdout(`published ${describe(name, message)}\n`);
              }
              tracker.outputSettled(error);
            },
          });
        },
      }
    : {
        request: (_name, message) => Promise.reject(new MessageFailure(`a dry run sends no request (to ${message.topic}); add --live to send it`, 'MQFLOW_REQUEST_DRY_RUN')),
        send(name, message, tracker) {
          definition(name);
          checkLevels(message);
          published.push({ connection: name, message });
          tracker.outputHanded();
          tracker.outputSettled(undefined);
        },
      };
  const client = new PooledHttpClient();
  // A dry run may read (GET, HEAD, OPTIONS) but changes nothing: other methods need --live.
  const http: HttpClient = live
    ? client
    : {
        request: (r) =>
          SAFE_METHODS.has(r.method) ? client.request(r) : Promise.reject(new HttpError(`a dry run sends no ${r.method} request to ${r.origin} (add --live to send it)`, 'MQFLOW_HTTP_DRY_RUN', false)),
      };
  const host = new MessageHost(model, output, log, { http });
  let failure: unknown;
  try {
    await withDeadline(host.runService(name, payload, context), timeoutMs, () => waitingFor(publishers));
  } catch (error) {
    failure = error;
  } finally {
    // After --timeout ran out, what still waits is dropped at once rather than sent after giving up.
    await Promise.all([...publishers.values()].map((p) => p.stop(failure instanceof DeadlineError ? 0 : 5000)));
    await client.close();
  }
  const code = failure === undefined ? undefined : failure instanceof MessageFailure ? failure.code : ((failure as { code?: string }).code ?? 'MQFLOW_FAILED');
  if (json) {
    const report = {
      published: published.map(({ connection: c, message: m }) => ({ connection: c, topic: m.topic, payload: m.payload.toString(), qos: m.qos, retain: m.retain, ...(m.properties === undefined ? {} : { properties: m.properties }) })),
      logs,
      ...(warnings.length === 0 ? {} : { warnings }),
      ...(failure === undefined ? {} : { error: { code, message: (failure as Error).message } }),
    };
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return failure === undefined ? EXIT.ok : EXIT.invalid;
  }
  if (!live) for (const p of published) io.stdout(`would publish ${describe(p.connection, p.message)}\n`);
  if (!live && published.length === 0) io.stdout('would publish nothing\n');
  for (const warning of warnings) io.stderr(`mqflow invoke: warning: ${warning}\n`);
  if (failure === undefined) return EXIT.ok;
  io.stderr(`failed: ${code === undefined || !(failure instanceof MessageFailure || failure instanceof DeadlineError) ? '' : `${code}: `}${(failure as Error).message}\n`);
  return EXIT.invalid;
}

/** `$wildcards` for a message of `trigger` on `topic`: from the first of its filters that matches, as the engine takes them. */
function wildcardsOf(trigger: Trigger, topic: string, given: boolean): string[] {
  for (const filter of trigger.topics) {
    const values = wildcardValues(filter, topic);
    if (values !== undefined) return values;
  }
  const filters = trigger.topics.join(', ');
  if (!given) throw new UsageError(`--trigger ${trigger.name} needs --topic: a topic its filter${trigger.topics.length === 1 ? '' : 's'} (${filters}) match${trigger.topics.length === 1 ? 'es' : ''}`);
  throw new UsageError(`--topic ${topic} does not match the filter${trigger.topics.length === 1 ? '' : 's'} of trigger ${trigger.name} (${filters})`);
}

/** What a run that ran out of time waited for: the connections that did not connect, or their acknowledgements. */
function waitingFor(publishers: ReadonlyMap<string, Publisher>): string {
  const down = [...publishers.values()].filter((p) => p.state !== 'connected');
  if (down.length > 0) return down.map((p) => notConnected(p.name, p.lastError)).join('; ');
  if (publishers.size > 0) return 'the broker did not acknowledge every message';
  return 'the service did not finish';
}

/** The host's log lines (log steps): kept, and shown as `log <level>: <text>` on stdout unless the output is JSON. */
function logLines(into: { level: string; text: string }[], io: CommandIO | undefined): Writable {
  const names: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text === '') continue;
        const line = JSON.parse(text) as { level: number; msg: string };
        const level = names[line.level] ?? String(line.level);
        into.push({ level, text: line.msg });
        io?.stdout(`log ${level}: ${line.msg}\n`);
      }
      done();
    },
  });
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
