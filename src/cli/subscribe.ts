/** `mqflow subscribe`: a plain look at a topic through a configured connection of the flow folder (URL, credentials, TLS). */
import { connect, type IClientOptions } from 'mqtt';
import { parseArgs } from 'node:util';
import { baseClientId, clientOptions } from '../connections/client-options.js';
import { topicFilterProblem } from '../mqtt/topic-filter.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { parseTimeout } from './connect-once.js';
import { loadModel, onlyConnection } from './load-model.js';

export const subscribeHelp = `Usage: mqflow subscribe <topic filter> [--connection NAME] [--dir DIR] [--qos 0|1|2]
                       [--count N] [--timeout DURATION] [--format text|json]

Subscribes to a topic filter through a connection of the flow folder, with its URL, credentials
and TLS settings (its own client id and a clean session: it never takes a running mqflow's
session), and prints each message: its topic, QoS, retain flag and payload (text, or base64 when
it is not text). Ends after --count messages, after --timeout, or on Ctrl-C.
Exit 0 when it ends so (with --count: once N messages arrived), 1 when the folder is invalid, the
broker cannot be reached or refuses the subscription, or --count messages did not arrive within
--timeout, 2 on a usage error.

Options:
  --connection NAME   the connection (default: the only one)
  --dir DIR           the flow folder (default: flows)
  --qos 0|1|2         the subscription's QoS (default: 1)
  --count N           stop after N messages
  --timeout DURATION  stop after this long (e.g. 30s)
  --format text|json  one line per message (default), or one JSON object per line
`;

export async function runSubscribe(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      connection: { type: 'string' },
      dir: { type: 'string', default: 'flows' },
      qos: { type: 'string', default: '1' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(subscribeHelp);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('subscribe takes one topic filter (quote it: "plant/#")');
  const filter = positionals[0]!;
  const problem = topicFilterProblem(filter);
  if (problem !== undefined) throw new UsageError(`topic filter: ${problem}`);
  if (!['0', '1', '2'].includes(values.qos)) throw new UsageError(`--qos must be 0, 1 or 2 (got ${values.qos})`);
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError(`--format must be text or json (got ${values.format})`);
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new UsageError(`--count must be a whole number of at least 1 (got ${values.count})`);
  const timeoutMs = values.timeout === undefined ? undefined : parseTimeout(values.timeout);
  let name = values.connection;
  const loaded = loadModel(values.dir, io, {
    command: 'mqflow subscribe',
    // Only the connection must be valid: errors elsewhere in the folder do not stop a look at a topic.
    uses: (defined) => {
      name ??= onlyConnection(defined);
      if (name === undefined) throw new UsageError(`--connection is required: ${values.dir} has ${defined.connections.size} connections (${[...defined.connections].join(', ')})`);
      if (!defined.connections.has(name)) throw new UsageError(`no connection named "${name}" in ${values.dir}`);
      return [['connections', name]];
    },
  });
  if (loaded === undefined || name === undefined) return EXIT.invalid;
  const model = loaded.model;
  const connection = model.connections.get(name);
  if (connection === undefined) throw new UsageError(`no connection named "${name}" in ${values.dir}`);
  const options: IClientOptions = {
    ...clientOptions({ ...connection, cleanSession: true }, { clientId: `${baseClientId(connection, undefined)}-sub-${process.pid}` }),
    // One try: a command says what went wrong rather than retrying for ever.
    reconnectPeriod: 0,
  };
  const qos = Number(values.qos) as 0 | 1 | 2;
  const json = values.format === 'json';
  const mask = masker(model.secrets);

  return new Promise<number>((resolve) => {
    let received = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const client = connect(options);
    const finish = (code: number, message?: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (message !== undefined) io.stderr(`mqflow subscribe: ${mask(message)}\n`);
      client.end(false, () => resolve(code));
    };
    const onSignal = (): void => finish(EXIT.ok);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => (count === undefined ? finish(EXIT.ok) : finish(EXIT.invalid, `${received} of ${count} messages on ${filter} within ${values.timeout}`)), timeoutMs);
    }
    client.on('error', (error) => finish(EXIT.invalid, `connection ${name}: ${error.message}`));
    client.on('close', () => finish(EXIT.invalid, `connection ${name} closed${received === 0 ? ' before any message arrived' : ''}`));
    client.on('connect', () => {
      client.subscribe(filter, { qos }, (error, granted) => {
        if (error !== null && error !== undefined) return finish(EXIT.invalid, `subscribing to ${filter} failed: ${error.message}`);
        const code = granted?.[0]?.qos ?? 128;
        if (code >= 128) return finish(EXIT.invalid, `the broker refused the subscription to ${filter} (reason code ${code})`);
        io.stderr(`subscribed to ${filter} via ${name} (qos ${code})${count === undefined ? '' : `; stopping after ${count} message${count === 1 ? '' : 's'}`}\n`);
      });
    });
    client.on('message', (topic, payload, packet) => {
      if (finished) return;
      received++;
      io.stdout(json ? `${JSON.stringify(messageJson(topic, payload, packet.qos, packet.retain))}\n` : `${messageLine(topic, payload, packet.qos, packet.retain)}\n`);
      if (count !== undefined && received >= count) finish(EXIT.ok);
    });
  });
}

/** Text when it is valid UTF-8 without control characters other than tab, CR and LF. */
function asText(payload: Buffer): string | undefined {
  for (const b of payload) if (b < 9 || (b > 13 && b < 32) || b === 127) return undefined;
  const text = payload.toString('utf8');
  return text.includes('\uFFFD') ? undefined : text;
}

function messageLine(topic: string, payload: Buffer, qos: number, retain: boolean): string {
  const text = asText(payload);
  const shown = text === undefined ? `(${payload.length} bytes, base64) ${payload.toString('base64')}` : text.replace(/\r?\n/g, '\\n');
  return `${topic} qos ${qos}${retain ? ' retained' : ''} ${shown}`;
}

function messageJson(topic: string, payload: Buffer, qos: number, retain: boolean): Record<string, unknown> {
  const text = asText(payload);
  return { topic, qos, retain, size: payload.length, ...(text === undefined ? { base64: payload.toString('base64') } : { payload: text }) };
}

/** Resolved secrets in an error message (a URL with credentials) are shown as [secret]. */
function masker(secrets: readonly string[]): (text: string) => string {
  const list = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((out, secret) => out.split(secret).join('[secret]'), text);
}
