/** `mqflow invoke <service>`: runs one service once and prints what it publishes (dry run), or publishes it (--live). */
import { parseArgs } from 'node:util';
import { createLog } from '../engine/log.js';
import { baseClientId } from '../mqtt/client-options.js';
import { Publisher } from '../mqtt/publisher.js';
import { Execution, MessageFailure, type Effects, type MessageContext, type PublishRequest } from '../pipeline/execution.js';
import { Pipeline } from '../pipeline/run-service.js';
import { runCase } from '../testing/harness.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { commandConnection, loadModel } from './load-model.js';

export const invokeHelp = `Usage: mqflow invoke <service> --payload JSON [--topic TOPIC] [--dir DIR] [--connection NAME] [--live]

Runs the service once with the payload, as if a trigger had delivered it on TOPIC, and prints
every message it would publish (a dry run: nothing is sent). With --live the messages are
published for real through the flows' connections, each acknowledged before mqflow exits.
Exit 0 when the service succeeded, 1 when it failed (the reason is printed), 2 on a usage error.

Options:
  --payload JSON       the payload, as JSON (a string that is not JSON is taken as text)
  --topic TOPIC        the topic the message arrives on ($topic, $levels; default: empty)
  --dir DIR            the flow folder (default: flows)
  --connection NAME    the connection publishes without one go through (default: the only one)
  --live               publish for real
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
  const name = positionals[0]!;
  const payload = parsePayload(values.payload);
  const model = loadModel(values.dir, io);
  if (model === undefined) return EXIT.invalid;
  if (!model.services.has(name)) throw new UsageError(`no service named "${name}" in ${values.dir}`);
  const connection = values.connection ?? (model.connections.size === 1 ? [...model.connections.keys()][0]! : undefined);
  if (connection !== undefined && !model.connections.has(connection)) throw new UsageError(`no connection named "${connection}" in ${values.dir}`);

  if (values.live !== true) {
    const observed = await runCase(model, {
      name: 'invoke',
      file: '',
      line: 0,
      target: { kind: 'service', name },
      ...(connection === undefined ? {} : { connection }),
      messages: [{ topic: values.topic, payload, qos: 1, retain: false }],
      fixed: {},
      expect: {},
    });
    for (const log of observed.logs) io.stdout(`log ${log.level}: ${log.text}\n`);
    for (const p of observed.published) io.stdout(`would publish to ${p.topic} via ${p.connection} (qos ${p.qos}${p.retain ? ', retain' : ''}): ${p.text}\n`);
    if (observed.published.length === 0) io.stdout('would publish nothing\n');
    for (const f of observed.failures) io.stderr(`failed: ${f.code}: ${f.reason}\n`);
    return observed.failures.length === 0 ? EXIT.ok : EXIT.invalid;
  }

  // Live: publish through real clients, one per connection used, under their own client ids.
  const log = createLog({ level: 'warn', pretty: false, secrets: model.secrets, destination: process.stderr });
  const publishers = new Map<string, Publisher>();
  const send = async (request: PublishRequest, via: string): Promise<void> => {
    const name = request.connection ?? via;
    const definition = model.connections.get(name);
    if (definition === undefined) throw new MessageFailure(`no connection to publish through (give --connection)`, 'MQFLOW_PUBLISH_NO_CONNECTION');
    let publisher = publishers.get(name);
    if (publisher === undefined) {
      publisher = new Publisher(commandConnection(definition), `${baseClientId(definition, undefined)}-cli-${process.pid}`, log);
      publishers.set(name, publisher);
    }
    await publisher.publish({ topic: request.topic, payload: request.payload, qos: request.qos, retain: request.retain });
    io.stdout(`published to ${request.topic} via ${name} (qos ${request.qos}${request.retain ? ', retain' : ''}): ${request.payload.toString()}\n`);
  };
  const effects: Effects = {
    publish: (request, from) => send(request, from.message.connection),
    invoke: (service, p, from) => pipeline.invoke(service, p, from),
    log: (level, text) => io.stdout(`log ${level}: ${text}\n`),
  };
  const pipeline = new Pipeline(model.services, effects, send);
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
  let status: number = EXIT.ok;
  try {
    await pipeline.run(model.services.get(name)!, new Execution(payload, context));
  } catch (error) {
    io.stderr(`failed: ${error instanceof MessageFailure ? `${error.code}: ` : ''}${(error as Error).message}\n`);
    status = EXIT.invalid;
  } finally {
    await Promise.all([...publishers.values()].map((p) => p.stop(5000)));
  }
  return status;
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
