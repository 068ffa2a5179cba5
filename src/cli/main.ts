/** The mqflow command line: one file per command; this one only dispatches. */
import { EXIT, mqflowVersion, processIO, UsageError, type CommandIO } from './io.js';

type Command = (args: readonly string[], io: CommandIO) => number | Promise<number>;

// Each command loads its modules when it runs: `mqflow run` carries no embedded broker (aedes).
const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  run: { load: async () => (await import('./run.js')).runRun, summary: 'run the flows of a folder against their brokers' },
  dev: { load: async () => (await import('./dev.js')).runDev, summary: 'run the flows with an embedded broker (and simulated sensors)' },
  validate: { load: async () => (await import('./validate.js')).runValidate, summary: 'check a flow folder and report every problem as file:line:col' },
  test: { load: async () => (await import('./test.js')).runTest, summary: 'run the flow tests (*.test.yaml) in memory, without a broker' },
  invoke: { load: async () => (await import('./invoke.js')).runInvoke, summary: 'run one service once and print what it would publish (or publish it: --live)' },
  publish: { load: async () => (await import('./publish.js')).runPublish, summary: 'publish one message through a configured connection' },
  subscribe: { load: async () => (await import('./subscribe.js')).runSubscribe, summary: 'print the messages on a topic, through a configured connection' },
  tap: { load: async () => (await import('./tap.js')).runTap, summary: 'watch messages pass a running mqflow\'s triggers, steps and publishes (admin API)' },
  plan: { load: async () => (await import('./plan.js')).runPlan, summary: 'print what reloading from one flow folder to another would change' },
  deploy: { load: async () => (await import('./deploy.js')).runDeploy, summary: 'send a flow folder to running instances and apply it live (admin API)' },
  rollback: { load: async () => (await import('./rollback.js')).runRollback, summary: 'apply again a version a running instance keeps in its history' },
  graph: { load: async () => (await import('./graph.js')).runGraph, summary: 'print a Mermaid (or dot) diagram of the flows: topics → triggers → services → topics' },
  schema: { load: async () => (await import('./schema.js')).runSchema, summary: 'print the JSON Schema of flow files (for editors)' },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const list = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return `Usage: mqflow <command> [options]\n\nCommands:\n${list}\n\nRun mqflow <command> --help for a command's options.\n`;
}

export async function main(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr(help());
    return EXIT.usage;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout(help());
    return EXIT.ok;
  }
  if (command === '--version' || command === '-v') {
    io.stdout(`${mqflowVersion()}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[command];
  try {
    if (entry === undefined) throw new UsageError(`unknown command "${command}"`);
    const run = await entry.load();
    return await run(rest, io);
  } catch (error) {
    // A flow folder that does not exist (FlowFolderError, MQFLOW_FOLDER) is a usage error of any command that reads one.
    const code = (error as { code?: unknown }).code?.toString();
    if (error instanceof UsageError || code === 'MQFLOW_FOLDER' || code?.startsWith('ERR_PARSE_ARGS') === true) {
      io.stderr(`mqflow: ${(error as Error).message}\n${entry === undefined ? help() : `Run mqflow ${command} --help for usage.\n`}`);
      return EXIT.usage;
    }
    throw error;
  }
}
