/**
 * Typed expressions (docs/flow-language.md, "Typed expressions"; docs/architecture.md, invariant
 * 63): what one expression is proved wrong about, given the JSON Schema of its input, and above
 * all what it is not: no warning unless the schema makes it true for every payload it accepts.
 */
import { Ajv } from 'ajv';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { checkExpression, type Suggestions, type TypeFinding } from '../../../src/expr/typecheck/check.js';
import { primitive, schemaType, UNKNOWN, type ValueType } from '../../../src/expr/typecheck/value-type.js';
import { closestMatch, editDistance } from '../../../src/flow/suggest.js';

const suggest: Suggestions = {
  closest: (name, candidates) => closestMatch(name, candidates),
  typo(name, candidates) {
    const match = closestMatch(name, candidates);
    return match !== undefined && editDistance(name.toLowerCase(), match.toLowerCase()) <= 1 ? match : undefined;
  },
};

/** A closed machine reading: only these four properties can exist. */
const CLOSED = {
  type: 'object',
  additionalProperties: false,
  required: ['machine'],
  properties: {
    machine: { type: 'string' },
    temp: { type: 'number' },
    running: { type: 'boolean' },
    readings: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, properties: { sensor: { type: 'string' }, value: { type: 'number' } } },
    },
    site: { type: 'object', properties: { name: { type: 'string' }, line: { type: 'integer' } } },
  },
};

/** The same properties, without additionalProperties: others may be sent. */
const OPEN = { ...CLOSED, additionalProperties: undefined };

function check(schema: unknown, source: string, variables: Record<string, ValueType> = {}, builtBy?: string): { findings: readonly TypeFinding[]; type: ValueType } {
  const input = schema === undefined ? UNKNOWN : schemaType(schema, 'services.s.input');
  return checkExpression(source, { input, variables: new Map(Object.entries(variables)), ...(builtBy === undefined ? {} : { builtBy }) }, suggest);
}

const codes = (schema: unknown, source: string, variables?: Record<string, ValueType>): string[] => check(schema, source, variables).findings.map((f) => f.code);

describe('paths that cannot exist', () => {
  it('reports a misspelt field of a closed object, with did-you-mean, at the name', () => {
    const { findings } = check(CLOSED, '{ "m": machin }');
    expect(findings).toEqual([
      {
        code: 'MQFLOW_EXPR_PATH',
        offset: 7,
        message: '"machin" cannot exist in the payload: services.s.input allows only "machine", "temp", "running", "readings", "site" (did you mean "machine"?)',
        hint: 'the schema has additionalProperties: false there, so this gives nothing for every message; correct the name, or declare the property',
      },
    ]);
  });

  it('gives no did-you-mean when nothing is close', () => {
    expect(check(CLOSED, 'pressure').findings[0]?.message).toBe('"pressure" cannot exist in the payload: services.s.input allows only "machine", "temp", "running", "readings", "site"');
  });

  it('follows arrays: a path over an array of objects reads each item', () => {
    const { findings } = check(CLOSED, 'readings.valeu');
    expect(findings.map((f) => [f.code, f.offset, f.message])).toEqual([
      ['MQFLOW_EXPR_PATH', 9, '"valeu" cannot exist in payload.readings[]: services.s.input allows only "sensor", "value" (did you mean "value"?)'],
    ]);
  });

  it('reads predicates against each item, and keeps the type after them', () => {
    expect(check(CLOSED, 'readings[valu > 3].sensor').findings.map((f) => f.offset)).toEqual([9]);
    expect(check(CLOSED, 'readings[0].sensr').findings.map((f) => f.offset)).toEqual([12]);
    expect(check(CLOSED, 'readings[sensor = "a"].value').findings).toEqual([]);
  });

  it('reports a field read from a string or a number: it gives nothing', () => {
    expect(check(CLOSED, 'temp.celsius').findings.map((f) => f.message)).toEqual(['"celsius" gives nothing: payload.temp (services.s.input) is a number, which has no fields']);
  });

  it('reports once per place, and nothing more after a path that cannot exist', () => {
    expect(codes(CLOSED, 'machin.a.b')).toEqual(['MQFLOW_EXPR_PATH']);
    expect(codes(CLOSED, 'machin ?: 1')).toEqual(['MQFLOW_EXPR_PATH']); // `a ?: b` reads a twice, written once
  });

  it('reads `$`, `$$` and quoted names', () => {
    expect(codes(CLOSED, '$.machin')).toEqual(['MQFLOW_EXPR_PATH']);
    expect(codes(CLOSED, 'readings[$$.machin = sensor]')).toEqual(['MQFLOW_EXPR_PATH']);
    expect(check(CLOSED, 'readings.`sensr`').findings[0]?.offset).toBe(9);
    expect(check(CLOSED, '"machin"').findings).toEqual([]); // a string literal, not a path
  });

  it('follows local $refs', () => {
    const schema = { type: 'object', additionalProperties: false, properties: { reading: { $ref: '#/definitions/reading' } }, definitions: { reading: { type: 'object', additionalProperties: false, properties: { value: { type: 'number' } } } } };
    expect(codes(schema, 'reading.valu')).toEqual(['MQFLOW_EXPR_PATH']);
    expect(codes(schema, 'reading.value')).toEqual([]);
  });

  it('allows a name a patternProperties pattern allows', () => {
    const schema = { type: 'object', additionalProperties: false, properties: { id: { type: 'string' } }, patternProperties: { '^x-': {} } };
    expect(codes(schema, '`x-trace`')).toEqual([]);
    expect(codes(schema, 'trace')).toEqual(['MQFLOW_EXPR_PATH']);
  });
});

describe('names an open schema does not declare', () => {
  it('says a near miss of a declared name is not declared (the schema allows others)', () => {
    const { findings } = check(OPEN, 'machin');
    expect(findings).toEqual([
      {
        code: 'MQFLOW_EXPR_UNDECLARED',
        offset: 0,
        message: 'services.s.input does not declare "machin" (did you mean "machine"?)',
        hint: 'the schema allows other properties, so it may be meant; if it is a typo, correct it, else declare it under properties',
      },
    ]);
  });

  it('says nothing of any other undeclared name', () => {
    expect(codes(OPEN, 'pressure')).toEqual([]);
    expect(codes(OPEN, 'machine_id')).toEqual([]); // more than one edit from "machine": a field of its own
    expect(codes(CLOSED, 'site.nam')).toEqual(['MQFLOW_EXPR_UNDECLARED']); // site has no additionalProperties
    expect(codes(CLOSED, 'site.building')).toEqual([]);
  });

  it('catches a difference of case', () => {
    expect(check(OPEN, 'Machine').findings[0]?.message).toContain('(did you mean "machine"?)');
  });
});

describe('no false positives', () => {
  it('says nothing without a schema, or where the schema says nothing definite', () => {
    expect(codes(undefined, 'machin.x * 2')).toEqual([]);
    expect(codes({}, 'machin')).toEqual([]);
    expect(codes(true, 'machin')).toEqual([]);
    expect(codes({ properties: { machine: {} }, additionalProperties: false }, 'machin')).toEqual([]); // no type: could be an array
    expect(codes({ type: ['object', 'array'], additionalProperties: false }, 'machin')).toEqual([]);
    expect(codes({ anyOf: [{ type: 'object', additionalProperties: false }] }, 'machin')).toEqual([]);
    expect(codes({ type: 'object', additionalProperties: false, properties: { v: { anyOf: [{ type: 'string' }, { type: 'number' }] } } }, 'v * 2')).toEqual([]);
    expect(codes({ type: 'object', additionalProperties: false, properties: { v: { $ref: 'https://example.com/v.json' } } }, 'v.x * 2')).toEqual([]);
  });

  it('says nothing of a field an open schema may hold', () => {
    expect(codes(OPEN, 'extra.deep.path + 1')).toEqual([]);
  });

  it('says nothing of $lookup, $each, * and ** (names chosen at run time)', () => {
    expect(codes(CLOSED, '$lookup($, "machin")')).toEqual([]);
    expect(codes(CLOSED, '$each($, function($v, $k) { $k })')).toEqual([]);
    expect(codes(CLOSED, '*.machin')).toEqual([]);
    expect(codes(CLOSED, '**.machin')).toEqual([]);
  });

  it('says nothing inside a function body, nor of variables the expression binds', () => {
    expect(codes(CLOSED, '$map(readings, function($r) { $r.valu + machin })')).toEqual([]);
    expect(codes(CLOSED, '($m := "x"; $m.machin)')).toEqual([]);
    expect(codes(CLOSED, '($machine := machine; $machine * 2)', { machine: primitive(['string'], 'x') })).toEqual([]);
    expect(codes(CLOSED, '$string := function($x) { 1 }')).toEqual([]);
  });

  it('says nothing of paths with focus, index or parent bindings', () => {
    expect(codes(CLOSED, 'readings@$r.machin')).toEqual([]);
    expect(codes(CLOSED, 'readings#$i.machin')).toEqual([]);
    expect(codes(CLOSED, 'readings.%.machin')).toEqual([]);
  });

  it('says nothing of an unknown variable, nor of $message', () => {
    expect(codes(CLOSED, '$site.machin * 2')).toEqual([]);
    expect(codes(CLOSED, '$message.payload.machin')).toEqual([]);
  });

  it('reads a transform pattern against the value it is applied to, not the payload', () => {
    expect(codes(CLOSED, 'site ~> | $ | { "line": 2 } |')).toEqual([]);
    expect(codes(CLOSED, 'readings[0] ~> | sensor | { "x": 1 } |')).toEqual([]);
    expect(codes(CLOSED, '| extra | { "x": 1 } |')).toEqual([]);
  });

  it('says nothing of arithmetic on numbers, on unknown values, or where a type is not single', () => {
    expect(codes(CLOSED, 'temp * 2 + $count(readings) - site.line % 3')).toEqual([]);
    expect(codes(CLOSED, 'readings.value * 2')).toEqual([]);
    expect(codes({ type: 'object', properties: { v: { type: ['string', 'number'] } } }, 'v * 2')).toEqual([]);
    expect(codes(CLOSED, '$number(machine) * 2')).toEqual([]);
    expect(codes(CLOSED, 'machine & "-" & temp')).toEqual([]);
  });
});

describe('type errors it can prove', () => {
  it('reports arithmetic on a string field, at the operand', () => {
    const { findings } = check(CLOSED, 'temp + machine');
    expect(findings).toEqual([
      {
        code: 'MQFLOW_EXPR_TYPE',
        offset: 7,
        message: 'payload.machine (services.s.input) is a string: "+" needs numbers, so this fails with T2002 whenever it has a value',
        hint: 'to join text use & instead; to add, convert it first with $number()',
      },
    ]);
  });

  it('reports booleans, objects, arrays of strings, literals and negation', () => {
    expect(check(CLOSED, 'running * 2').findings[0]?.message).toBe('payload.running (services.s.input) is a boolean: "*" needs numbers, so this fails with T2001 whenever it has a value');
    expect(check(CLOSED, 'site / 2').findings[0]?.message).toBe('payload.site (services.s.input) is an object: "/" needs numbers, so this fails with T2001 whenever it has a value');
    expect(codes(CLOSED, 'readings.sensor - 1')).toEqual(['MQFLOW_EXPR_TYPE']);
    expect(codes(CLOSED, '"5" * 2')).toEqual(['MQFLOW_EXPR_TYPE']);
    expect(check(CLOSED, '-machine').findings[0]?.message).toBe('payload.machine (services.s.input) is a string: negation needs a number, so this fails with D1002 whenever it has a value');
  });

  it('reads enum and const types, and $string, & and comparisons', () => {
    const schema = { type: 'object', properties: { state: { enum: ['open', 'closed'] }, n: { const: 3 } } };
    expect(codes(schema, 'state * 2')).toEqual(['MQFLOW_EXPR_TYPE']);
    expect(codes(schema, 'n * 2')).toEqual([]);
    expect(codes(schema, '$string(n) * 2')).toEqual(['MQFLOW_EXPR_TYPE']);
    expect(codes(schema, '(state & "x") % 2')).toEqual(['MQFLOW_EXPR_TYPE']);
    expect(codes(schema, '(n > 2) + 1')).toEqual(['MQFLOW_EXPR_TYPE']);
  });

  it('reads typed variables', () => {
    expect(codes(CLOSED, '$label * 2', { label: primitive(['string'], '$label') })).toEqual(['MQFLOW_EXPR_TYPE']);
  });
});

describe('the type of the result', () => {
  it('an object constructor is an object with exactly its keys', () => {
    const { type } = check(CLOSED, '{ "device": machine, "celsius": (temp - 32) * 5 / 9, "at": { "site": site.name } }', {}, 'services.s.steps[0].transform');
    const next = checkExpression('devise & celsius.x & at.sit', { input: type, variables: new Map() }, suggest);
    expect(next.findings.map((f) => f.message)).toEqual([
      '"devise" is not a field of the object built by services.s.steps[0].transform: it has only "device", "celsius", "at" (did you mean "device"?)',
      '"x" gives nothing: the value before it is a number, which has no fields',
      '"sit" is not a field of field "at" of the object built by services.s.steps[0].transform: it has only "site" (did you mean "site"?)',
    ]);
    expect(checkExpression('device * 2', { input: type, variables: new Map() }, suggest).findings.map((f) => f.code)).toEqual(['MQFLOW_EXPR_TYPE']);
  });

  it('a function call, a computed key or a $merge is unknown: nothing after it is reported', () => {
    for (const source of ['$merge([$, { "x": 1 }])', '{ machine: temp }', '$lookup($, "x")', '$ ~> | $ | { "x": 1 } |']) {
      const { type } = check(CLOSED, source);
      expect(checkExpression('anything.at.all * 2', { input: type, variables: new Map() }, suggest).findings).toEqual([]);
    }
  });

  it('a path gives the type the schema declares there', () => {
    const { type } = check(CLOSED, 'readings[0]');
    expect(checkExpression('valu', { input: type, variables: new Map() }, suggest).findings.map((f) => f.code)).toEqual(['MQFLOW_EXPR_PATH']);
  });

  it('an expression that does not parse gives nothing', () => {
    expect(check(CLOSED, '{ "a": ').findings).toEqual([]);
  });
});

describe('every warning is true of payloads the schema accepts (invariant 63)', () => {
  const ajv = new Ajv({ strict: false });
  const payloads = [
    { machine: 'm1' },
    { machine: 'm2', temp: 20, running: true, readings: [], site: { name: 'north', line: 2, extra: 'x' } },
    { machine: 'm3', readings: [{ sensor: 's1', value: 1 }] },
    { machine: 'm4', readings: [{ sensor: 's1', value: 1 }, { value: 2 }], site: {} },
  ];
  const cases: [string, string][] = [
    ['machin', 'MQFLOW_EXPR_PATH'],
    ['readings.valeu', 'MQFLOW_EXPR_PATH'],
    ['readings[0].sensr', 'MQFLOW_EXPR_PATH'],
    ['temp.celsius', 'MQFLOW_EXPR_PATH'],
    ['machine.first', 'MQFLOW_EXPR_PATH'],
    ['machine * 2', 'MQFLOW_EXPR_TYPE'],
    ['1 + machine', 'MQFLOW_EXPR_TYPE'],
    ['running - 1', 'MQFLOW_EXPR_TYPE'],
    ['site % 2', 'MQFLOW_EXPR_TYPE'],
    ['readings.sensor * 2', 'MQFLOW_EXPR_TYPE'],
    ['-machine', 'MQFLOW_EXPR_TYPE'],
  ];
  const validate = ajv.compile(CLOSED);

  it.each(cases)('%s', async (source, code) => {
    expect(codes(CLOSED, source)).toEqual([code]);
    for (const payload of payloads) {
      expect(validate(payload)).toBe(true);
      // A path that cannot exist gives nothing; arithmetic on a non-number fails, or has nothing to work on.
      const outcome: { value?: unknown; error?: string } = await jsonata(source).evaluate(payload).then(
        (value: unknown) => ({ value }),
        (error: { code?: string }) => ({ error: error.code }),
      );
      if (code === 'MQFLOW_EXPR_PATH') expect(outcome).toEqual({ value: undefined });
      else if (outcome.error === undefined) expect(outcome.value, JSON.stringify(payload)).toBeUndefined();
      else expect(outcome.error).toMatch(/^(T2001|T2002|D1002)$/);
    }
  });
});
