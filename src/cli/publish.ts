/** `mqflow publish`: publishes one message through a configured connection (the command-line pub.mqtt:publish). */
import { parseArgs } from 'node:util';
import { createLog } from '../util/log.js';
import { topicNameProblem } from '../mqtt/topic-filter.js';
import { DEFAULT_TIMEOUT, notConnected, parseTimeout, withDeadline } from './connect-once.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { commandPublisher, loadModel, onlyConnection } from './load-model.js';

export const publishHelp = `Usage: mqflow publish --connection NAME --topic TOPIC [--qos 0|1|2] [--retain] [--dir DIR] [--timeout DURATION] <payload>

Publishes one message through a connection of the flow folder, with its URL, credentials and TLS
settings, and waits for the broker's acknowledgement (QoS 1 and 2). The payload is sent as the
text given. Only that connection needs to be valid: errors elsewhere in the folder are noted and
left out. Exit 0 when published; 1 when it could not be (the broker is down, unreachable or
refused it, --timeout ran out, or the connection has errors); 2 on a usage error.

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
      timeout: { type: 'string', default: DEFAULT_TIMEOUT },
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
  const timeoutMs = parseTimeout(values.timeout);
  const loaded = loadModel(values.dir, io, {
    command: 'mqflow publish',
    uses: (defined) => {
      const name = values.connection ?? onlyConnection(defined);
      if (name === undefined) throw new UsageError(`--connection is required: ${values.dir} has ${defined.connections.size} connections (${[...defined.connections].sort().join(', ')})`);
      if (!defined.connections.has(name)) throw new UsageError(`no connection named "${name}" in ${values.dir}`);
      return [['connections', name]];
    },
  });
  if (loaded === undefined) return EXIT.invalid;
  const { model, defined } = loaded;
  const name = values.connection ?? onlyConnection(defined)!;
  const connection = model.connections.get(name)!;
  // Connection errors are summed up in the one line below (the last one), not logged as they come.
  const log = createLog({ level: 'silent', pretty: false, secrets: model.secrets, destination: process.stderr });
  const publisher = commandPublisher(connection, log);
  const qos = Number(values.qos) as 0 | 1 | 2;
  let stopMs = 1000;
  try {
    await withDeadline(publisher.publish({ topic: values.topic, payload: positionals[0]!, qos, retain: values.retain === true }), timeoutMs, () =>
      publisher.state === 'connected' ? `the broker did not acknowledge the message (connection ${name})` : notConnected(name, publisher.lastError),
    );
    io.stdout(`published to ${values.topic} via ${name} (qos ${qos}${values.retain === true ? ', retain' : ''})\n`);
    return EXIT.ok;
  } catch (error) {
    io.stderr(`mqflow publish: not published to ${values.topic}: ${(error as Error).message}\n`);
    // The message may still be waiting: leave at once rather than send it after giving up.
    stopMs = 0;
    return EXIT.invalid;
  } finally {
    await publisher.stop(stopMs);
  }
}
