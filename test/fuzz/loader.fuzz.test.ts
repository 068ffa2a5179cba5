/**
 * Fuzz tests of the flow loader (parse → schema check → compile), with generated and with mutated
 * YAML. Whatever the input, the loader must return (never throw, never hang), answer with either a
 * model or at least one error, position every problem in a file that exists, and never print the
 * value of a secret environment variable.
 *
 * Runs per property: MQFLOW_FUZZ_RUNS (default 10,000). A failure prints fast-check's seed and
 * counterexample path; replay it with MQFLOW_FUZZ_SEED=<seed> MQFLOW_FUZZ_PATH=<path>.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify, type ToStringOptions } from 'yaml';
import { createJsonataEngine } from '../../src/expr/jsonata-engine.js';
import { buildFromFiles, type BuildResult } from '../../src/flow/build.js';
import { isFlowFileName, parseFlowFile } from '../../src/flow/load.js';
import { formatProblem, ProblemList, type FlowProblem } from '../../src/flow/problem.js';

const RUNS = positiveInt(process.env.MQFLOW_FUZZ_RUNS, 10_000);
const SEED = process.env.MQFLOW_FUZZ_SEED === undefined ? undefined : Number(process.env.MQFLOW_FUZZ_SEED);
const PATH = process.env.MQFLOW_FUZZ_PATH;
/** vitest's timeout for a whole property: generous, scaled with the number of runs. */
const PROPERTY_TIMEOUT_MS = 60_000 + RUNS * 20;
/**
 * Hang guard, not a performance assertion: a single case takes milliseconds, so a case that takes
 * seconds means runaway work (a regex or an alias blow-up). The bound is deliberately generous so a
 * slow or busy CI machine never trips it. (An endless synchronous loop cannot be interrupted from
 * inside the test; the CI job timeout catches that.)
 */
const HANG_GUARD_MS = 2_000;

/** A recognizable secret: put in the environment, referenced by some flows, never to be printed. */
const SECRET = 'S3CRET-fuzz-value';

function positiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function fcParameters(): fc.Parameters<unknown> {
  return { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }) };
}

// ---------------------------------------------------------------------------------------------
// The harness: the same in-memory build as test/unit/flow/helpers.ts (buildMemory), timed.

interface Case {
  readonly files: Record<string, string>;
  readonly env: Record<string, string>;
  readonly extra?: Record<string, string>;
}

interface Outcome {
  readonly result: BuildResult;
  readonly elapsedMs: number;
}

const engine = createJsonataEngine();

function build(input: Case): Outcome {
  const started = performance.now();
  const problems = new ProblemList();
  const readFile = (path: string): string => {
    const content = input.extra?.[path];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return content;
  };
  const environment = { env: input.env, readFile };
  const loaded = Object.entries(input.files).map(([name, text]) => parseFlowFile(`/flows/${name}`, name, text, environment, problems));
  const result = buildFromFiles(loaded, problems, { engine, readFile });
  return { result, elapsedMs: performance.now() - started };
}

/** Fails the property with `message` unless `condition` holds (cheaper than expect() in the hot loop). */
function ensure(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

/** Every assertion of the issue, for one case. Throws (failing the property) on the first violation. */
function check(input: Case): void {
  const { result, elapsedMs } = build(input);
  const show = (p: FlowProblem): string => JSON.stringify(p);

  ensure(elapsedMs < HANG_GUARD_MS, () => `hang guard: one build took ${Math.round(elapsedMs)} ms`);

  const errors = result.problems.filter((p) => p.severity === 'error');
  // Either a model and no error, or no model and at least one error.
  if (result.model === undefined) ensure(errors.length > 0, () => `no model, yet no error: ${JSON.stringify(result.problems)}`);
  else ensure(errors.length === 0, () => `a model, yet errors: ${errors.map(show).join('\n')}`);

  const textContainsSecret = Object.values(input.files).some((t) => t.includes(SECRET));
  for (const p of result.problems) {
    ensure(p.severity === 'error' || p.severity === 'warning', () => `severity: ${show(p)}`);
    ensure(typeof p.code === 'string' && p.code.length > 0, () => `code: ${show(p)}`);
    ensure(typeof p.file === 'string' && p.file.length > 0, () => `no file: ${show(p)}`);
    const text = input.files[p.file];
    ensure(text !== undefined, () => `a problem in a file that was not given: ${show(p)}`);
    ensure(Number.isInteger(p.line) && p.line >= 1, () => `line: ${show(p)}`);
    ensure(Number.isInteger(p.column) && p.column >= 1, () => `column: ${show(p)}`);
    ensure(p.line <= (text ?? '').split('\n').length + 1, () => `line past the end of the file: ${show(p)}`);
    ensure(typeof p.message === 'string' && p.message.length > 0, () => `message: ${show(p)}`);
    const formatted = formatProblem(p);
    ensure(formatted.startsWith(`${p.file}:${p.line}:${p.column} `), () => `formatProblem: ${formatted}`);
    // The hint is checked too: it is printed with the message.
    ensure(textContainsSecret || !formatted.includes(SECRET), () => `secret printed: ${formatted}`);
  }

  if (result.model !== undefined) {
    for (const map of [result.model.connections, result.model.triggers, result.model.services]) {
      for (const value of map.values()) {
        ensure(Object.isFrozen(value), () => `not frozen: ${JSON.stringify(value)}`);
        // A nested sample: the first object- or array-valued property.
        const nested = Object.values(value as object).find((v): v is object => typeof v === 'object' && v !== null);
        ensure(nested === undefined || Object.isFrozen(nested), () => `not deeply frozen: ${JSON.stringify(value)}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Generated flows: structurally plausible documents, with wrong values, unknown keys and junk mixed in.

const ENV_NAMES = ['MQTT_URL', 'MQTT_USERNAME', 'MQTT_PASSWORD', 'SECRET', 'SITE', 'EMPTY', 'MISSING'] as const;

const envArb: fc.Arbitrary<Record<string, string>> = fc
  .record(
    {
      MQTT_URL: fc.constantFrom('mqtt://127.0.0.1:1883', `mqtt://u:${SECRET}@host:1883`, SECRET, 'not a url', 'ws://h/mqtt', ''),
      MQTT_USERNAME: fc.constantFrom('mqflow', SECRET, ''),
      MQTT_PASSWORD: fc.constant(SECRET),
      SECRET: fc.constantFrom(SECRET, `${SECRET}\n`, `{{ ${SECRET} }}`, `plant/+/${SECRET}/#`, `$${SECRET}(`),
      SITE: fc.constantFrom('plant', 'a/b', '+', '#', '{{', '3', 'true', '[1, 2]'),
      EMPTY: fc.constant(''),
    },
    { requiredKeys: [] },
  )
  .map((env) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (typeof v === 'string') out[k] = v;
    return out;
  });

/** `${env:…}`, `${file:…}` references, valid and not. */
const interpolation: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ENV_NAMES).map((n) => `\${env:${n}}`),
  fc.tuple(fc.constantFrom(...ENV_NAMES), fc.constantFrom('', 'x', 'mqtt://h:1', '1', '}', ':-')).map(([n, d]) => `\${env:${n}:-${d}}`),
  fc.constantFrom('${env:}', '${env:1BAD}', '${env:bad name}', '${env:SECRET', '$${env:SECRET}', '${file:}', '${file:certs/ca.pem}', '${file:missing.pem}', '${file:../../etc/passwd}', '${other:X}', '${env:SECRET}${env:SECRET}'),
);

const identifier = fc.constantFrom('deviceId', 'temp_f', 'celsius', 'readings', 'payload', 'message', 'error', 'site', 'a', 'b');
const jsonataToken = fc.oneof(
  identifier,
  fc.constantFrom('$site', '$wildcards[0]', '$round(', '$count(', '$millis()', '$topic', '$index', '$$', '$'),
  fc.constantFrom('+', '-', '*', '/', '>=', '=', '!=', 'and', 'or', '?', ':', '.', ',', '&', '~>', ':='),
  fc.constantFrom('(', ')', '[', ']', '{', '}', '"', "'", '`', '"k":', '|', '\\'),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.constantFrom('function($x){ $x }', '[1..10]', '**', 'true', 'null', '/re/i'),
);
/** Strings that look like JSONata expressions, often broken. */
const jsonataish: fc.Arbitrary<string> = fc.array(jsonataToken, { minLength: 1, maxLength: 8 }).chain((tokens) =>
  fc.constantFrom(' ', '', '\n').map((sep) => tokens.join(sep)),
);

/** Text with `{{ }}` parts, sometimes unclosed or nested. */
const template: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      fc.constantFrom('plant', 'alerts', 'x', '/', ' ', '°C', '{{', '}}', '{{{', '}}}', '+', '#'),
      jsonataish.map((e) => `{{ ${e} }}`),
      interpolation,
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((parts) => parts.join(''));

/** Topic filters with wildcards in legal and illegal places. */
const topic: fc.Arbitrary<string> = fc.oneof(
  fc
    .array(fc.constantFrom('plant', '+', '#', 'sensors', '', '$share', '$SYS', 'a+', 'b#', '{{ site }}', '\u0000', 'ü', ' ', 'x'.repeat(300)), {
      minLength: 1,
      maxLength: 7,
    })
    .map((levels) => levels.join('/')),
  template,
  interpolation,
  fc.constantFrom('$share/g/plant/#', '$share//x', '$share/g', '#/x', '/', ''),
);

const names = fc.oneof(
  { arbitrary: fc.constantFrom('plant', 'temp-in', 'svc', 'other', 'a', 'b'), weight: 6 },
  { arbitrary: fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), weight: 2 },
  { arbitrary: fc.constantFrom('', 'Bad Name', '1x', '-x', 'x.y', 'x/y', '__proto__', 'constructor', 'toString', 'n'.repeat(200), '${env:SECRET}'), weight: 1 },
);

const unknownKey = fc.oneof(fc.constantFrom('qos2', 'topics', 'servce', 'urls', 'x-extra', 'step', 'when', 'otherwise', '<<', '__proto__', ''), fc.string({ maxLength: 8 }));
const duration = fc.oneof(fc.constantFrom('200ms', '1s', '5m', '1h', '0s', '-1s', '1.5s', 's', '1 s', '10d', '99999999999h'), fc.integer({ min: -10, max: 100_000 }));
const qos = fc.oneof({ arbitrary: fc.constantFrom(0, 1, 2), weight: 5 }, { arbitrary: fc.constantFrom(3, -1, 1.5, '1', null), weight: 1 });

/** Any value at all: what a confused author (or a mutation) puts where something else belongs. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.double(),
  fc.constantFrom(null, true, false, 0, -0, Number.POSITIVE_INFINITY, Number.MAX_VALUE, '', [], {}),
  interpolation,
  jsonataish,
);

/** A plausible value most of the time, anything else sometimes. */
function sometimesWrong<T>(plausible: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: plausible, weight: 9 }, { arbitrary: anyValue, weight: 1 });
}

/** A map from known keys (those in `required` always present) plus, rarely, unknown keys. */
function object(fields: Record<string, fc.Arbitrary<unknown>>, required: string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const known = fc.record(
    Object.fromEntries(Object.entries(fields).map(([k, a]) => [k, sometimesWrong(a)])),
    { requiredKeys: required },
  );
  const extra = fc.option(fc.dictionary(unknownKey, anyValue, { maxKeys: 2 }), { freq: 8, nil: undefined });
  return fc.tuple(known, extra).map(([k, e]) => ({ ...(e ?? {}), ...k }));
}

function namedMap<T>(value: fc.Arbitrary<T>): fc.Arbitrary<Record<string, T>> {
  return fc.dictionary(names, value, { maxKeys: 2 });
}

const message = object({ topic, payload: fc.oneof(fc.string({ maxLength: 10 }), interpolation), qos, retain: fc.boolean() }, ['topic']);
const url = fc.oneof(fc.constantFrom('mqtt://127.0.0.1:1883', 'mqtts://broker:8883', 'ws://h:9001/mqtt', 'wss://h', 'http://h', 'mqtt://', 'mqtt://h:99999', 'broker'), interpolation);

const connection = object(
  {
    description: fc.string({ maxLength: 10 }),
    enabled: fc.boolean(),
    url: fc.oneof(url, fc.array(url, { maxLength: 3 })),
    clientId: fc.oneof(fc.string({ maxLength: 10 }), interpolation),
    username: fc.oneof(fc.constant('mqflow'), interpolation),
    password: interpolation,
    protocolVersion: fc.constantFrom(4, 5, 3),
    cleanSession: fc.boolean(),
    keepalive: fc.integer({ min: -1, max: 70_000 }),
    connectTimeout: duration,
    reconnectPeriod: duration,
    tls: object({
      ca: fc.constantFrom('certs/ca.pem', 'missing.pem', '', '${file:certs/ca.pem}'),
      cert: fc.constantFrom('certs/client.pem', 'missing.pem'),
      key: fc.constantFrom('certs/client.key', 'missing.key'),
      passphrase: interpolation,
      rejectUnauthorized: fc.boolean(),
      servername: fc.string({ maxLength: 10 }),
    }),
    offlineQueueSize: fc.integer({ min: -1, max: 2_000_000 }),
    will: message,
    birth: message,
  },
  ['url'],
);

const trigger = object(
  {
    description: fc.string({ maxLength: 10 }),
    enabled: fc.boolean(),
    connection: names,
    topic: fc.oneof(topic, fc.array(topic, { maxLength: 3 })),
    qos,
    service: names,
    processing: fc.constantFrom('serial', 'concurrent', 'parallel'),
    maxConcurrency: fc.integer({ min: -1, max: 20_000 }),
    ack: fc.constantFrom('afterProcessing', 'onReceipt', 'never'),
    queueSize: fc.integer({ min: 0, max: 70_000 }),
    maxPayloadBytes: fc.integer({ min: -1, max: 1 << 30 }),
    payload: fc.constantFrom('json', 'text', 'binary', 'xml'),
    share: fc.constantFrom('mqflow', 'a/b', '', '+', '${env:SECRET}'),
    retry: object({ maxAttempts: fc.integer({ min: 0, max: 2000 }), delay: duration, backoff: fc.constantFrom('fixed', 'exponential', 'linear'), maxDelay: duration }),
    onError: fc.oneof(
      object({ publish: object({ connection: names, topic, qos, retain: fc.boolean() }, ['topic']) }),
      object({ service: names }),
      object({ suspend: object({ resumeAfter: duration }) }),
      object({ publish: object({ topic }, ['topic']), service: names }),
    ),
  },
  ['connection', 'topic', 'service'],
);

const payloadSchema: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant({ type: 'object', required: ['deviceId'], properties: { deviceId: { type: 'string' } } }),
  fc.constant({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' }),
  fc.constant({ type: 'nonsense' }),
  fc.constant({ $ref: '#/definitions/missing' }),
  fc.constant({ properties: { a: { pattern: '(' } } }),
  fc.jsonValue({ maxDepth: 1 }),
);

/** Steps, nested through choice and split. */
const { steps } = fc.letrec<{ step: Record<string, unknown>; steps: Record<string, unknown>[] }>((tie) => {
  const nested = tie('steps');
  const header = { name: fc.oneof(fc.constantFrom('a step', ''), fc.string({ maxLength: 6 })), description: fc.string({ maxLength: 6 }) };
  const kind = fc.oneof(
    { depthSize: 'xsmall', withCrossShrink: true },
    object({ transform: jsonataish, ...header }, ['transform']),
    object({ filter: jsonataish, ...header }, ['filter']),
    object({ set: fc.dictionary(fc.oneof(identifier, fc.constantFrom('$x', 'wildcards', 'topic', '')), jsonataish, { maxKeys: 3 }), ...header }, ['set']),
    object({ validate: object({ schema: payloadSchema }, ['schema']), ...header }, ['validate']),
    object(
      {
        publish: object(
          { connection: names, topic: template, payload: jsonataish, qos, retain: fc.boolean(), userProperties: fc.dictionary(fc.string({ maxLength: 5 }), template, { maxKeys: 2 }), contentType: fc.string({ maxLength: 8 }) },
          ['topic'],
        ),
        ...header,
      },
      ['publish'],
    ),
    object({ log: fc.oneof(template, object({ level: fc.constantFrom('trace', 'debug', 'info', 'warn', 'error', 'fatal'), message: template }, ['message'])), ...header }, ['log']),
    object({ invoke: fc.oneof(names, object({ service: names, payload: jsonataish }, ['service'])), ...header }, ['invoke']),
    object(
      {
        choice: fc.array(
          fc.oneof(object({ when: jsonataish, steps: nested }, ['when', 'steps']), object({ otherwise: nested }, ['otherwise']), object({ when: jsonataish, otherwise: nested })),
          { minLength: 0, maxLength: 3 },
        ),
        ...header,
      },
      ['choice'],
    ),
    object({ split: object({ items: jsonataish, steps: nested }, ['items', 'steps']), ...header }, ['split']),
    // Two kinds in one step, or none.
    object({ transform: jsonataish, filter: jsonataish }, ['transform', 'filter']),
    object(header),
  );
  return {
    step: kind,
    steps: fc.array(tie('step'), { minLength: 0, maxLength: 2 }),
  };
});

const service = object({ description: fc.string({ maxLength: 10 }), input: payloadSchema, steps }, ['steps']);

const flowDocument: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: object({ connections: namedMap(connection), triggers: namedMap(trigger), services: namedMap(service), 'x-common': anyValue }), weight: 20 },
  { arbitrary: anyValue, weight: 1 },
);

/** The `yaml` package's serializer options, varied: indentation, flow/block style, quoting. */
const stringifyOptions: fc.Arbitrary<ToStringOptions> = fc.record({
  indent: fc.integer({ min: 1, max: 8 }),
  indentSeq: fc.boolean(),
  collectionStyle: fc.constantFrom('any', 'block', 'flow'),
  flowCollectionPadding: fc.boolean(),
  defaultStringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'),
  defaultKeyType: fc.constantFrom(null, 'PLAIN', 'QUOTE_DOUBLE'),
  lineWidth: fc.constantFrom(0, 20, 80),
  simpleKeys: fc.boolean(),
});

/** YAML text of one generated document; a document the serializer refuses is written as JSON (also YAML). */
const flowText: fc.Arbitrary<string> = fc.tuple(flowDocument, stringifyOptions, fc.boolean()).map(([doc, options, reuse]) => {
  // Sharing a sub-object makes the serializer write anchors and aliases.
  const value = reuse && isRecord(doc) && isRecord(doc.services) ? { ...doc, 'x-common': doc.services } : doc;
  try {
    return stringify(value, options);
  } catch {
    return JSON.stringify(value, null, options.indent) ?? '';
  }
});

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const fileName = fc.constantFrom('plant.yaml', 'more.yaml', 'sub/other.yml', 'a b.yaml');
const generatedCase: fc.Arbitrary<Case> = fc.record({
  files: fc.dictionary(fileName, flowText, { minKeys: 1, maxKeys: 2 }),
  env: envArb,
  extra: fc.option(fc.constant({ '/flows/certs/ca.pem': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }), { nil: undefined }),
});

// ---------------------------------------------------------------------------------------------
// Mutated flows: the repository's example flows with characters, lines and indentation changed.

const FLOWS_DIR = join(fileURLToPath(new URL('../../', import.meta.url)), 'flows');
const EXAMPLES: Record<string, string> = Object.fromEntries(
  readdirSync(FLOWS_DIR)
    .filter(isFlowFileName)
    .sort()
    .map((name) => [name, readFileSync(join(FLOWS_DIR, name), 'utf8')]),
);
const EXAMPLE_NAMES = Object.keys(EXAMPLES);

const SPECIAL = [':', '-', '{', '}', '[', ']', '"', "'", '\t', '\n', '\r', '\r\n', '\u0000', '\uD800', '\uDC00', '\uFEFF', '\u2028', '#', '&', '*', '!', '|', '>', '?', '%', '@', '`', ',', ' ', '$', '\\'];
const SNIPPETS = [
  '${env:SECRET}',
  '${env:MQTT_PASSWORD}',
  '${env:SECRET:-x}',
  '${file:certs/ca.pem}',
  '{{ ',
  ' }}',
  '&a ',
  '*a',
  '<<: *a',
  '---\n',
  '...\n',
  '%YAML 1.2\n',
  '!!binary ',
  '!!str ',
  '!custom ',
  '? ',
  '- ',
  ': ',
  '[',
  '{ a: ',
  '"\\u',
  "'",
  '|\n',
  '>-\n',
  'x'.repeat(5_000),
  ':'.repeat(2_000),
  '{'.repeat(500),
  '['.repeat(500),
  '- '.repeat(500),
  '  '.repeat(2_000),
];

type Mutation =
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; length: number }
  | { op: 'replace'; at: number; text: string }
  | { op: 'duplicateLine' | 'deleteLine'; line: number }
  | { op: 'swapLines'; line: number; other: number }
  | { op: 'indent'; line: number; by: string }
  | { op: 'dedent'; line: number; by: number }
  | { op: 'truncate'; at: number };

const insertText = fc.oneof(
  { arbitrary: fc.constantFrom(...SPECIAL), weight: 6 },
  { arbitrary: fc.constantFrom(...SNIPPETS), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }), weight: 2 },
  { arbitrary: fc.string({ minLength: 1, maxLength: 6 }), weight: 2 },
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: insertText }), weight: 5 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), text: insertText }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constantFrom('duplicateLine' as const, 'deleteLine' as const), line: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('swapLines' as const), line: fc.nat(), other: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('indent' as const), line: fc.nat(), by: fc.constantFrom(' ', '  ', '    ', '\t', ' \t') }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('dedent' as const), line: fc.nat(), by: fc.integer({ min: 1, max: 8 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }), weight: 1 },
);

/** Applies one mutation; positions wrap around the current text, so every mutation applies. */
function mutate(text: string, m: Mutation): string {
  const at = (n: number): number => (text.length === 0 ? 0 : n % (text.length + 1));
  switch (m.op) {
    case 'insert': {
      const i = at(m.at);
      return text.slice(0, i) + m.text + text.slice(i);
    }
    case 'delete': {
      const i = at(m.at);
      return text.slice(0, i) + text.slice(i + m.length);
    }
    case 'replace': {
      const i = at(m.at);
      return text.slice(0, i) + m.text + text.slice(i + 1);
    }
    case 'truncate':
      return text.slice(0, at(m.at));
    default:
      break;
  }
  const lines = text.split('\n');
  const index = m.line % lines.length;
  const line = lines[index] ?? '';
  switch (m.op) {
    case 'duplicateLine':
      lines.splice(index, 0, line);
      break;
    case 'deleteLine':
      lines.splice(index, 1);
      break;
    case 'swapLines': {
      const other = m.other % lines.length;
      lines[index] = lines[other] ?? '';
      lines[other] = line;
      break;
    }
    case 'indent':
      lines[index] = m.by + line;
      break;
    case 'dedent':
      lines[index] = line.replace(new RegExp(`^[ \\t]{1,${m.by}}`), '');
      break;
  }
  return lines.join('\n');
}

const mutatedCase: fc.Arbitrary<Case> = fc
  .record({
    // Which example files are in the folder (all of them usually, so references resolve).
    keep: fc.subarray(EXAMPLE_NAMES, { minLength: 1 }),
    everything: fc.boolean(),
    // Mutations per file, by index into EXAMPLE_NAMES (files not mutated stay as they are).
    mutations: fc.array(fc.tuple(fc.nat(EXAMPLE_NAMES.length - 1), fc.array(mutation, { minLength: 1, maxLength: 8 })), { minLength: 1, maxLength: 3 }),
    env: envArb,
  })
  .map(({ keep, everything, mutations, env }) => {
    const files: Record<string, string> = {};
    for (const name of everything ? EXAMPLE_NAMES : keep) files[name] = EXAMPLES[name] ?? '';
    for (const [index, list] of mutations) {
      const name = EXAMPLE_NAMES[index] ?? '';
      files[name] = list.reduce(mutate, files[name] ?? EXAMPLES[name] ?? '');
    }
    return { files, env };
  });

// ---------------------------------------------------------------------------------------------

describe('flow loader fuzz', () => {
  it('builds the unmutated example flows (the mutation fuzzer starts from valid files)', () => {
    expect(EXAMPLE_NAMES.length).toBeGreaterThan(0);
    const { result } = build({ files: EXAMPLES, env: {} });
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.model).toBeDefined();
  });

  it(`generated flows: returns, positions every problem, prints no secret (${RUNS} runs)`, { timeout: PROPERTY_TIMEOUT_MS }, () => {
    fc.assert(fc.property(generatedCase, check), fcParameters());
  });

  it(`mutated example flows: returns, positions every problem, prints no secret (${RUNS} runs)`, { timeout: PROPERTY_TIMEOUT_MS }, () => {
    fc.assert(fc.property(mutatedCase, check), fcParameters());
  });
});
