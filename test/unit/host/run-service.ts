/** Runs service `s` of an in-memory flow once on a MessageHost whose output captures what is published. */
import { expect } from 'vitest';
import { MessageHost } from '../../../src/host/host.js';
import { CaptureOutput } from '../../../src/host/output.js';
import type { MessageContext } from '../../../src/pipeline/context.js';
import { Execution } from '../../../src/pipeline/execution.js';
import { createLog } from '../../../src/util/log.js';
import { buildMemory } from '../flow/helpers.js';

export interface ServiceRun {
  /** What `pipeline.run` returned: the outcome, or a promise of it (an asynchronous step ran). */
  readonly outcome?: unknown;
  /** What it threw, when it threw synchronously. */
  readonly thrown?: unknown;
  readonly exec: Execution;
  readonly output: CaptureOutput;
}

/** `yaml` must build without problems and define connection `plant` and service `s`; the message is `context`. */
export function runService(yaml: string, context: MessageContext): ServiceRun {
  const { model, text } = buildMemory({ files: { 'f.yaml': yaml } });
  expect(text).toEqual([]);
  const output = new CaptureOutput(new Set(['plant']));
  const host = new MessageHost(model!, output, createLog({ level: 'silent', pretty: false, secrets: [] }));
  const exec = new Execution(context.payload, context, { outputHanded() {}, outputSettled() {} });
  try {
    return { outcome: host.pipeline.run(model!.services.get('s')!, exec), exec, output };
  } catch (error) {
    return { thrown: error, exec, output };
  }
}
