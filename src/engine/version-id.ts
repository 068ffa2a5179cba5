/**
 * The identity of a version of the flows: a digest of every definition's fingerprint, per kind and
 * name. Two instances running the same definitions have the same id, whatever their reload count.
 */
import { fingerprint } from '../flow/fingerprint.js';
import type { FlowModel } from '../flow/model.js';

export function versionIdOf(model: FlowModel): string {
  const kinds = ['connections', 'stores', 'windows', 'listeners', 'triggers', 'endpoints', 'schedules', 'services'] as const;
  const of = (map: ReadonlyMap<string, { readonly fingerprint: string }>): Record<string, string> => Object.fromEntries([...map].map(([name, d]) => [name, d.fingerprint]));
  return fingerprint(Object.fromEntries(kinds.map((kind) => [kind, of(model[kind])])));
}
