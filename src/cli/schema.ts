/** `mqflow schema`: prints the flow file JSON Schema, for editors. */
import { FLOW_SCHEMA } from '../flow/schema.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const schemaHelp = `Usage: mqflow schema

Prints the JSON Schema of flow files (the same as schemas/flow.schema.json).
`;

export function schemaText(): string {
  return `${JSON.stringify(FLOW_SCHEMA, null, 2)}\n`;
}

export function runSchema(args: readonly string[], io: CommandIO): number {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(schemaHelp);
    return EXIT.ok;
  }
  if (args.length > 0) throw new UsageError(`schema takes no arguments (got ${args.join(' ')})`);
  io.stdout(schemaText());
  return EXIT.ok;
}
