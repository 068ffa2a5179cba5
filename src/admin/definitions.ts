/**
 * GET /api/definitions (docs/operations.md): the definitions the instance runs, as loaded from its
 * flow files (before the admin API's overrides), with fingerprints, secrets as keyed digests, and
 * the versionId — what `mqflow plan --against` plans from, and what a deploy names as the version
 * it replaces. Behind the token like every endpoint but /healthz and /readyz.
 */
import { definitionsOf, type DefinitionsDocument } from '../engine/definitions.js';
import type { FlowRevision } from '../flow/revision.js';
import type { StatusSource } from './status.js';

export interface DefinitionsResponse extends DefinitionsDocument {
  /** The flow version in force (1 at start, +1 per applied reload) and the commit it came from, when known. */
  readonly flowVersion: number;
  readonly revision?: FlowRevision;
}

export function definitionsResponse(source: StatusSource): DefinitionsResponse {
  const current = source.reloader.current;
  return { flowVersion: current.version, ...(current.revision === undefined ? {} : { revision: current.revision }), ...definitionsOf(source.engine.defined) };
}
