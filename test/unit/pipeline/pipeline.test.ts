/**
 * Invariant 27 (docs/architecture.md): the pipeline stays synchronous while no step waits, and
 * gives the same payload, the same outputs and the same failure either way. Expressions outside
 * the compiled subset (here `$eval`) run on jsonata's asynchronous evaluator, which makes their
 * steps wait.
 */
import { describe, expect, it } from 'vitest';
import type { CaptureOutput } from '../../../src/host/output.js';
import type { MessageContext } from '../../../src/pipeline/context.js';
import { type Execution, MessageFailure } from '../../../src/pipeline/execution.js';
import { runService } from '../host/run-service.js';

const context: MessageContext = {
  topic: 'plant/north/sensors/oven-3/temperature',
  levels: ['plant', 'north', 'sensors', 'oven-3', 'temperature'],
  wildcards: ['north', 'oven-3'],
  payload: { temp_f: 212 },
  qos: 1,
  retain: false,
  dup: false,
  receivedAt: '2026-12-03T10:00:00.000Z',
  trigger: 't',
  connection: 'plant',
};

/**
 * A service of every kind of step; `wrap` may turn one expression into `$eval('…')`, which runs on
 * jsonata's evaluator. YAML scalars are double-quoted, JSONata strings single-quoted.
 */
function flows(wrap: (expression: string) => string): string {
  return `connections:
  plant:
    url: mqtt://127.0.0.1:1883
services:
  s:
    steps:
      - set:
          site: "${wrap('$wildcards[0]')}"
      - transform: "${wrap("{ 'celsius': (temp_f - 32) * 5 / 9, 'site': $site }")}"
      - filter: "${wrap('celsius > 50')}"
      - choice:
          - when: "${wrap('celsius > 90')}"
            steps:
              - transform: "$merge([$, { 'level': 'hot' }])"
          - otherwise:
              - transform: "$merge([$, { 'level': 'normal' }])"
      - split:
          items: "${wrap('[1, 2]')}"
          steps:
            - publish:
                topic: "out/{{ ${wrap('$site')} }}/{{ $item }}"
      - log: "{{ ${wrap('level')} }}"
      - publish:
          topic: "out/{{ site }}"
`;
}

/** `$eval('e')`, written inside a double-quoted YAML scalar: e's own single quotes become (escaped) double quotes. */
const evaluated = (e: string): string => `$eval('${e.replace(/'/g, '\\"')}')`;
const viaEval = (at: string) => (e: string): string => (e === at ? evaluated(e) : e);

function run(yaml: string, payload: unknown = context.payload): { outcome: unknown; exec: Execution; output: CaptureOutput } {
  const { outcome, thrown, exec, output } = runService(yaml, { ...context, payload });
  return { outcome: thrown === undefined ? outcome : { thrown }, exec, output };
}

describe('the pipeline (invariant 27)', () => {
  it('runs compiled steps synchronously: no promise, the payload and outputs at once', () => {
    const { outcome, exec, output } = run(flows((e) => e));
    expect(outcome).toBe('continue');
    expect(exec.payload).toEqual({ celsius: 100, site: 'north', level: 'hot' });
    expect(output.sent.map((s) => s.message.topic)).toEqual(['out/north/1', 'out/north/2', 'out/north']);
  });

  it('gives the same payload and outputs, in the same order, when one step must wait', async () => {
    for (const at of ['$wildcards[0]', "{ 'celsius': (temp_f - 32) * 5 / 9, 'site': $site }", 'celsius > 50', 'celsius > 90', '[1, 2]', '$site', 'level']) {
      const { outcome, exec, output } = run(flows(viaEval(at)));
      expect(outcome, at).toBeInstanceOf(Promise);
      expect(await outcome).toBe('continue');
      expect(exec.payload, at).toEqual({ celsius: 100, site: 'north', level: 'hot' });
      expect(output.sent.map((s) => s.message.topic), at).toEqual(['out/north/1', 'out/north/2', 'out/north']);
    }
  });

  it('fails the same way whichever engine runs the failing expression (a failure carries jsonata\'s message, which comes asynchronously)', async () => {
    const failing = (wrap: (e: string) => string): string => `connections:
  plant:
    url: mqtt://127.0.0.1:1883
services:
  s:
    steps:
      - transform: "${wrap("$number('not a number') + 1")}"
`;
    const failure = async (yaml: string): Promise<MessageFailure> => {
      const { outcome } = run(yaml);
      expect(outcome).toBeInstanceOf(Promise);
      return (await (outcome as Promise<unknown>).catch((error: unknown) => error)) as MessageFailure;
    };
    const compiled = await failure(failing((e) => e));
    // An index binding (#) keeps the expression on jsonata's evaluator ($eval would wrap the error in D3121).
    const interpreted = await failure(failing((e) => `[0]#$i.(${e})`));
    expect(compiled).toBeInstanceOf(MessageFailure);
    expect(interpreted).toBeInstanceOf(MessageFailure);
    expect([compiled.code, compiled.step?.path]).toEqual(['D3030', 'services.s.steps[0]']);
    expect(interpreted.code).toBe(compiled.code);
    // A failure the pipeline itself finds is thrown at once.
    const schema = run(failing((e) => e).replace('    steps:', '    input: { type: object, required: [missing] }\n    steps:')).outcome as { thrown: MessageFailure };
    expect(schema.thrown.code).toBe('MQFLOW_INPUT');
  });

  it('ends the message at a filter either way', async () => {
    const cold = run(flows((e) => e), { temp_f: 50 });
    expect(cold.outcome).toBe('stop');
    const later = run(flows(viaEval('celsius > 50')), { temp_f: 50 });
    expect(await later.outcome).toBe('stop');
    expect(later.output.sent).toEqual([]);
  });
});
