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
import { EXIT, UsageError, type CommandIO } from './io.js';
import { commandPublisher, loadModel } from './load-model.js';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export const invokeHelp = `Usage: mqflow invoke <service> --payload JSON [--topic TOPIC] [--dir DIR] [--connection NAME] [--live] [--format text|json]

Runs the service once with the payload, as if a trigger had delivered it on TOPIC, and prints
every message it would publish (a dry run: nothing is sent). With --live the messages are
published for real through the flows' connections, each acknowledged before mqflow exits.
http steps send GET, HEAD and OPTIONS requests in a dry run (they change nothing); other
methods only with --live.
Exit 0 when the service succeeded, 1 when it failed (the reason is printed), 2 on a usage error.

Options:
  --payload JSON       the payload, as JSON (a string that is not JSON is taken as text)
  --topic TOPIC        the topic the message arrives on ($topic, $levels; default: empty)
  --dir DIR            the flow folder (default: flows)
  --connection NAME    the connection publishes without one go through (default: the only one)
  --live               publish for real
  --format text|json   json: one JSON object on stdout: { published: [{ connection, topic, payload,
                       qos, retain, properties? }], logs: [{ level, text }], error?: { code, message } }
`;

export async function runInvoke(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      payload: { type: 'string' },
      topic: { type: 'string', default: '' },
      dir: { type: 'string', default: 'flows' },
      connection: { type: 'string' },
      live: { type: 'boolean' },
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
  if (positionals.length !== 1) throw new UsageError('invoke takes one service name');
  if (values.payload === undefined) throw new UsageError('--payload is required (JSON, or text)');
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json (got ${values.format})`);
  const json = values.format === 'json';
  const name = positionals[0]!;
  const payload = parsePayload(values.payload);
  const model = loadModel(values.dir, io);
  if (model === undefined) return EXIT.invalid;
  if (!model.services.has(name)) throw new UsageError(`no service named "${name}" in ${values.dir}`);
  const connection = values.connection ?? (model.connections.size === 1 ? [...model.connections.keys()][0]! : undefined);
  if (connection !== undefined && !model.connections.has(connection)) throw new UsageError(`no connection named "${connection}" in ${values.dir}`);

  // One message host for the dry run and the live run (invariant 25): only the output differs.
  const logs: { level: string; text: string }[] = [];
  const log = createLog({ level: 'trace', pretty: false, secrets: model.secrets, destination: logLines(logs, json ? undefined : io) });
  const context: MessageContext = {
    topic: values.topic,
    levels: values.topic.split('/'),
    wildcards: [],
    payload,
    qos: 1,
    retain: false,
    dup: false,
    receivedAt: new Date().toISOString(),
    trigger: '(invoke)',
    connection: connection ?? '',
  };
  const live = values.live === true;
  const publishers = new Map<string, Publisher>();
  const published: { connection: string; message: OutgoingMessage }[] = [];
  const describe = (name: string, message: OutgoingMessage): string => `to ${message.topic} via ${name} (qos ${message.qos}${message.retain ? ', retain' : ''}): ${message.payload.toString()}`;
  const publisherOf = (name: string): Publisher => {
    const definition = model.connections.get(name);
    if (definition === undefined) throw new MessageFailure('no connection to publish through (give --connection)', 'MQFLOW_PUBLISH_NO_CONNECTION');
    let publisher = publishers.get(name);
    if (publisher === undefined) publishers.set(name, (publisher = commandPublisher(definition, createLog({ level: 'warn', pretty: false, secrets: model.secrets, destination: process.stderr }))));
    return publisher;
  };
  const output: Output = live
    ? {
        request: (name, message, timeoutMs, tracker) => publisherOf(name).request(message, timeoutMs, tracker),
        send(name, message, tracker) {
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
          if (!model.connections.has(name)) throw new MessageFailure('no connection to publish through (give --connection)', 'MQFLOW_PUBLISH_NO_CONNECTION');
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
    await host.runService(name, payload, context);
  } catch (error) {
    failure = error;
  } finally {
    await Promise.all([...publishers.values()].map((p) => p.stop(5000)));
    await client.close();
  }
  const code = failure === undefined ? undefined : failure instanceof MessageFailure ? failure.code : ((failure as { code?: string }).code ?? 'MQFLOW_FAILED');
  if (json) {
    const report = {
      published: published.map(({ connection: c, message: m }) => ({ connection: c, topic: m.topic, payload: m.payload.toString(), qos: m.qos, retain: m.retain, ...(m.properties === undefined ? {} : { properties: m.properties }) })),
      logs,
      ...(failure === undefined ? {} : { error: { code, message: (failure as Error).message } }),
    };
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return failure === undefined ? EXIT.ok : EXIT.invalid;
  }
  if (!live) for (const p of published) io.stdout(`would publish ${describe(p.connection, p.message)}\n`);
  if (!live && published.length === 0) io.stdout('would publish nothing\n');
  if (failure === undefined) return EXIT.ok;
  io.stderr(`failed: ${failure instanceof MessageFailure ? `${failure.code}: ` : ''}${(failure as Error).message}\n`);
  return EXIT.invalid;
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
