/** The reload plan on its own: pure diffs of two compiled models (docs/architecture.md, "Hot reload"). */
import { describe, expect, it } from 'vitest';
import { describePlan, isEmptyPlan, planCounts, planReload, type ReloadPlan } from '../../../src/engine/plan.js';
import type { FlowModel } from '../../../src/flow/model.js';
import { buildMemory } from '../flow/helpers.js';

const CONNECTIONS = `connections:
  plant:
    url: mqtt://127.0.0.1:1883
    username: mqflow
    password: \${env:PLANT_PASSWORD}
  legacy:
    url: mqtt://127.0.0.1:1884
`;

const TRIGGERS = `triggers:
  temps:
    connection: plant
    topic: [plant/+/temperature, plant/+/humidity]
    qos: 1
    service: normalize
  doors:
    connection: legacy
    topic: doors/#
    service: normalize
`;

const SERVICES = `services:
  normalize:
    steps:
      - transform: '{"celsius": (temp_f - 32) * 5 / 9}'
      - publish:
          topic: out/celsius
  archive:
    steps:
      - publish:
          topic: archive
`;

interface Folder {
  connections?: string;
  triggers?: string;
  services?: string;
  env?: Record<string, string>;
}

function model(folder: Folder = {}): FlowModel {
  const result = buildMemory({
    files: { 'connections.yaml': folder.connections ?? CONNECTIONS, 'triggers.yaml': folder.triggers ?? TRIGGERS, 'services.yaml': folder.services ?? SERVICES },
    env: folder.env ?? { PLANT_PASSWORD: 'hunter22' },
  });
  if (result.model === undefined) throw new Error(result.text.join('\n'));
  return result.model;
}

const plan = (before: Folder, after: Folder): ReloadPlan => planReload(model(before), model(after));

describe('planReload', () => {
  it('plans nothing for the same folder, or for edits that move or reformat definitions', () => {
    expect(isEmptyPlan(plan({}, {}))).toBe(true);
    const reformatted = `# comments and layout do not count\n\n${TRIGGERS.replace('topic: [plant/+/temperature, plant/+/humidity]', 'topic:\n      - plant/+/temperature\n      - plant/+/humidity')}`;
    expect(isEmptyPlan(plan({}, { triggers: reformatted }))).toBe(true);
    // Writing a default explicitly changes nothing that runs.
    expect(isEmptyPlan(plan({}, { triggers: TRIGGERS.replace('service: normalize\n  doors', 'service: normalize\n    processing: serial\n  doors') }))).toBe(true);
  });

  it('a changed service is swapped; its triggers and connections are untouched', () => {
    const p = plan({}, { services: SERVICES.replace('/ 9', '/ 9.0 + 0') });
    expect(p.services.changed).toEqual(['normalize']);
    expect(p.triggers.changed).toEqual([]);
    expect(p.connections.changed).toEqual([]);
    expect(describePlan(p)).toEqual(['~ service normalize']);
  });

  it('a trigger whose service or processing changed is updated in place', () => {
    const p = plan({}, { triggers: TRIGGERS.replace('service: normalize\n  doors', 'service: archive\n    processing: concurrent\n  doors') });
    expect(p.triggers.changed).toEqual([{ name: 'temps', fields: ['service', 'processing'], action: 'update', subscribe: [], unsubscribe: [] }]);
    expect(describePlan(p)).toEqual(['~ trigger temps (service, processing: in place)']);
  });

  it('changed topic filters resubscribe only the difference', () => {
    const p = plan({}, { triggers: TRIGGERS.replace('[plant/+/temperature, plant/+/humidity]', '[plant/+/temperature, plant/+/pressure]') });
    expect(p.triggers.changed).toEqual([{ name: 'temps', fields: ['topic'], action: 'resubscribe', subscribe: ['plant/+/pressure'], unsubscribe: ['plant/+/humidity'] }]);
    expect(describePlan(p)).toEqual(['~ trigger temps (topic: +plant/+/pressure -plant/+/humidity)']);
  });

  it('a changed qos resubscribes every filter at the new qos; share changes the subscriptions sent', () => {
    const qos = plan({}, { triggers: TRIGGERS.replace('qos: 1', 'qos: 2') });
    expect(qos.triggers.changed[0]).toMatchObject({ action: 'resubscribe', subscribe: ['plant/+/temperature', 'plant/+/humidity'], unsubscribe: [] });
    const shared = plan({}, { triggers: TRIGGERS.replace('qos: 1', 'qos: 1\n    share: workers') });
    expect(shared.triggers.changed[0]).toMatchObject({
      action: 'resubscribe',
      subscribe: ['$share/workers/plant/+/temperature', '$share/workers/plant/+/humidity'],
      unsubscribe: ['plant/+/temperature', 'plant/+/humidity'],
    });
  });

  it('a trigger restarts when its connection, queueSize or ack changed', () => {
    const moved = plan({}, { triggers: TRIGGERS.replace('connection: plant', 'connection: legacy') });
    expect(moved.triggers.changed[0]).toMatchObject({ name: 'temps', action: 'restart', reason: 'connection changed' });
    const queue = plan({}, { triggers: TRIGGERS.replace('qos: 1', 'qos: 1\n    queueSize: 10') });
    expect(queue.triggers.changed[0]).toMatchObject({ action: 'restart', reason: 'queueSize changed' });
  });

  it('a changed connection reconnects, and restarts the triggers on it; a rotated secret counts, and is never shown', () => {
    const p = plan({}, { env: { PLANT_PASSWORD: 'correct-horse' } });
    expect(p.connections.changed).toEqual([{ name: 'plant', fields: ['password'], reconnect: true }]);
    expect(p.triggers.changed).toEqual([{ name: 'temps', fields: [], action: 'restart', subscribe: [], unsubscribe: [], reason: 'connection plant changed' }]);
    const text = describePlan(p).join('\n');
    expect(text).toBe('~ connection plant (password: reconnects)\n~ trigger temps (restarts, connection plant changed)');
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain('correct-horse');
  });

  it('a description-only change touches nothing that runs', () => {
    const p = plan({}, { connections: CONNECTIONS.replace('  legacy:\n', '  legacy:\n    description: the old broker\n') });
    expect(p.connections.changed).toEqual([{ name: 'legacy', fields: ['description'], reconnect: false }]);
    expect(p.triggers.changed).toEqual([]);
  });

  it('adds and removes by name; disabling is removing, enabling is adding, with the reason', () => {
    const added = plan({}, { triggers: `${TRIGGERS}  alarms:\n    connection: plant\n    topic: alarms/#\n    service: archive\n` });
    expect(added.triggers.added).toEqual([{ name: 'alarms' }]);
    const removed = plan({}, { triggers: TRIGGERS.replace(/ {2}doors:[\s\S]*$/, '') });
    expect(removed.triggers.removed).toEqual([{ name: 'doors' }]);
    const disabled = plan({}, { connections: CONNECTIONS.replace('  legacy:\n', '  legacy:\n    enabled: false\n') });
    expect(disabled.connections.removed).toEqual([{ name: 'legacy', reason: 'disabled' }]);
    expect(disabled.triggers.removed).toEqual([{ name: 'doors', reason: 'connection legacy disabled' }]);
    expect(describePlan(disabled)).toEqual(['- connection legacy (disabled)', '- trigger doors (connection legacy disabled)']);
    const enabled = planReload(model({ connections: CONNECTIONS.replace('  legacy:\n', '  legacy:\n    enabled: false\n') }), model());
    expect(enabled.connections.added).toEqual([{ name: 'legacy', reason: 'enabled' }]);
    expect(enabled.triggers.added).toEqual([{ name: 'doors', reason: 'connection legacy enabled' }]);
    expect(planCounts(enabled)).toEqual({ added: 2, changed: 0, removed: 0 });
  });

  it('lists connections, then triggers, then services; within each, added, changed, removed', () => {
    const p = plan(
      {},
      {
        connections: `${CONNECTIONS.replace('url: mqtt://127.0.0.1:1884', 'url: mqtt://127.0.0.1:1885')}  extra:\n    url: mqtt://127.0.0.1:1886\n`,
        services: SERVICES.replace(/ {2}archive:[\s\S]*$/, '  audit:\n    steps:\n      - publish:\n          topic: audit\n'),
        triggers: TRIGGERS.replace('service: normalize\n  doors', 'service: audit\n  doors'),
      },
    );
    expect(describePlan(p)).toEqual([
      '+ connection extra',
      '~ connection legacy (url: reconnects)',
      '~ trigger doors (restarts, connection legacy changed)',
      '~ trigger temps (service: in place)',
      '+ service audit',
      '- service archive',
    ]);
  });

  describe('state (invariant 40)', () => {
    const STORES = `stores:
  seen:
    type: disk
    path: /var/lib/mqflow/seen
  scratch:
    type: memory
`;
    const stateful = (steps: string): string => `services:
  normalize:
    steps:
${steps}      - publish:
          topic: out/celsius
  archive:
    steps:
      - publish:
          topic: archive
`;
    const DEDUPE = '      - dedupe:\n          key: id\n          store: seen\n      - changed:\n          value: temp_f\n          store: scratch\n';
    const withStores = (steps: string, stores = STORES): Folder => ({ connections: `${CONNECTIONS}${stores}`, services: stateful(steps) });

    it('keeps state across a change elsewhere in the service', () => {
      const p = plan(withStores(DEDUPE), withStores(`${DEDUPE}      - log: changed\n`));
      expect(p.stateResets).toEqual([]);
      expect(p.stores).toEqual({ added: [], removed: [], changed: [] });
    });

    it('says which steps lose their state: a step that moved, a memory store opened again, a store removed', () => {
      const moved = plan(withStores(DEDUPE), withStores(`      - log: first\n${DEDUPE}`));
      expect(describePlan(moved).filter((l) => l.startsWith('!'))).toEqual([
        '! state of services.normalize.steps[0] (dedupe) resets: no dedupe step uses namespace services.normalize.steps[0] of store seen any more (name the namespace to keep state when a step moves)',
        '! state of services.normalize.steps[1] (changed) resets: no changed step uses namespace services.normalize.steps[1] of store scratch any more (name the namespace to keep state when a step moves)',
      ]);
      const named = DEDUPE.replace('store: seen\n', 'store: seen\n          namespace: readings\n');
      expect(plan(withStores(named), withStores(`      - log: first\n${named}`)).stateResets.map((r) => r.kind)).toEqual(['changed']);

      const reopened = plan(withStores(DEDUPE), withStores(DEDUPE, STORES.replace('type: memory', 'type: memory\n    maxEntries: 10')));
      expect(reopened.stores.changed).toEqual(['scratch']);
      expect(describePlan(reopened)).toContain('~ store scratch (opened again)');
      expect(reopened.stateResets).toEqual([{ step: 'services.normalize.steps[1]', kind: 'changed', reason: 'store scratch is opened again (a memory store starts empty)' }]);

      // A disk store with another size limit keeps its files: its state is kept.
      expect(plan(withStores(DEDUPE), withStores(DEDUPE, STORES.replace('path: /var/lib/mqflow/seen', 'path: /var/lib/mqflow/seen\n    maxSizeMB: 10'))).stateResets).toEqual([]);
    });
  });

  it('a changed or removed window closes its open windows now, and says so', () => {
    const window = (every: string): string => `windows:
  per-minute:
    tumbling: ${every}
    steps:
      - publish:
          connection: plant
          topic: out/minutely
`;
    const folder = (every: string | undefined): Folder => ({ connections: every === undefined ? CONNECTIONS : `${CONNECTIONS}${window(every)}` });
    expect(isEmptyPlan(plan(folder('1m'), folder('1m')))).toBe(true);
    expect(describePlan(plan(folder('1m'), folder('2m')))).toEqual(['~ window per-minute (its open windows close now)']);
    expect(describePlan(plan(folder('1m'), folder(undefined)))).toEqual(['- window per-minute (its open windows close now)']);
    expect(describePlan(plan(folder(undefined), folder('1m')))).toEqual(['+ window per-minute']);
    // Kept in a disk store: the new version finds its open windows there.
    const stored = (every: string): Folder => ({ connections: `${CONNECTIONS}stores:\n  files:\n    type: disk\n    path: /var/lib/mqflow/w\n${window(every).replace('    steps:', '    store: files\n    steps:')}` });
    expect(describePlan(plan(stored('1m'), stored('2m')))).toEqual(['~ window per-minute (its open windows stay in its store)']);
  });
});
