/** The JUnit XML schema helper itself: accepts a valid report, names what is wrong in a bad one. */
import { describe, expect, it } from 'vitest';
import { JUNIT_SCHEMA, junitSchemaErrors } from '../../support/junit-schema.js';

const valid = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="mqflow test flows" tests="2" failures="1" errors="0" time="0.012">
  <testsuite name="flows/a.test.yaml" tests="2" failures="1" errors="0" skipped="0" time="0.010" timestamp="2026-11-25T19:45:00" hostname="localhost">
    <testcase name="passes" classname="flows/a.test.yaml" time="0.004"/>
    <testcase name="fails" classname="flows/a.test.yaml" time="0.003">
      <failure message="published messages differ" type="AssertionError">- expected
+ actual</failure>
    </testcase>
  </testsuite>
</testsuites>
`;

describe('junitSchemaErrors', () => {
  it('names the schema it uses', () => {
    expect(JUNIT_SCHEMA).toMatch(/jenkins-junit\.xsd/);
  });

  it('accepts a valid report', async () => {
    expect(await junitSchemaErrors(valid)).toEqual([]);
  });

  it('rejects a testcase without a name, and an attribute the schema does not allow', async () => {
    const invalid = valid
      .replace('<testcase name="passes"', '<testcase')
      .replace('<testcase name="fails"', '<testcase name="fails" line="20"');
    const errors = await junitSchemaErrors(invalid);
    expect(errors).toEqual([
      "line 4: Schemas validity error : Element 'testcase': The attribute 'name' is required but missing.",
      "line 5: Schemas validity error : Element 'testcase', attribute 'line': The attribute 'line' is not allowed.",
    ]);
  });

  it('reports XML that is not well-formed', async () => {
    const errors = await junitSchemaErrors('<testsuites><testsuite name="x"');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^line 1: parser error/);
  });
});
