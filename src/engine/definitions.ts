/**
 * The running definitions as data (GET /api/definitions, docs/operations.md), and back: a model
 * comparable to another, for `mqflow plan --against` (docs/hot-reload.md). Per kind and name: the
 * fingerprint and the compiled definition with every secret replaced by a keyed digest
 * (`[secret:…]`), so a changed secret shows as a changed field without its value ever leaving the
 * instance. Both sides of a remote plan go through the same document, so planReload compares
 * them exactly as it compares two folders (invariant 65).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { FlowModel, Service, Step } from '../flow/model.js';
import { stateUses, type StateUse } from '../steps/kinds.js';
import { Secret } from '../util/secret.js';
import { versionIdOf } from './version-id.js';

export const DEFINITION_KINDS = ['connections', 'stores', 'windows', 'listeners', 'triggers', 'endpoints', 'schedules', 'services'] as const;
export type DefinitionKind = (typeof DEFINITION_KINDS)[number];

export interface DefinitionEntry {
  readonly fingerprint: string;
  /** The compiled definition as JSON; a service shows its steps (kind and path) and the state they use. */
  readonly value: Readonly<Record<string, unknown>>;
}

export interface DefinitionsDocument {
  /** Digest of every definition's fingerprint (versionIdOf): equal ids, equal definitions. */
  readonly versionId: string;
  /** The key of this document's secret digests; a client digests its own side with it to compare. */
  readonly secretSalt: string;
  readonly definitions: { readonly [K in DefinitionKind]: Readonly<Record<string, DefinitionEntry>> };
}

/** Values shorter than this, or numbers, are not masked (a port, a QoS): as in the log's redaction. */
const worthMasking = (s: string): boolean => s.length >= 4 && !/^[\d.:-]+$/.test(s) && s !== 'true' && s !== 'false';

/** The definitions document of `model`; `secretSalt` makes its digests comparable with another document's. */
export function definitionsOf(model: FlowModel, secretSalt: string = randomBytes(16).toString('hex')): DefinitionsDocument {
  const secrets = model.secrets.filter(worthMasking).sort((a, b) => b.length - a.length);
  const digest = (value: string): string => `[secret:${createHmac('sha256', secretSalt).update(value).digest('hex').slice(0, 16)}]`;
  const mask = (text: string): string => secrets.reduce((out, s) => (out.includes(s) ? out.split(s).join(digest(s)) : out), text);
  const redact = (value: unknown): unknown => {
    if (value instanceof Secret) return digest(value.reveal());
    if (typeof value === 'string') return mask(value);
    if (typeof value === 'function' || value === undefined) return undefined;
    if (Array.isArray(value)) return value.map(redact);
    if (value !== null && typeof value === 'object') {
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return redact((value as { toJSON: () => unknown }).toJSON());
      return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (typeof v === 'function' || v === undefined ? [] : [[k, redact(v)]])));
    }
    return value;
  };
  const entries = (kind: DefinitionKind): Record<string, DefinitionEntry> =>
    Object.fromEntries(
      [...(model[kind] as ReadonlyMap<string, { fingerprint: string }>)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, d]) => {
        const value = kind === 'services' ? serviceValue(d as Service) : d;
        return [name, { fingerprint: d.fingerprint, value: redact(value) as Record<string, unknown> }];
      }),
    );
  return {
    versionId: versionIdOf(model),
    secretSalt,
    definitions: Object.fromEntries(DEFINITION_KINDS.map((kind) => [kind, entries(kind)])) as DefinitionsDocument['definitions'],
  };
}

/** A service without its compiled steps: what they are, and the state they use (what a plan reads). */
function serviceValue(service: Service): Record<string, unknown> {
  const { steps, ...rest } = service;
  return { ...rest, steps: steps.map((s) => ({ kind: s.kind, path: s.path })), state: stateUses(steps) };
}

/**
 * A model made from a definitions document, for planReload only: it has every field the plan reads
 * (a service's steps stand in as the state they use), nothing that runs.
 */
export function comparableModel(document: DefinitionsDocument): FlowModel {
  const maps = Object.fromEntries(
    DEFINITION_KINDS.map((kind) => {
      const entries = Object.entries(document.definitions[kind] ?? {}).map(([name, entry]): [string, Record<string, unknown>] => {
        const value: Record<string, unknown> = { ...entry.value, name, fingerprint: entry.fingerprint };
        if (kind !== 'services') return [name, value];
        // stateUses of a stateful step is its own kind, path, store and namespace: these stand-ins give the same uses back.
        const uses = (value.state ?? []) as readonly StateUse[];
        const steps = uses.map((u) => ({ kind: u.kind, path: u.path, store: u.store, namespace: u.namespace }) as unknown as Step);
        return [name, { ...value, steps }];
      });
      return [kind, new Map(entries)];
    }),
  );
  return { ...maps, files: [], secrets: [] } as unknown as FlowModel;
}

/** Is `value` a definitions document (checked where it arrives over the network)? */
export function isDefinitionsDocument(value: unknown): value is DefinitionsDocument {
  if (value === null || typeof value !== 'object') return false;
  const doc = value as Record<string, unknown>;
  const defs = doc.definitions as Record<string, unknown> | undefined;
  return typeof doc.versionId === 'string' && typeof doc.secretSalt === 'string' && defs !== null && typeof defs === 'object' && DEFINITION_KINDS.every((k) => defs[k] !== null && typeof defs[k] === 'object');
}
