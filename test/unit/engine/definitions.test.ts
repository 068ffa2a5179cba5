/**
 * The definitions document (GET /api/definitions) and the model made back from it: a plan from
 * the document of one version to the document of another is the plan of the two folders
 * (invariant 65), and no secret value is in the document.
 */
import { describe, expect, it } from 'vitest';
import { comparableModel, definitionsOf, isDefinitionsDocument } from '../../../src/engine/definitions.js';
import { isEmptyPlan, planReload } from '../../../src/engine/plan.js';
import { versionIdOf } from '../../../src/engine/version-id.js';
import type { FlowModel } from '../../../src/flow/model.js';
import { buildMemory } from '../flow/helpers.js';

const PASSWORD = 'hunter22-secret-value';

const BASE: Record<string, string> = {
  'connections.yaml': `connections:
  plant:
    url: \${env:MQTT_URL}
    username: mqflow
    password: \${env:PLANT_PASSWORD}
  legacy:
    url: mqtt://127.0.0.1:1884
stores:
  disk1:
    type: disk
    path: /var/lib/mqflow/state
`,
  'triggers.yaml': `triggers:
  temps:
    connection: plant
    topic: [plant/+/temperature, plant/+/humidity]
    qos: 1
    service: normalize
  doors:
    connection: legacy
    topic: doors/#
    service: once
windows:
  per-minute:
    key: device
    tumbling: 1m
    aggregate:
      average: { average: celsius }
    steps:
      - publish:
          connection: plant
          topic: minutely/{{ key }}
`,
  'services.yaml': `services:
  normalize:
    steps:
      - transform: '{"celsius": (temp_f - 32) * 5 / 9}'
      - collect: per-minute
      - publish:
          topic: out/celsius
  once:
    steps:
      - dedupe:
          key: id
          window: 1h
      - publish:
          topic: doors/once
`,
};

const ENV = { MQTT_URL: 'mqtt://127.0.0.1:1883', PLANT_PASSWORD: PASSWORD };

function model(edit: (files: Record<string, string>) => void = () => {}, env: Record<string, string> = ENV): FlowModel {
  const files = { ...BASE };
  edit(files);
  const result = buildMemory({ files, env });
  if (result.model === undefined) throw new Error(result.text.join('\n'));
  return result.model;
}

const replace = (file: string, from: string, to: string) => (files: Record<string, string>) => {
  if (!files[file]!.includes(from)) throw new Error(`${from} is not in ${file}`);
  files[file] = files[file]!.replace(from, to);
};

/** The plan through two documents, as `mqflow plan --against` makes it. */
function remotePlan(before: FlowModel, after: FlowModel): ReturnType<typeof planReload> {
  const running = JSON.parse(JSON.stringify(definitionsOf(before))) as ReturnType<typeof definitionsOf>;
  return planReload(comparableModel(running), comparableModel(definitionsOf(after, running.secretSalt)));
}

describe('plan against a definitions document', () => {
  const edits: [string, (files: Record<string, string>) => void, Record<string, string>?][] = [
    ['nothing', () => {}],
    ['a moved definition', replace('triggers.yaml', 'triggers:\n', 'triggers:\n\n\n')],
    ['a changed password (a secret)', () => {}, { ...ENV, PLANT_PASSWORD: 'another-password-42' }],
    ['a changed URL from the environment', () => {}, { ...ENV, MQTT_URL: 'mqtt://10.0.0.9:1883' }],
    ['a topic added', replace('triggers.yaml', 'plant/+/humidity]', 'plant/+/humidity, plant/+/pressure]')],
    ['qos changed', replace('triggers.yaml', 'qos: 1', 'qos: 0')],
    ['a trigger moved to another connection', replace('triggers.yaml', 'connection: legacy', 'connection: plant')],
    ['a description only', replace('connections.yaml', '  legacy:\n', '  legacy:\n    description: the old broker\n')],
    ['a connection disabled', replace('connections.yaml', '  legacy:\n', '  legacy:\n    enabled: false\n')],
    ['a service step changed', replace('services.yaml', 'out/celsius', 'out/celsius2')],
    ['a dedupe namespace moved (state resets)', replace('services.yaml', 'window: 1h', 'window: 1h\n          namespace: doors')],
    ['a store moved', replace('connections.yaml', '/var/lib/mqflow/state', '/var/lib/mqflow/other')],
    ['a window changed', replace('triggers.yaml', 'tumbling: 1m', 'tumbling: 5m')],
    ['a trigger removed and a service added', (f) => {
      replace('triggers.yaml', '  doors:\n    connection: legacy\n    topic: doors/#\n    service: once\n', '')(f);
      replace('services.yaml', 'services:\n', 'services:\n  extra:\n    steps:\n      - publish:\n          topic: x\n')(f);
    }],
  ];
  it.each(edits)('gives the plan of the two folders for %s', (name, edit, env) => {
    const before = model();
    const after = model(edit, env);
    expect(remotePlan(before, after)).toEqual(planReload(before, after));
    expect(isEmptyPlan(planReload(before, after))).toBe(name === 'nothing' || name === 'a moved definition');
  });

  it('shows a changed secret as a changed field, and never its value', () => {
    const before = model();
    const after = model(() => {}, { ...ENV, PLANT_PASSWORD: 'another-password-42' });
    expect(planReload(before, after).connections.changed).toEqual([{ name: 'plant', fields: ['password'], reconnect: true }]);
    const text = JSON.stringify(definitionsOf(before));
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('127.0.0.1:1883');
    expect(text).toMatch(/"password":"\[secret:[0-9a-f]{16}\]"/);
  });

  it('carries the versionId and fingerprints, and is recognised after JSON', () => {
    const m = model();
    const doc = JSON.parse(JSON.stringify(definitionsOf(m))) as unknown;
    expect(isDefinitionsDocument(doc)).toBe(true);
    expect((doc as { versionId: string }).versionId).toBe(versionIdOf(m));
    expect((doc as { definitions: { triggers: { temps: { fingerprint: string } } } }).definitions.triggers.temps.fingerprint).toBe(m.triggers.get('temps')!.fingerprint);
    expect(versionIdOf(model(replace('triggers.yaml', 'qos: 1', 'qos: 0')))).not.toBe(versionIdOf(m));
    expect(versionIdOf(model(replace('triggers.yaml', 'triggers:\n', 'triggers:\n\n')))).toBe(versionIdOf(m));
  });
});
