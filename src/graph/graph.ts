/**
 * The integration of a compiled flow model as a graph: topic filters → triggers → services →
 * invoked services → published topics and called HTTP APIs, with each trigger's error route;
 * endpoints (HTTP triggers) sit in their listener's box. Pure data, rendered by
 * render.ts as Mermaid or Graphviz dot.
 *
 * Everything is sorted by name and node ids are derived from names (not from positions), so adding
 * one definition changes only the lines that concern it: the output diffs well in git.
 */
import type { Endpoint, FlowModel, Trigger } from '../flow/model.js';
import type { Step } from '../pipeline/step.js';
import { stepKind } from '../steps/kinds.js';
import type { Template } from '../expr/template.js';

export type NodeKind = 'topic' | 'trigger' | 'service' | 'api';

export interface GraphNode {
  /** A valid identifier in Mermaid and in dot: letters, digits and `_`, starting with a letter. */
  readonly id: string;
  readonly kind: NodeKind;
  /** The text shown, one entry per line. */
  readonly lines: readonly string[];
  /** The connection a trigger subscribes through (the id of its group). */
  readonly group?: string;
  /** A disabled trigger, or an enabled one whose connection is disabled: it does not run. */
  readonly disabled: boolean;
}

/** A connection, drawn as a box around the triggers that subscribe through it. */
export interface GraphGroup {
  readonly id: string;
  readonly label: string;
  readonly disabled: boolean;
}

/**
 * subscribe: filter → trigger; runs: trigger → service; invoke: service → service;
 * publish: service → topic; calls: service → HTTP API; error: trigger → its onError topic or service.
 */
export type EdgeKind = 'subscribe' | 'runs' | 'invoke' | 'publish' | 'calls' | 'error';

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  readonly label?: string;
}

export interface FlowGraph {
  /** Topics (sorted by text), then triggers (by connection, then name), endpoints (by listener, then name), services (by name), then HTTP APIs (by text). */
  readonly nodes: readonly GraphNode[];
  readonly groups: readonly GraphGroup[];
  /** Sorted by source node, kind (subscribe, runs, invoke, publish, error), target node and label; no duplicates. */
  readonly edges: readonly GraphEdge[];
}

/** Longest condition or expression text shown on an edge before it is cut with "…". */
const MAX_EXPRESSION_TEXT = 40;

export function flowGraph(model: FlowModel): FlowGraph {
  const mask = masker(model.secrets);
  const triggers = [...model.triggers.values()].sort((a, b) => compare(a.name, b.name));
  const services = [...model.services.values()].sort((a, b) => compare(a.name, b.name));

  // Every use of a service's steps, found once per service.
  const uses = new Map(services.map((s) => [s.name, stepUses(s.steps, mask)]));

  // Topics: subscribed filters, error-route topics and published topics, keyed by their text.
  const topicTexts = new Set<string>();
  for (const t of triggers) {
    for (const filter of t.topics) topicTexts.add(mask(filter));
    if (t.onError?.kind === 'publish') topicTexts.add(mask(t.onError.topic));
  }
  for (const e of [...model.endpoints.values(), ...model.schedules.values()]) if (e.onError?.kind === 'publish') topicTexts.add(mask(e.onError.topic));
  for (const list of uses.values()) for (const use of list) if (use.kind === 'publish') topicTexts.add(use.topic);
  const topics = [...topicTexts].sort(compare);
  const topicId = uniqueIds('topic', topics);

  const connectionNames = [...new Set(triggers.map((t) => t.connection))].sort(compare);
  const groupId = uniqueIds('connection', connectionNames);
  const triggerNames = connectionNames.flatMap((c) => triggers.filter((t) => t.connection === c).map((t) => t.name));
  const triggerId = uniqueIds('trigger', triggerNames);
  const endpoints = [...model.endpoints.values()].sort((a, b) => compare(a.name, b.name));
  const listenerNames = [...new Set(endpoints.map((e) => e.listener))].sort(compare);
  const listenerId = uniqueIds('listener', listenerNames);
  const endpointNames = listenerNames.flatMap((l) => endpoints.filter((e) => e.listener === l).map((e) => e.name));
  const endpointId = uniqueIds('endpoint', endpointNames);
  const schedules = [...model.schedules.values()].sort((a, b) => compare(a.name, b.name));
  const scheduleId = uniqueIds('schedule', schedules.map((s) => s.name));
  const apis = [...new Set([...uses.values()].flatMap((list) => list.flatMap((use) => (use.kind === 'http' ? [use.text] : []))))].sort(compare);
  const apiId = uniqueIds('api', apis);
  const serviceId = uniqueIds('service', services.map((s) => s.name));
  const connectionEnabled = (name: string): boolean => model.connections.get(name)?.enabled !== false;

  const nodes: GraphNode[] = [
    ...topics.map((text): GraphNode => ({ id: topicId.get(text)!, kind: 'topic', lines: [text], disabled: false })),
    ...triggerNames.map((name): GraphNode => {
      const t = model.triggers.get(name)!;
      return { id: triggerId.get(name)!, kind: 'trigger', lines: triggerLines(t), group: groupId.get(t.connection)!, disabled: !t.enabled || !connectionEnabled(t.connection) };
    }),
    ...endpointNames.map((name): GraphNode => {
      const e = model.endpoints.get(name)!;
      return { id: endpointId.get(name)!, kind: 'trigger', lines: endpointLines(e), group: listenerId.get(e.listener)!, disabled: !e.enabled || model.listeners.get(e.listener)?.enabled === false };
    }),
    ...schedules.map((s): GraphNode => ({ id: scheduleId.get(s.name)!, kind: 'trigger', lines: [s.name, s.timing.kind === 'every' ? `every ${duration(s.timing.everyMs)}` : `cron ${s.timing.cron}${s.timing.timezone === 'UTC' ? '' : ` ${s.timing.timezone}`}`], group: 'schedules', disabled: !s.enabled })),
    ...services.map((s): GraphNode => ({ id: serviceId.get(s.name)!, kind: 'service', lines: [s.name], disabled: false })),
    ...apis.map((text): GraphNode => ({ id: apiId.get(text)!, kind: 'api', lines: [text], disabled: false })),
  ];
  const groups = [
    ...connectionNames.map((name): GraphGroup => ({ id: groupId.get(name)!, label: `connection ${name}`, disabled: !connectionEnabled(name) })),
    ...listenerNames.map((name): GraphGroup => {
      const l = model.listeners.get(name);
      return { id: listenerId.get(name)!, label: `listener ${name}${l === undefined ? '' : ` :${l.port}`}`, disabled: l?.enabled === false };
    }),
    ...(schedules.length === 0 ? [] : [{ id: 'schedules', label: 'schedules', disabled: false }]),
  ];

  const edges: GraphEdge[] = [];
  for (const t of triggers) {
    const id = triggerId.get(t.name)!;
    for (const filter of t.topics) edges.push(edge(topicId.get(mask(filter))!, id, 'subscribe', t.share === undefined ? undefined : `$share/${t.share}`));
    edges.push(edge(id, serviceId.get(t.service)!, 'runs'));
    const route = t.onError;
    if (route?.kind === 'publish') edges.push(edge(id, topicId.get(mask(route.topic))!, 'error', route.connection === undefined ? 'onError' : `onError, via ${route.connection}`));
    if (route?.kind === 'service') edges.push(edge(id, serviceId.get(route.service)!, 'error', 'onError'));
  }
  for (const e of [...endpoints, ...schedules]) {
    const id = ('listener' in e ? endpointId : scheduleId).get(e.name)!;
    edges.push(edge(id, serviceId.get(e.service)!, 'runs'));
    const route = e.onError;
    if (route?.kind === 'publish') edges.push(edge(id, topicId.get(mask(route.topic))!, 'error', route.connection === undefined ? 'onError' : `onError, via ${route.connection}`));
    if (route?.kind === 'service') edges.push(edge(id, serviceId.get(route.service)!, 'error', 'onError'));
  }
  for (const s of services) {
    const id = serviceId.get(s.name)!;
    for (const use of uses.get(s.name)!) {
      if (use.kind === 'invoke') edges.push(edge(id, serviceId.get(use.service)!, 'invoke', ['invoke', ...use.context].join(', ')));
      else if (use.kind === 'http') edges.push(edge(id, apiId.get(use.text)!, 'calls', label(use.context)));
      else edges.push(edge(id, topicId.get(use.topic)!, 'publish', label([...use.context, ...(use.connection === undefined ? [] : [`via ${use.connection}`])])));
    }
  }
  return { nodes, groups, edges: sortEdges(edges, nodes) };
}

/** The text of a topic template: literal parts as written, expressions as `{{ expression }}`. */
export function templateText(template: Template): string {
  if (template.literal !== undefined) return template.literal;
  return template.parts.map((p) => (p.isExpression ? `{{ ${oneLine(p.text)} }}` : p.text)).join('');
}

type StepUse =
  | { readonly kind: 'publish'; readonly topic: string; readonly connection?: string; readonly context: readonly string[] }
  | { readonly kind: 'invoke'; readonly service: string; readonly context: readonly string[] }
  | { readonly kind: 'http'; readonly text: string; readonly context: readonly string[] };

/** Every publish and invoke in a list of steps, nested ones included, with the conditions that lead to them. */
function stepUses(steps: readonly Step[], mask: (text: string) => string, context: readonly string[] = []): StepUse[] {
  const uses: StepUse[] = [];
  for (const step of steps) {
    for (const use of stepKind(step.kind)?.uses?.(step) ?? []) {
      if (use.kind === 'publish') uses.push({ kind: 'publish', topic: mask(templateText(use.topic)), connection: use.connection, context: use.label === undefined ? context : [use.label, ...context] });
      else if (use.kind === 'invoke') uses.push({ kind: 'invoke', service: use.service, context });
      else if (use.kind === 'http') uses.push({ kind: 'http', text: mask(`${use.method} ${templateText(use.url)}`), context });
      else {
        const label = use.label === 'otherwise' ? 'otherwise' : `${use.label} ${short(mask(use.expression ?? ''))}`;
        uses.push(...stepUses(use.steps, mask, [...context, label]));
      }
    }
  }
  return uses;
}

function endpointLines(e: Endpoint): string[] {
  return [e.name, `${e.method} ${e.path}`];
}

function triggerLines(t: Trigger): string[] {
  return t.onError?.kind === 'suspend' ? [t.name, `onError: suspend ${duration(t.onError.resumeAfterMs)}`] : [t.name];
}

function duration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function edge(from: string, to: string, kind: EdgeKind, label?: string): GraphEdge {
  return label === undefined ? { from, to, kind } : { from, to, kind, label };
}

function label(parts: readonly string[]): string | undefined {
  return parts.length === 0 ? undefined : parts.join(', ');
}

const EDGE_KINDS: readonly EdgeKind[] = ['subscribe', 'runs', 'invoke', 'publish', 'calls', 'error'];

function sortEdges(edges: readonly GraphEdge[], nodes: readonly GraphNode[]): GraphEdge[] {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const key = (e: GraphEdge): string => `${e.from}\0${e.to}\0${e.kind}\0${e.label ?? ''}`;
  const unique = [...new Map(edges.map((e) => [key(e), e])).values()];
  return unique.sort(
    (a, b) =>
      index.get(a.from)! - index.get(b.from)! ||
      EDGE_KINDS.indexOf(a.kind) - EDGE_KINDS.indexOf(b.kind) ||
      index.get(a.to)! - index.get(b.to)! ||
      compare(a.label ?? '', b.label ?? ''),
  );
}

/**
 * Ids from names: `<prefix>_` and the name with `+` as `plus`, `#` as `all` and every other run of
 * characters that are not letters or digits as `_` (`plant/+/alerts` → `topic_plant_plus_alerts`).
 * Names that come out the same get `_2`, `_3`… in the order given.
 */
function uniqueIds(prefix: string, names: readonly string[]): Map<string, string> {
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of names) {
    if (ids.has(name)) continue;
    const words = name.replace(/\+/g, ' plus ').replace(/#/g, ' all ').split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
    const base = [prefix, ...words].join('_').slice(0, 64).replace(/_+$/, '');
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
    taken.add(id);
    ids.set(name, id);
  }
  return ids;
}

function oneLine(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

function short(text: string): string {
  const line = oneLine(text);
  return line.length <= MAX_EXPRESSION_TEXT ? line : `${line.slice(0, MAX_EXPRESSION_TEXT - 1).trimEnd()}…`;
}

/** Values resolved from ${env:…} and ${file:…} are shown as [secret], as in the logs (same exemptions). */
function masker(secrets: readonly string[]): (text: string) => string {
  const worthMasking = (s: string): boolean => s.length >= 4 && !/^[\d.:-]+$/.test(s) && s !== 'true' && s !== 'false';
  const list = secrets.filter(worthMasking).sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  return (text) => list.reduce((out, secret) => out.split(secret).join('[secret]'), text);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
