/** A flow graph as text: a Mermaid flowchart (GitHub renders it in Markdown) or a Graphviz dot digraph. */
import type { EdgeKind, FlowGraph, GraphEdge, GraphNode } from './graph.js';

export type GraphFormat = 'mermaid' | 'dot';

export function renderGraph(graph: FlowGraph, format: GraphFormat): string {
  return format === 'dot' ? renderDot(graph) : renderMermaid(graph);
}

/** Mermaid: topics are parallelograms, triggers (and endpoints) stadiums inside their connection's (listener's) box, services rectangles, HTTP APIs hexagons. */
export function renderMermaid(graph: FlowGraph): string {
  const out = ['flowchart LR'];
  const node = (n: GraphNode): string => {
    const text = n.lines.map(mermaidText).join('<br/>');
    const shape = n.kind === 'topic' ? `[/"${text}"/]` : n.kind === 'trigger' ? `(["${text}"])` : n.kind === 'api' ? `{{"${text}"}}` : `["${text}"]`;
    return `${n.id}${shape}${n.disabled ? ':::disabled' : ''}`;
  };
  for (const n of graph.nodes) if (n.kind === 'topic') out.push(`  ${node(n)}`);
  for (const g of graph.groups) {
    out.push(`  subgraph ${g.id} ["${mermaidText(g.label)}"]`);
    for (const n of graph.nodes) if (n.group === g.id) out.push(`    ${node(n)}`);
    out.push('  end');
  }
  for (const n of graph.nodes) if (n.kind === 'service' || n.kind === 'api') out.push(`  ${node(n)}`);
  const arrow = (e: GraphEdge): string => (e.kind === 'error' ? '-.->' : '-->');
  for (const e of graph.edges) out.push(`  ${e.from} ${arrow(e)}${e.label === undefined ? '' : `|"${mermaidText(e.label)}"|`} ${e.to}`);
  const disabledGroups = graph.groups.filter((g) => g.disabled);
  if (disabledGroups.length > 0 || graph.nodes.some((n) => n.disabled)) {
    out.push('  classDef disabled stroke-dasharray: 5 5,stroke:#999,color:#999');
    if (disabledGroups.length > 0) out.push(`  class ${disabledGroups.map((g) => g.id).join(',')} disabled`);
  }
  return `${out.join('\n')}\n`;
}

/** Graphviz dot: the same graph, each connection a cluster; disabled parts dashed and grey. */
export function renderDot(graph: FlowGraph): string {
  const out = ['digraph mqflow {', '  rankdir=LR;'];
  const grey = 'color=gray50, fontcolor=gray50';
  const node = (n: GraphNode): string => {
    const attributes = [`label=${dotString(n.lines.map(dotText).join('\\n'))}`];
    if (n.kind === 'topic') attributes.push('shape=parallelogram');
    else if (n.kind === 'trigger') attributes.push('shape=box', n.disabled ? `style="rounded,dashed", ${grey}` : 'style=rounded');
    else if (n.kind === 'api') attributes.push('shape=hexagon');
    else attributes.push('shape=box');
    return `${n.id} [${attributes.join(', ')}];`;
  };
  for (const n of graph.nodes) if (n.kind === 'topic') out.push(`  ${node(n)}`);
  for (const g of graph.groups) {
    out.push(`  subgraph cluster_${g.id} {`, `    label=${dotString(dotText(g.label))};`);
    if (g.disabled) out.push('    style=dashed;', '    color=gray50;', '    fontcolor=gray50;');
    for (const n of graph.nodes) if (n.group === g.id) out.push(`    ${node(n)}`);
    out.push('  }');
  }
  for (const n of graph.nodes) if (n.kind === 'service' || n.kind === 'api') out.push(`  ${node(n)}`);
  const style: Partial<Record<EdgeKind, string>> = { error: 'style=dotted' };
  for (const e of graph.edges) {
    const attributes = [...(e.label === undefined ? [] : [`label=${dotString(dotText(e.label))}`]), ...(style[e.kind] === undefined ? [] : [style[e.kind]!])];
    out.push(`  ${e.from} -> ${e.to}${attributes.length === 0 ? '' : ` [${attributes.join(', ')}]`};`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/**
 * Text inside a quoted Mermaid label. Mermaid reads `#name;` as an entity and labels as HTML, so
 * quotes, `<`, `&`, a backtick (markdown strings) and a `#` that would start an entity are
 * written as entity codes; everything else, `/ + # { }` included, stays as it is.
 */
export function mermaidText(text: string): string {
  return text
    .replace(/#(?=\w+;)/g, '#35;')
    .replace(/&/g, '#amp;')
    .replace(/"/g, '#quot;')
    .replace(/</g, '#lt;')
    .replace(/`/g, '#96;');
}

/** Text inside a dot string: a backslash is an escape there, so it is doubled. */
function dotText(text: string): string {
  return text.replace(/\\/g, '\\\\');
}

/** A dot string; `text` is escaped already (dotText) except for quotes. */
function dotString(text: string): string {
  return `"${text.replace(/"/g, '\\"')}"`;
}
