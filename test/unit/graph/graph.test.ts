/** mqflow graph: the compiled model as a graph (topics → triggers → services → topics), and that graph as Mermaid and dot. */
import { describe, expect, it } from 'vitest';
import type { FlowModel } from '../../../src/flow/model.js';
import { flowGraph, type FlowGraph, type GraphEdge } from '../../../src/graph/graph.js';
import { mermaidText, renderDot, renderMermaid } from '../../../src/graph/render.js';
import { buildMemory, type MemoryFolder } from '../flow/helpers.js';

function model(folder: MemoryFolder): FlowModel {
  const result = buildMemory(folder);
  expect(result.text.filter((t) => / error: /.test(t))).toEqual([]);
  return result.model!;
}

const SMALL = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  temps:
    connection: plant
    topic: plant/+/temperature
    share: workers
    service: convert
    onError:
      publish: { topic: plant/dead-letter }
  old-temps:
    connection: plant
    topic: legacy/#
    service: convert
    enabled: false
services:
  convert:
    steps:
      - transform: '{ "site": $wildcards[0], "celsius": (temp_f - 32) * 5 / 9 }'
      - publish:
          topic: plant/{{ site }}/celsius
`;

describe('mqflow graph: a small folder, exactly', () => {
  const graph = flowGraph(model({ files: { 'small.yaml': SMALL } }));

  it('renders a Mermaid flowchart', () => {
    expect(renderMermaid(graph)).toBe(`flowchart LR
  topic_legacy_all[/"legacy/#"/]
  topic_plant_plus_temperature[/"plant/+/temperature"/]
  topic_plant_dead_letter[/"plant/dead-letter"/]
  topic_plant_site_celsius[/"plant/{{ site }}/celsius"/]
  subgraph connection_plant ["connection plant"]
    trigger_old_temps(["old-temps"]):::disabled
    trigger_temps(["temps"])
  end
  service_convert["convert"]
  topic_legacy_all --> trigger_old_temps
  topic_plant_plus_temperature -->|"$share/workers"| trigger_temps
  trigger_old_temps --> service_convert
  trigger_temps --> service_convert
  trigger_temps -.->|"onError"| topic_plant_dead_letter
  service_convert --> topic_plant_site_celsius
  classDef disabled stroke-dasharray: 5 5,stroke:#999,color:#999
`);
  });

  it('renders a Graphviz digraph', () => {
    expect(renderDot(graph)).toBe(`digraph mqflow {
  rankdir=LR;
  topic_legacy_all [label="legacy/#", shape=parallelogram];
  topic_plant_plus_temperature [label="plant/+/temperature", shape=parallelogram];
  topic_plant_dead_letter [label="plant/dead-letter", shape=parallelogram];
  topic_plant_site_celsius [label="plant/{{ site }}/celsius", shape=parallelogram];
  subgraph cluster_connection_plant {
    label="connection plant";
    trigger_old_temps [label="old-temps", shape=box, style="rounded,dashed", color=gray50, fontcolor=gray50];
    trigger_temps [label="temps", shape=box, style=rounded];
  }
  service_convert [label="convert", shape=box];
  topic_legacy_all -> trigger_old_temps;
  topic_plant_plus_temperature -> trigger_temps [label="$share/workers"];
  trigger_old_temps -> service_convert;
  trigger_temps -> service_convert;
  trigger_temps -> topic_plant_dead_letter [label="onError", style=dotted];
  service_convert -> topic_plant_site_celsius;
}
`);
  });
});

const CONNECTIONS = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
  legacy:
    url: mqtt://127.0.0.1:1884
    enabled: false
  archive:
    url: mqtt://127.0.0.1:1885
`;

const TRIGGERS = `triggers:
  temps:
    connection: plant
    topic: [plant/+/sensors/+/temperature, plant/+/sensors/+/humidity]
    service: normalize
    onError:
      publish: { topic: plant/dead-letter/temperature, connection: archive }
  batches:
    connection: plant
    topic: plant/+/batches
    share: batchers
    service: split-batch
    onError:
      service: record-failure
  doors:
    connection: legacy
    topic: doors/#
    service: record-door
  old-temps:
    connection: plant
    topic: plant/old/#
    service: normalize
    enabled: false
    onError:
      suspend: { resumeAfter: 1m }
`;

const SERVICES = `services:
  normalize:
    steps:
      - set: { site: '$wildcards[0]' }
      - publish:
          topic: plant/{{ $site }}/normalized/{{ device }}
      - invoke: check
      - choice:
          - when: celsius >= 90
            steps:
              - publish: { topic: 'plant/{{ $site }}/alerts/critical', retain: true }
          - when: 'device = "oven-3" and celsius < 10 and $exists(ts) and $string(ts) != "0"'
            steps:
              - invoke: { service: raise, payload: '{ "device": device }' }
          - otherwise:
              - publish: { topic: archive/normal, connection: archive }
  check:
    steps:
      - publish:
          topic: 'alerts/{{ $uppercase("hi") }}'
  split-batch:
    steps:
      - split:
          items: readings
          steps:
            - choice:
                - when: bar > 10
                  steps:
                    - publish: { topic: 'plant/{{ $wildcards[0] }}/pressure/high' }
            - publish:
                topic: 'plant/{{   $wildcards[0] }}/pressure/{{ deviceId }}'
  record-failure:
    steps:
      - publish: { topic: plant/dead-letter/batches }
  raise:
    steps:
      - publish: { topic: plant/dead-letter/batches }
  record-door:
    steps:
      - log: door
`;

describe('mqflow graph: a folder with every kind of route', () => {
  const big = model({ files: { 'connections.yaml': CONNECTIONS, 'triggers.yaml': TRIGGERS, 'services.yaml': SERVICES } });
  const graph = flowGraph(big);
  const id = (kind: string, label: string): string => {
    const node = graph.nodes.find((n) => n.kind === kind && n.lines[0] === label);
    expect(node, `${kind} ${label}`).toBeDefined();
    return node!.id;
  };
  const edge = (from: string, to: string): GraphEdge[] => graph.edges.filter((e) => e.from === from && e.to === to);

  it('has one node per topic, trigger and service, with valid unique ids', () => {
    const ids = graph.nodes.map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const i of [...ids, ...graph.groups.map((g) => g.id)]) expect(i).toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
    expect(graph.nodes.filter((n) => n.kind === 'trigger').map((n) => n.lines[0])).toEqual(['doors', 'batches', 'old-temps', 'temps']);
    expect(graph.nodes.filter((n) => n.kind === 'service').map((n) => n.lines[0])).toEqual(['check', 'normalize', 'raise', 'record-door', 'record-failure', 'split-batch']);
    expect(graph.nodes.filter((n) => n.kind === 'topic').map((n) => n.lines[0])).toEqual([
      'alerts/{{ $uppercase("hi") }}',
      'archive/normal',
      'doors/#',
      'plant/+/batches',
      'plant/+/sensors/+/humidity',
      'plant/+/sensors/+/temperature',
      'plant/dead-letter/batches',
      'plant/dead-letter/temperature',
      'plant/old/#',
      'plant/{{ $site }}/alerts/critical',
      'plant/{{ $site }}/normalized/{{ device }}',
      'plant/{{ $wildcards[0] }}/pressure/high',
      'plant/{{ $wildcards[0] }}/pressure/{{ deviceId }}',
    ]);
    for (const e of graph.edges) {
      expect(ids).toContain(e.from);
      expect(ids).toContain(e.to);
    }
  });

  it('draws wildcard filters and shared subscriptions into their triggers', () => {
    expect(edge(id('topic', 'plant/+/sensors/+/temperature'), id('trigger', 'temps'))).toEqual([expect.objectContaining({ kind: 'subscribe' })]);
    expect(edge(id('topic', 'plant/+/sensors/+/humidity'), id('trigger', 'temps'))).toHaveLength(1);
    expect(edge(id('topic', 'doors/#'), id('trigger', 'doors'))).toHaveLength(1);
    expect(edge(id('topic', 'plant/+/batches'), id('trigger', 'batches'))).toEqual([{ from: 'topic_plant_plus_batches', to: 'trigger_batches', kind: 'subscribe', label: '$share/batchers' }]);
  });

  it('follows invokes, choice branches and split bodies to every publish', () => {
    const normalize = id('service', 'normalize');
    expect(edge(normalize, id('service', 'check'))).toEqual([expect.objectContaining({ kind: 'invoke', label: 'invoke' })]);
    expect(edge(normalize, id('service', 'raise'))).toEqual([expect.objectContaining({ kind: 'invoke', label: 'invoke, when device = "oven-3" and celsius < 10 and…' })]);
    expect(edge(normalize, id('topic', 'plant/{{ $site }}/normalized/{{ device }}'))).toEqual([expect.objectContaining({ kind: 'publish' })]);
    expect(edge(normalize, id('topic', 'plant/{{ $site }}/normalized/{{ device }}'))[0]!.label).toBeUndefined();
    expect(edge(normalize, id('topic', 'plant/{{ $site }}/alerts/critical'))[0]!.label).toBe('when celsius >= 90');
    expect(edge(normalize, id('topic', 'archive/normal'))[0]!.label).toBe('otherwise, via archive');
    const split = id('service', 'split-batch');
    expect(edge(split, id('topic', 'plant/{{ $wildcards[0] }}/pressure/high'))[0]!.label).toBe('each readings, when bar > 10');
    expect(edge(split, id('topic', 'plant/{{ $wildcards[0] }}/pressure/{{ deviceId }}'))[0]!.label).toBe('each readings');
    expect(edge(id('service', 'check'), id('topic', 'alerts/{{ $uppercase("hi") }}'))).toHaveLength(1);
    // Two services publishing to one topic share its node.
    const deadLetter = id('topic', 'plant/dead-letter/batches');
    expect(graph.edges.filter((e) => e.to === deadLetter).map((e) => e.from)).toEqual(['service_raise', 'service_record_failure']);
  });

  it('draws the error routes: publish, service and suspend', () => {
    expect(edge(id('trigger', 'temps'), id('topic', 'plant/dead-letter/temperature'))).toEqual([expect.objectContaining({ kind: 'error', label: 'onError, via archive' })]);
    expect(edge(id('trigger', 'batches'), id('service', 'record-failure'))).toEqual([expect.objectContaining({ kind: 'error', label: 'onError' })]);
    expect(edge(id('trigger', 'batches'), id('service', 'split-batch'))).toEqual([expect.objectContaining({ kind: 'runs' })]);
    expect(graph.nodes.find((n) => n.lines[0] === 'old-temps')!.lines).toEqual(['old-temps', 'onError: suspend 1m']);
  });

  it('marks disabled triggers, and triggers on a disabled connection, as disabled', () => {
    const disabled = (name: string): boolean => graph.nodes.find((n) => n.kind === 'trigger' && n.lines[0] === name)!.disabled;
    expect(['temps', 'batches', 'old-temps', 'doors'].map(disabled)).toEqual([false, false, true, true]);
    // Only connections with triggers are boxes.
    expect(graph.groups).toEqual([
      { id: 'connection_legacy', label: 'connection legacy', disabled: true },
      { id: 'connection_plant', label: 'connection plant', disabled: false },
    ]);
    const mermaid = renderMermaid(graph);
    expect(mermaid).toContain('    trigger_doors(["doors"]):::disabled\n');
    expect(mermaid).toContain('    trigger_old_temps(["old-temps<br/>onError: suspend 1m"]):::disabled\n');
    expect(mermaid).toContain('    trigger_temps(["temps"])\n');
    expect(mermaid).toContain('  class connection_legacy disabled\n');
    expect(mermaid).toContain('  service_normalize -->|"invoke, when device = #quot;oven-3#quot; and celsius #lt; 10 and…"| service_raise\n');
    const dot = renderDot(graph);
    expect(dot).toContain('  subgraph cluster_connection_legacy {\n    label="connection legacy";\n    style=dashed;\n');
    expect(dot).toContain('trigger_doors [label="doors", shape=box, style="rounded,dashed", color=gray50, fontcolor=gray50];');
    expect(dot).toContain('trigger_old_temps [label="old-temps\\nonError: suspend 1m", shape=box, style="rounded,dashed", color=gray50, fontcolor=gray50];');
    expect(dot).toContain('topic_alerts_uppercase_hi [label="alerts/{{ $uppercase(\\"hi\\") }}", shape=parallelogram];');
    expect(dot).toContain('  trigger_temps -> topic_plant_dead_letter_temperature [label="onError, via archive", style=dotted];\n');
  });

  it('does not depend on the order of files and definitions', () => {
    const reordered = (text: string): string => {
      const [head, ...blocks] = text.split(/\n(?= {2}\S)/);
      return `${[head, ...blocks.reverse()].join('\n')}\n`;
    };
    const other = model({ files: { 'c.yaml': reordered(SERVICES), 'b.yaml': reordered(TRIGGERS), 'a.yaml': reordered(CONNECTIONS) } });
    expect(renderMermaid(flowGraph(other))).toBe(renderMermaid(graph));
    expect(renderDot(flowGraph(other))).toBe(renderDot(graph));
  });
});

describe('mqflow graph: names and text', () => {
  it('keeps ids unique when names differ only in punctuation', () => {
    const graph: FlowGraph = flowGraph(
      model({
        files: {
          'a.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  a-b:
    connection: plant
    topic: [a/b, a-b, a/+/b]
    service: a_b
  a_b:
    connection: plant
    topic: a_b
    service: a-b
services:
  a-b:
    steps: [{ publish: { topic: a/b } }]
  a_b:
    steps: [{ log: x }]
`,
        },
      }),
    );
    expect(graph.nodes.map((n) => [n.id, n.lines[0]])).toEqual([
      ['topic_a_b', 'a-b'],
      ['topic_a_plus_b', 'a/+/b'],
      ['topic_a_b_2', 'a/b'],
      ['topic_a_b_3', 'a_b'],
      ['trigger_a_b', 'a-b'],
      ['trigger_a_b_2', 'a_b'],
      ['service_a_b', 'a-b'],
      ['service_a_b_2', 'a_b'],
    ]);
    // A topic both subscribed and published is one node.
    expect(graph.edges).toContainEqual({ from: 'service_a_b', to: 'topic_a_b_2', kind: 'publish' });
    expect(graph.edges).toContainEqual({ from: 'topic_a_b_2', to: 'trigger_a_b', kind: 'subscribe' });
  });

  it('shows values resolved from ${env:…} as [secret], as the logs do', () => {
    const graph = flowGraph(
      model({
        env: { SITE: 'north-site' },
        files: {
          'a.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  t:
    connection: plant
    topic: \${env:SITE}/+/temperature
    service: s
services:
  s:
    steps: [{ publish: { topic: 'out/\${env:SITE}/{{ device }}' } }]
`,
        },
      }),
    );
    const text = renderMermaid(graph) + renderDot(graph);
    expect(text).not.toContain('north');
    expect(graph.nodes.filter((n) => n.kind === 'topic').map((n) => [n.id, n.lines[0]])).toEqual([
      ['topic_secret_plus_temperature', '[secret]/+/temperature'],
      ['topic_out_secret_device', 'out/[secret]/{{ device }}'],
    ]);
  });

  it('escapes what Mermaid would read as markup, and nothing else', () => {
    expect(mermaidText('plant/+/{{ $lookup(sites, "a") }}/#')).toBe('plant/+/{{ $lookup(sites, #quot;a#quot;) }}/#');
    expect(mermaidText('a < b & c > d')).toBe('a #lt; b #amp; c > d');
    expect(mermaidText('x#amp;y `z`')).toBe('x#35;amp;y #96;z#96;');
  });
});

describe('mqflow graph: HTTP endpoints and the APIs services call', () => {
  const graph = flowGraph(
    model({
      files: {
        'http.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
listeners:
  hooks:
    port: 8081
endpoints:
  door:
    listener: hooks
    path: /hooks/doors/{door}
    service: door
    onError:
      publish: { topic: plant/dead-letter }
services:
  door:
    steps:
      - choice:
          - when: $wildcards[0] = "main"
            steps:
              - http:
                  method: POST
                  url: https://alarm.example.com/doors/{{ $wildcards[0] }}
      - respond:
          status: 202
`,
      },
    }),
  );

  it('draws an endpoint in the box of its listener with its method and path, and each API a service calls', () => {
    expect(graph.groups).toEqual([{ id: 'listener_hooks', label: 'listener hooks :8081', disabled: false }]);
    expect(graph.nodes.find((n) => n.id === 'endpoint_door')).toEqual({ id: 'endpoint_door', kind: 'trigger', lines: ['door', 'POST /hooks/doors/{door}'], group: 'listener_hooks', disabled: false });
    const api = graph.nodes.find((n) => n.kind === 'api')!;
    expect(api.lines).toEqual(['POST https://alarm.example.com/doors/{{ $wildcards[0] }}']);
    expect(graph.edges).toEqual([
      { from: 'endpoint_door', to: 'service_door', kind: 'runs' },
      { from: 'endpoint_door', to: 'topic_plant_dead_letter', kind: 'error', label: 'onError' },
      { from: 'service_door', to: api.id, kind: 'calls', label: 'when $wildcards[0] = "main"' },
    ]);
    expect(renderMermaid(graph)).toContain(`${api.id}{{"POST https://alarm.example.com/doors/{{ $wildcards[0] }}"}}`);
    expect(renderDot(graph)).toContain(`${api.id} [label="POST https://alarm.example.com/doors/{{ $wildcards[0] }}", shape=hexagon];`);
  });
});

describe('mqflow graph: schedules', () => {
  it('draws each schedule with when it fires, in a box of schedules, running its service', () => {
    const graph = flowGraph(
      model({
        files: {
          's.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
schedules:
  beat:
    every: 30s
    service: beat
  report:
    cron: 0 6 * * MON-FRI
    timezone: Europe/Berlin
    service: beat
services:
  beat:
    steps:
      - publish:
          topic: plant/beat
`,
        },
      }),
    );
    expect(graph.groups).toContainEqual({ id: 'schedules', label: 'schedules', disabled: false });
    expect(graph.nodes.filter((n) => n.group === 'schedules').map((n) => n.lines)).toEqual([
      ['beat', 'every 30s'],
      ['report', 'cron 0 6 * * MON-FRI Europe/Berlin'],
    ]);
    expect(graph.edges.filter((e) => e.kind === 'runs')).toEqual([
      { from: 'schedule_beat', to: 'service_beat', kind: 'runs' },
      { from: 'schedule_report', to: 'service_beat', kind: 'runs' },
    ]);
  });
});

describe('mqflow graph: request and reply', () => {
  it('labels the edge of a request and of a reply, the reply drawn to the topics allow permits', () => {
    const graph = flowGraph(
      model({
        files: {
          'rr.yaml': `connections:
  plant:
    url: mqtt://127.0.0.1:1883
    protocolVersion: 5
services:
  ask:
    steps:
      - request:
          topic: devices/{{ device }}/get
  answer:
    steps:
      - reply:
          allow: replies/#
`,
        },
      }),
    );
    expect(graph.edges.filter((e) => e.kind === 'publish').map((e) => [e.from, e.to, e.label])).toEqual([
      ['service_answer', 'topic_replies_all', 'reply'],
      ['service_ask', 'topic_devices_device_get', 'request'],
    ]);
  });
});
