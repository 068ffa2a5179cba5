/** `mqflow publish`: publishes one message through a configured connection (the command-line pub.mqtt:publish). */
import { parseArgs } from 'node:util';
import { createLog } from '../util/log.js';
import { topicNameProblem } from '../mqtt/topic-filter.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { commandPublisher, loadModel } from './load-model.js';

export const publishHelp = `Usage: mqflow publish --connection NAME --topic TOPIC [--qos 0|1|2] [--retain] [--dir DIR] <payload>

Publishes one message through a connection of the flow folder, with its URL, credentials and TLS
settings, and waits for the broker's acknowledgement (QoS 1 and 2). The payload is sent as the
text given. Exit 0 when published, 1 when it could not be, 2 on a usage error.

Options:
  --connection NAME   the connection (default: the only one)
  --topic TOPIC       the topic (no wildcards)
  --qos 0|1|2         quality of service (default: 1)
  --retain            ask the broker to retain it
  --dir DIR           the flow folder (default: flows)
  --timeout DURATION  give up after this long (default: 10s)
`;

export async function runPublish(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      connection: { type: 'string' },
      topic: { type: 'string' },
      qos: { type: 'string', default: '1' },
      retain: { type: 'boolean' },
      dir: { type: 'string', default: 'flows' },
      timeout: { type: 'string', default: '10s' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(publishHelp);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('publish takes one payload (quote it)');
  if (values.topic === undefined) throw new UsageError('--topic is required');
  const problem = topicNameProblem(values.topic);
  if (problem !== undefined) throw new UsageError(`--topic: ${problem}`);
  if (!['0', '1', '2'].includes(values.qos)) throw new UsageError(`--qos must be 0, 1 or 2 (got ${values.qos})`);
  const { parseDuration } = await import('./run.js');
  const timeoutMs = parseDuration('timeout', values.timeout);
  const model = loadModel(values.dir, io);
  if (model === undefined) return EXIT.invalid;
  const name = values.connection ?? (model.connections.size === 1 ? [...model.connections.keys()][0]! : undefined);
  if (name === undefined) throw new UsageError(`--connection is required: ${values.dir} has ${model.connections.size} connections (${[...model.connections.keys()].join(', ')})`);
  const connection = model.connections.get(name);
  if (connection === undefined) throw new UsageError(`no connection named "${name}" in ${values.dir}`);
  const log = createLog({ level: 'error', pretty: false, secrets: model.secrets, destination: process.stderr });
  const publisher = commandPublisher(connection, log);
  const qos = Number(values.qos) as 0 | 1 | 2;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      publisher.publish({ topic: values.topic, payload: positionals[0]!, qos, retain: values.retain === true }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not published within ${values.timeout}: ${publisher.lastError ?? `connection ${name} did not connect`}`)), timeoutMs);
      }),
    ]);
    io.stdout(`published to ${values.topic} via ${name} (qos ${qos}${values.retain === true ? ', retain' : ''})\n`);
    return EXIT.ok;
  } catch (error) {
    io.stderr(`mqflow publish: ${(error as Error).message}\n`);
    return EXIT.invalid;
  } finally {
    clearTimeout(timer);
    await publisher.stop(1000);
  }
}
