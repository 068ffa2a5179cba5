/** `mqflow graph [dir]`: a diagram of the integration in a flow folder, as Mermaid or Graphviz dot. */
import { parseArgs } from 'node:util';
import { buildFlowFolder } from '../flow/build.js';
import { processEnvironment, withPlaceholders } from '../flow/interpolate.js';
import { formatProblem } from '../flow/problem.js';
import { flowGraph } from '../graph/graph.js';
import { renderGraph } from '../graph/render.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const graphHelp = `Usage: mqflow graph [dir] [--format mermaid|dot]

Builds the flow folder dir (default: flows) and prints a diagram of it: the topic filters each
trigger subscribes to, the service it runs, the services those invoke and the topics they
publish to, with each trigger's error route (dotted). Triggers are grouped by connection;
disabled ones are drawn dashed and grey. Output is sorted by name, so it diffs well. Nothing
connects: a \${env:…} variable that is not set is drawn with a placeholder (warned on stderr).
Exit 0 with the diagram on stdout, 1 when the folder is invalid (its problems are printed on
stderr), 2 on a usage error.

Options:
  --format mermaid|dot   a Mermaid flowchart (default) or a Graphviz dot digraph
`;

export function runGraph(args: readonly string[], io: CommandIO): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { format: { type: 'string', default: 'mermaid' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    io.stdout(graphHelp);
    return EXIT.ok;
  }
  if (values.format !== 'mermaid' && values.format !== 'dot') throw new UsageError(`--format must be mermaid or dot (got ${values.format})`);
  if (positionals.length > 1) throw new UsageError(`graph takes one folder (got ${positionals.length})`);
  const dir = positionals[0] ?? 'flows';

  // Nothing connects: secrets that are not set are stood in for, with their warnings on stderr.
  const result = buildFlowFolder(dir, { cwd: io.cwd, environment: withPlaceholders(processEnvironment) });
  if (result.model === undefined) {
    // stdout is the diagram (often redirected to a file): the problems go to stderr.
    const errors = result.problems.filter((p) => p.severity === 'error');
    io.stderr(`${errors.map(formatProblem).join('\n')}\n${dir}: ${errors.length} error${errors.length === 1 ? '' : 's'}; no graph\n`);
    return EXIT.invalid;
  }
  const placeheld = result.problems.filter((p) => p.code === 'MQFLOW_ENV_PLACEHOLDER');
  if (placeheld.length > 0) io.stderr(`${placeheld.map(formatProblem).join('\n')}\n`);
  io.stdout(renderGraph(flowGraph(result.model), values.format));
  return EXIT.ok;
}
