/**
 * `mqflow test`: the example flows' tests pass, and a wrong flow fails them with a readable diff
 * (docs/testing.md). Each case copies flows/ (with its tests) to a temporary folder, breaks one
 * thing in a flow, and asserts the exact report.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, type TestBroker } from '../support/brokers.js';
import { mqflow, repoRoot } from '../support/cli.js';
import { TestClient } from '../support/mqtt.js';
import { junitSchemaErrors } from '../support/junit-schema.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of flows/ in which `file` has `from` replaced by `to` (which must be there). */
function brokenCopy(file: string, from: string, to: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqflow-flow-tests-'));
  dirs.push(dir);
  cpSync(join(repoRoot, 'flows'), dir, { recursive: true });
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
  writeFileSync(path, text.replace(from, to));
  return dir;
}

const run = (dir: string, ...args: string[]): ReturnType<typeof mqflow> => mqflow(['test', dir, ...args], { cwd: dir });

describe('mqflow test', () => {
  it("passes the example flows' own tests", () => {
    const result = mqflow(['test', 'flows/']);
    expect(result.stdout).toMatch(/^✓ flows\/batches\.test\.yaml:3 a batch becomes one message per reading, in order \(\d+ ms\)$/m);
    expect(result.stdout.trim().split('\n').pop()).toBe('10 passed, 0 failed');
    expect(result.status).toBe(0);
  });

  it('fails on a changed transform, showing the field that differs', () => {
    const dir = brokenCopy('temperature.yaml', '"celsius": $round((temp_f - 32) * 5 / 9, 2),', '"celsius": $round((temp_f - 30) * 5 / 9, 2),');
    const result = run(dir, '--grep', 'republished in Celsius');
    expect(result.stdout).toBe(`✗ temperature.test.yaml:3 a Fahrenheit reading is republished in Celsius, with the site from the topic
    published messages differ (- expected, + actual):
        [
          {
            "topic": "plant/north/normalized/oven-3/temperature",
            "payload": {
              "site": "north",
              "device": "oven-3",
      -       "celsius": 60,
      +       "celsius": 61.11,
              "ts": 1764076800000
            },
            "qos": 1
          }
        ]
0 passed, 1 failed
`);
    expect(result.status).toBe(1);
  });

  it('fails on a missing publish, showing the message that did not come', () => {
    const dir = brokenCopy(
      'temperature.yaml',
      `              - publish:
                  topic: plant/{{ site }}/alerts/critical
                  payload: '{ "device": device, "celsius": celsius, "level": "critical" }'
                  retain: true`,
      `              - log: critical`,
    );
    const result = run(dir, '--grep', 'critical alert');
    expect(result.stdout).toBe(`✗ temperature.test.yaml:26 90 °C and above raises a critical alert, retained
    expected 2 messages published, got 1 (- expected, + actual):
        [
          {
            "topic": "plant/north/normalized/oven-3/temperature",
            "payloadContains": {
              "celsius": 100
            }
      -   },
      -   {
      -     "topic": "plant/north/alerts/critical",
      -     "payload": {
      -       "device": "oven-3",
      -       "celsius": 100,
      -       "level": "critical"
      -     },
      -     "retain": true
          }
        ]
0 passed, 1 failed
`);
    expect(result.status).toBe(1);
  });

  it("$now() and $millis() follow the case's clock: fixed.now, moved by each message's at", () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqflow-flow-tests-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'stamp.yaml'),
      `connections:
  plant:
    url: mqtt://127.0.0.1:1883
triggers:
  in:
    connection: plant
    topic: in
    service: stamp
services:
  stamp:
    steps:
      - publish:
          topic: out
          payload: '{ "now": $now(), "millis": $millis(), "receivedAt": $message.receivedAt }'
`,
    );
    writeFileSync(
      join(dir, 'stamp.test.yaml'),
      `tests:
  - name: two messages 90 s apart
    trigger: in
    fixed:
      now: "2026-01-01T00:00:00Z"
    messages:
      - { topic: in, payload: {} }
      - { topic: in, payload: {}, at: 90s }
    expect:
      published:
        - payload: { now: "2026-01-01T00:00:00.000Z", millis: 1767225600000, receivedAt: "2026-01-01T00:00:00.000Z" }
        - payload: { now: "2026-01-01T00:01:30.000Z", millis: 1767225690000, receivedAt: "2026-01-01T00:01:30.000Z" }
`,
    );
    const result = run(dir);
    expect(result.stdout).toMatch(/^✓ stamp\.test\.yaml:2 two messages 90 s apart \(\d+ ms\)\n1 passed, 0 failed\n$/);
    expect(result.status).toBe(0);
  });

  it('fails on a wrong topic', () => {
    const dir = brokenCopy('temperature.yaml', 'topic: plant/{{ site }}/alerts/warning', 'topic: plant/{{ site }}/alert/warning');
    const result = run(dir, '--grep', 'warning');
    expect(result.stdout).toBe(`✗ temperature.test.yaml:39 between 70 and 90 °C raises a warning
    published messages differ (- expected, + actual):
        [
          {
            "topic": "plant/east/normalized/press-1/temperature"
          },
          {
      -     "topic": "plant/east/alerts/warning",
      +     "topic": "plant/east/alert/warning",
            "payload": {
              "device": "press-1",
              "celsius": 80,
              "level": "warning"
            },
            "retain": false
          }
        ]
0 passed, 1 failed
`);
    expect(result.status).toBe(1);
  });

  it('fails on an unexpected error, with its code and reason, and what went to the error route', () => {
    const dir = brokenCopy('batches.yaml', "payload: '{ \"gateway\": $gateway, \"device\": deviceId, \"bar\": bar, \"index\": $index }'", "payload: '{ \"gateway\": $gateway, \"device\": deviceId, \"bar\": $barr(bar) }'");
    const result = run(dir, '--grep', 'one message per reading');
    // The one publish that happened is the dead letter; the expected two never came.
    expect(result.stdout).toContain(`✗ batches.test.yaml:3 a batch becomes one message per reading, in order
    expected 2 messages published, got 1 (- expected, + actual):
        [
          {
      -     "topic": "plant/north/pressure/p-1",
      -     "payload": {`);
    expect(result.stdout).toContain(`\n      +     "topic": "plant/dead-letter/batches",\n`);
    expect(result.stdout).toContain(`      +       "error": "services.split-batch.steps[2].split.steps[1]: JSONata error T1006: Attempted to invoke a non-function",`);
    expect(result.stdout).toMatch(/ {4}unexpected error \(add expect\.error if the failure is intended\):\n {6}T1006: services\.split-batch\.steps\[2\]\.split\.steps\[1\]: JSONata error T1006: Attempted to invoke a non-function\n0 passed, 1 failed\n$/);
    expect(result.status).toBe(1);
  });

  it('reports a mistake in a test file as file:line:col (in JUnit XML as an errored case)', async () => {
    const dir = brokenCopy('batches.test.yaml', 'trigger: batches-in\n    message:\n      topic: plant/north/batches\n      payload: { gateway: gw-1, readings: [] }', 'trigger: batch-in\n    message:\n      topic: plant/north/batches\n      payload: { gateway: gw-1, readings: [] }');
    const broken = join(dir, 'temperature.test.yaml');
    writeFileSync(broken, readFileSync(broken, 'utf8').replace('    expect:\n      published: []\n      logs:', '    expect:\n      publish: []\n      logs:'));
    const result = run(dir);
    expect(result.stdout.split('\n').filter((l) => !l.startsWith('✓'))).toEqual([
      'batches.test.yaml:20:5 error: tests[1].trigger: no trigger named "batch-in" (did you mean "batches-in"?)',
      'temperature.test.yaml:56:7 error: unknown key "publish" in tests[4].expect (did you mean "published"?)',
      // A file with a schema mistake is not run at all; the other file's good cases are.
      '2 passed, 0 failed; 2 problems in flow or test files',
      '',
    ]);
    expect(result.status).toBe(1);
    const junit = run(dir, '--format', 'junit');
    expect(await junitSchemaErrors(junit.stdout)).toEqual([]);
    expect(junit.stdout).toContain('<error message="batches.test.yaml:20:5 error: tests[1].trigger: no trigger named &quot;batch-in&quot; (did you mean &quot;batches-in&quot;?)" type="InvalidFile">');
  });

  it('--format junit writes JUnit XML that the common CI schema accepts, failures and problems included', async () => {
    const passing = mqflow(['test', 'flows/', '--format', 'junit']);
    expect(passing.status).toBe(0);
    expect(await junitSchemaErrors(passing.stdout)).toEqual([]);
    expect(passing.stdout).toMatch(/<testsuite name="flows\/temperature\.test\.yaml" tests="7" failures="0"/);

    const dir = brokenCopy('temperature.yaml', 'topic: plant/{{ site }}/alerts/warning', 'topic: plant/{{ site }}/alert/warning');
    const output = join(dir, 'report.xml');
    const failing = run(dir, '--format', 'junit', '--output', output);
    expect(failing.status).toBe(1);
    expect(failing.stdout.trim().split('\n').pop()).toBe('9 passed, 1 failed');
    const xml = readFileSync(output, 'utf8');
    expect(await junitSchemaErrors(xml)).toEqual([]);
    expect(xml).toContain('<failure message="published messages differ (- expected, + actual):" type="AssertionError">temperature.test.yaml:39');
    expect(xml).toContain('-     &quot;topic&quot;: &quot;plant/east/alerts/warning&quot;,');
  });
});

describe('mqflow invoke and mqflow publish', () => {
  it('invoke runs one service and prints what it would publish, without a broker; a failure exits 1 with its reason', () => {
    const ok = mqflow(['invoke', 'check-thresholds', '--payload', '{"site":"north","device":"oven-3","celsius":95}']);
    expect(ok.stdout).toBe('would publish to plant/north/alerts/critical via plant (qos 1, retain): {"device":"oven-3","celsius":95,"level":"critical"}\n');
    expect(ok.status).toBe(0);
    const failed = mqflow(['invoke', 'normalize-temperature', '--payload', '{"deviceId":"x"}', '--topic', 'plant/north/sensors/x/temperature']);
    expect(failed.stdout).toBe('would publish nothing\n');
    expect(failed.stderr).toBe("failed: MQFLOW_INPUT: services.normalize-temperature.input: the payload does not match the schema: payload must have required property 'temp_f'\n");
    expect(failed.status).toBe(1);
    expect(mqflow(['invoke', 'no-such-service', '--payload', '{}']).status).toBe(2);
  });
});

/** The CLI without blocking this process: the embedded broker runs in it. */
async function mqflowAsync(args: string[], env: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  const bin = fileURLToPath(new URL('../../bin/mqflow.js', import.meta.url));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe.each(BROKERS)('mqflow invoke --live and mqflow publish against the $name', ({ start }) => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await start();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('publish sends one message through a configured connection; invoke --live publishes what the service makes', async () => {
    const sub = await TestClient.connect(broker.url);
    try {
      await sub.subscribe('plant/#', 1);
      const env = { MQTT_URL: broker.url };
      const published = await mqflowAsync(['publish', '--topic', 'plant/north/commands', '--qos', '1', 'restart oven-3'], env);
      expect(published.stdout).toBe('published to plant/north/commands via plant (qos 1)\n');
      expect(published.status).toBe(0);
      const live = await mqflowAsync(['invoke', 'check-thresholds', '--live', '--payload', '{"site":"east","device":"press-1","celsius":75}'], env);
      expect(live.stdout).toBe('published to plant/east/alerts/warning via plant (qos 1): {"device":"press-1","celsius":75,"level":"warning"}\n');
      expect(live.status).toBe(0);
      await sub.waitFor(2);
      // The connection's birth (and will) announce the running mqflow: a command sends neither.
      await new Promise((r) => setTimeout(r, 200));
      expect(sub.received.map((m) => [m.topic, m.text])).toEqual([
        ['plant/north/commands', 'restart oven-3'],
        ['plant/east/alerts/warning', '{"device":"press-1","celsius":75,"level":"warning"}'],
      ]);
      const refused = await mqflowAsync(['publish', '--topic', 'plant/+/x', 'x'], env);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/--topic: .*wildcard/);
    } finally {
      await sub.close();
    }
  });
});
