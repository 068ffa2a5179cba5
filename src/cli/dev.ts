/** `mqflow dev [dir]`: run the flows against an embedded broker, for trying flows on a machine with only Node.js. */
import { parseArgs } from 'node:util';
import { startEmbeddedBroker } from '../broker/embedded.js';
import { EXIT, UsageError, type CommandIO } from './io.js';
import { RUN_OPTIONS, runtimeSettings, startRuntime, untilSignal } from './run.js';
import { startSimulator } from './simulator.js';

export const devHelp = `Usage: mqflow dev [dir] [options]

Starts an embedded MQTT broker (default 127.0.0.1:1883), sets MQTT_URL to it, and runs the flows
of dir (default: flows) with readable debug logs, reloading them whenever a flow file changes.
Stop with Ctrl-C.

Options:
  --host HOST          broker address (default: 127.0.0.1)
  --port PORT          broker port (default: 1883; 0 picks a free one)
  --simulate FILE      publish the messages of FILE periodically (see examples/sensors.yaml)
  --no-watch           do not reload when flow files change
  and every option of mqflow run (--log-level, --no-pretty, --drain-timeout, ...)
`;

export async function runDev(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { ...RUN_OPTIONS, 'no-watch': { type: 'boolean' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '1883' }, simulate: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(devHelp);
    return EXIT.ok;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (got ${values.port})`);
  const settings = runtimeSettings(values, positionals, { logLevel: 'debug', pretty: true, watch: true });
  let broker;
  try {
    broker = await startEmbeddedBroker(values.host, port);
  } catch (error) {
    throw new UsageError(`cannot start the embedded broker on ${values.host}:${port}: ${(error as Error).message}`);
  }
  // The example flows read their broker from MQTT_URL; point them at the embedded broker.
  process.env.MQTT_URL = broker.url;
  const started = await startRuntime(settings, io);
  if (started === undefined) {
    await broker.close();
    return EXIT.invalid;
  }
  started.log.info({ event: 'broker', port: broker.port }, `embedded broker listening on ${values.host}:${broker.port} (MQTT_URL)`);
  const simulator = values.simulate === undefined ? undefined : startSimulator(values.simulate, broker.url, started.log);
  return untilSignal(started, settings.drainTimeoutMs, async () => {
    await simulator?.stop();
    await broker.close();
  });
}
