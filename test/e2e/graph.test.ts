/** `mqflow graph`: the example flows as a diagram, as a user runs it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mqflow, repoRoot } from '../support/cli.js';

// The diagram shown in README.md and docs/running.md: keep them in step with this.
const EXAMPLES = `flowchart LR
  topic_plant_plus_batches[/"plant/+/batches"/]
  topic_plant_plus_sensors_plus_temperature[/"plant/+/sensors/+/temperature"/]
  topic_plant_dead_letter_batches[/"plant/dead-letter/batches"/]
  topic_plant_dead_letter_temperature[/"plant/dead-letter/temperature"/]
  topic_plant_site_pressure_deviceId[/"plant/{{ $site }}/pressure/{{ deviceId }}"/]
  topic_plant_site_alerts_critical[/"plant/{{ site }}/alerts/critical"/]
  topic_plant_site_alerts_warning[/"plant/{{ site }}/alerts/warning"/]
  topic_plant_site_normalized_device_temperature[/"plant/{{ site }}/normalized/{{ device }}/temperature"/]
  subgraph connection_plant ["connection plant"]
    trigger_batches_in(["batches-in"])
    trigger_temperature_in(["temperature-in"])
  end
  service_check_thresholds["check-thresholds"]
  service_normalize_temperature["normalize-temperature"]
  service_record_failure["record-failure"]
  service_split_batch["split-batch"]
  topic_plant_plus_batches --> trigger_batches_in
  topic_plant_plus_sensors_plus_temperature --> trigger_temperature_in
  trigger_batches_in --> service_split_batch
  trigger_batches_in -.->|"onError"| service_record_failure
  trigger_temperature_in --> service_normalize_temperature
  trigger_temperature_in -.->|"onError"| topic_plant_dead_letter_temperature
  service_check_thresholds -->|"when celsius >= 90"| topic_plant_site_alerts_critical
  service_check_thresholds -->|"when celsius >= 70"| topic_plant_site_alerts_warning
  service_normalize_temperature -->|"invoke"| service_check_thresholds
  service_normalize_temperature --> topic_plant_site_normalized_device_temperature
  service_record_failure --> topic_plant_dead_letter_batches
  service_split_batch -->|"each readings"| topic_plant_site_pressure_deviceId
`;

describe('mqflow graph', () => {
  it('prints the example flows as a Mermaid flowchart (exit 0)', () => {
    const r = mqflow(['graph', 'flows/']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(EXAMPLES);
    expect(r.status).toBe(0);
  });

  it('is the diagram shown in README.md and docs/running.md', () => {
    for (const doc of ['README.md', 'docs/running.md']) expect(readFileSync(join(repoRoot, doc), 'utf8'), doc).toContain(`\`\`\`mermaid\n${EXAMPLES}\`\`\`\n`);
  });

  it('draws ./flows when no folder is given, and --format mermaid is the default', () => {
    const r = mqflow(['graph', '--format', 'mermaid']);
    expect(r.stdout).toBe(EXAMPLES);
    expect(r.status).toBe(0);
  });

  it('prints a Graphviz digraph with --format dot', () => {
    const r = mqflow(['graph', 'flows/', '--format', 'dot']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('digraph mqflow {');
    expect(lines.at(-1)).toBe('}');
    expect(lines).toContain('  topic_plant_plus_sensors_plus_temperature [label="plant/+/sensors/+/temperature", shape=parallelogram];');
    expect(lines).toContain('  subgraph cluster_connection_plant {');
    expect(lines).toContain('    trigger_temperature_in [label="temperature-in", shape=box, style=rounded];');
    expect(lines).toContain('  service_normalize_temperature -> service_check_thresholds [label="invoke"];');
    expect(lines).toContain('  trigger_temperature_in -> topic_plant_dead_letter_temperature [label="onError", style=dotted];');
    // Balanced braces, every statement ends with ";", and every edge joins declared nodes.
    expect(r.stdout.split('{').length).toBe(r.stdout.split('}').length);
    const body = lines.slice(1, -1).filter((l) => !/^\s*(subgraph \w+ \{|\})$/.test(l));
    for (const line of body) expect(line).toMatch(/;$/);
    const declared = new Set(body.flatMap((l) => /^\s*(\w+) \[label=/.exec(l)?.[1] ?? []));
    const edges = body.flatMap((l) => (/^\s*(\w+) -> (\w+)/.exec(l) ?? []).slice(1));
    expect(edges.length).toBe(2 * 12);
    for (const node of edges) expect(declared).toContain(node);
  });

  it('prints the problems of an invalid folder at file:line:col on stderr and exits 1', () => {
    const r = mqflow(['graph', 'test/fixtures/invalid/trigger-unknown-service']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'test/fixtures/invalid/trigger-unknown-service/plant.yaml:9:5 error: triggers.temperature-in.service: no service named "normalise-temperature" (did you mean "normalize-temperature"?)\n' +
        'test/fixtures/invalid/trigger-unknown-service: 1 error; no graph\n',
    );
    expect(r.status).toBe(1);
  });

  it('exits 2 on a usage error', () => {
    const bad = mqflow(['graph', 'flows/', '--format', 'svg']);
    expect(bad.stderr).toContain('--format must be mermaid or dot (got svg)');
    expect(bad.stdout).toBe('');
    expect(bad.status).toBe(2);
    expect(mqflow(['graph', 'no-such-folder']).status).toBe(2);
    expect(mqflow(['graph', 'flows/', 'flows/']).status).toBe(2);
  });
});
