/**
 * Typed expressions through a service's steps (docs/flow-language.md, "Typed expressions: what
 * validate checks with an input schema"): the payload type the `input` schema gives, followed
 * through transform, set, choice, split and the rest, reported as warnings at file:line:col.
 */
import { describe, expect, it } from 'vitest';
import { buildMemory } from './helpers.js';

/** The problems `mqflow validate` prints for one flow file. */
function validate(yaml: string): { text: string[]; compiled: boolean } {
  const result = buildMemory({ files: { 'flow.yaml': yaml } });
  return { text: result.text.flatMap((problem) => problem.split('\n')), compiled: result.model !== undefined };
}

const MACHINE_INPUT = `    input:
      type: object
      required: [machine, temp]
      properties:
        machine: { type: string }
        temp: { type: number }
        readings:
          type: array
          items:
            type: object
            additionalProperties: false
            properties:
              sensor: { type: string }
              value: { type: number }
`;

const service = (steps: string, input = MACHINE_INPUT): string => `services:
  report:
${input}    steps:
${steps}`;

describe('typed expressions in a service', () => {
  it('warns about a misspelt field in a transform, with did-you-mean, at its line and column', () => {
    const { text, compiled } = validate(
      service(`      - transform: |
          {
            "machine": machin,
            "celsius": temp
          }
`),
    );
    expect(text).toEqual([
      'flow.yaml:20:24 warning: services.report.steps[0].transform: services.report.input does not declare "machin" (did you mean "machine"?)',
      '  hint: the schema allows other properties, so it may be meant; if it is a typo, correct it, else declare it under properties',
    ]);
    expect(compiled).toBe(true);
  });

  it('says the field cannot exist when the schema allows no other properties', () => {
    const input = `    input:
      type: object
      additionalProperties: false
      properties:
        machine: { type: string }
        temp: { type: number }
`;
    expect(validate(service(`      - filter: machin = "press-1"\n`, input)).text).toEqual([
      'flow.yaml:10:17 warning: services.report.steps[0].filter: "machin" cannot exist in the payload: services.report.input allows only "machine", "temp" (did you mean "machine"?)',
      '  hint: the schema has additionalProperties: false there, so this gives nothing for every message; correct the name, or declare the property',
    ]);
  });

  it('warns about arithmetic on a string field', () => {
    expect(validate(service(`      - transform: '{ "twice": machine * 2 }'\n`)).text).toEqual([
      'flow.yaml:18:32 warning: services.report.steps[0].transform: payload.machine (services.report.input) is a string: "*" needs numbers, so this fails with T2001 whenever it has a value',
      '  hint: convert it first with $number(), or use a field that holds a number',
    ]);
  });

  it('says nothing about a valid flow', () => {
    const { text, compiled } = validate(
      service(`      - set:
          site: $wildcards[0]
          limit: temp * 2
      - filter: temp > 20 and $count(readings[value > 3]) > 0
      - transform: |
          {
            "device": machine,
            "celsius": (temp - 32) * 5 / 9,
            "sensors": readings.sensor,
            "limit": $limit
          }
      - choice:
          - when: celsius > 90
            steps:
              - publish:
                  topic: plant/{{ $site }}/alerts/{{ device }}
                  payload: '{ "device": device, "celsius": celsius, "over": celsius - $limit }'
          - otherwise:
              - log: "{{ device }}: {{ celsius }}"
      - split:
          items: sensors
          steps:
            - log: "{{ $item }} at {{ $index + 1 }}"
`),
    );
    expect(text).toEqual([]);
    expect(compiled).toBe(true);
  });

  it('says nothing without an input schema', () => {
    expect(validate(`services:\n  report:\n    steps:\n      - transform: '{ "m": machin, "t": machine * 2 }'\n      - filter: mm = 1\n`).text).toEqual([]);
  });

  it('follows the payload a transform builds', () => {
    const { text } = validate(
      service(`      - transform: '{ "device": machine, "celsius": (temp - 32) * 5 / 9 }'
      - filter: celcius > 40 and temp > 100
`),
    );
    expect(text).toEqual([
      'flow.yaml:19:17 warning: services.report.steps[1].filter: "celcius" is not a field of the object built by services.report.steps[0].transform: it has only "device", "celsius" (did you mean "celsius"?)',
      '  hint: this gives nothing for every message; correct the name',
      'flow.yaml:19:34 warning: services.report.steps[1].filter: "temp" is not a field of the object built by services.report.steps[0].transform: it has only "device", "celsius"',
      '  hint: this gives nothing for every message; correct the name',
    ]);
  });

  it('knows nothing after a transform it cannot follow, an invoke, or an http call without as', () => {
    for (const step of [`      - transform: '$merge([$, { "x": 1 }])'`, `      - invoke: other`, `      - http:\n          url: http://127.0.0.1:1/x`]) {
      const yaml = `${service(`${step}\n      - filter: machin * 2 > 1\n`)}  other:\n    steps:\n      - log: x\n`;
      expect(validate(yaml).text, step).toEqual([]);
    }
  });

  it('keeps the payload type across steps that do not change it, and an http call with as', () => {
    const steps = `      - http:
          url: http://127.0.0.1:1/x
          as: response
      - log: "{{ machin }}"
`;
    expect(validate(service(steps)).text[0]).toMatch(/^flow\.yaml:21:18 warning: services\.report\.steps\[1\]\.log: services\.report\.input does not declare "machin"/);
  });

  it('types set variables, in order, and forgets them when an unknown value replaces them', () => {
    const steps = `      - set:
          name: machine
          twice: $name * 2
      - lookup:
          namespace: n
          key: machine
          as: name
      - filter: $name * 2 > 1
`;
    expect(validate(service(steps)).text).toEqual([
      'flow.yaml:20:18 warning: services.report.steps[0].set.twice: payload.machine (services.report.input) is a string: "*" needs numbers, so this fails with T2001 whenever it has a value',
      '  hint: convert it first with $number(), or use a field that holds a number',
    ]);
  });

  it('gives a split body the type of the elements, as the payload, $item and $$', () => {
    const steps = `      - split:
          items: readings
          steps:
            - filter: valu > 1 and $item.sensr = "a" and $index >= 0
            - publish:
                topic: plant/{{ sensor }}
                payload: '{ "m": $$.machine }'
`;
    expect(validate(service(steps)).text.filter((l) => !l.startsWith('  hint'))).toEqual([
      'flow.yaml:21:23 warning: services.report.steps[0].split.steps[0].filter: "valu" cannot exist in payload.readings[]: services.report.input allows only "sensor", "value" (did you mean "value"?)',
      'flow.yaml:21:42 warning: services.report.steps[0].split.steps[0].filter: "sensr" cannot exist in payload.readings[]: services.report.input allows only "sensor", "value" (did you mean "sensor"?)',
      // In the body, $$ is the element too (the input of the expression), not the message's payload.
      'flow.yaml:24:37 warning: services.report.steps[0].split.steps[1].publish.payload: "machine" cannot exist in payload.readings[]: services.report.input allows only "sensor", "value"',
    ]);
  });

  it('checks choice conditions and branches; after it, the payload is what every branch agrees on', () => {
    const steps = `      - choice:
          - when: temp > 1 and machin = "x"
            steps:
              - transform: '{ "a": 1 }'
              - filter: b = 1
          - otherwise:
              - filter: machin = "y"
      - filter: machin = "z"
`;
    const lines = validate(service(steps)).text.filter((l) => !l.startsWith('  hint'));
    expect(lines.map((l) => l.replace(/ warning: .*?: /, ' '))).toEqual([
      'flow.yaml:19:32 services.report.input does not declare "machin" (did you mean "machine"?)',
      'flow.yaml:22:25 "b" is not a field of the object built by services.report.steps[0].choice[0].steps[0].transform: it has only "a"',
      'flow.yaml:24:25 services.report.input does not declare "machin" (did you mean "machine"?)',
    ]);
  });

  it('takes the type of a validate schema where nothing was known', () => {
    const steps = `      - transform: '$merge([$, { "x": 1 }])'
      - validate:
          schema:
            type: object
            additionalProperties: false
            properties:
              x: { type: string }
      - filter: x * 2 > y
`;
    expect(validate(service(steps)).text.filter((l) => !l.startsWith('  hint'))).toEqual([
      'flow.yaml:25:17 warning: services.report.steps[2].filter: payload.x (services.report.steps[1].validate.schema) is a string: "*" needs numbers, so this fails with T2001 whenever it has a value',
      'flow.yaml:25:25 warning: services.report.steps[2].filter: "y" cannot exist in the payload: services.report.steps[1].validate.schema allows only "x"',
    ]);
  });

  it('points inside templates and block scalars', () => {
    const steps = `      - publish:
          topic: plant/{{ machin }}/temp
          payload: |
            {
              "m": machine,
              "t": temp - machine
            }
`;
    expect(validate(service(steps)).text.filter((l) => !l.startsWith('  hint')).map((l) => l.split(' warning')[0])).toEqual(['flow.yaml:19:27', 'flow.yaml:23:27']);
  });

  it('does not read an expression that came from a secret', () => {
    const yaml = service(`      - filter: \${env:CONDITION}\n`);
    const result = buildMemory({ files: { 'flow.yaml': yaml }, env: { CONDITION: 'machin = "x"' } });
    expect(result.text).toEqual([]);
  });

  it('does not check a service that does not compile', () => {
    const { text } = validate(service(`      - filter: machin = \n`));
    expect(text.every((l) => !l.includes('warning'))).toBe(true);
  });
});
