/** The registry of step kinds, in the order the docs and the schema list them. Adding a kind: its module, and one line here. */
import type { CodecSetting } from '../component/codec.js';
import { changed } from './changed.js';
import { choice } from './choice.js';
import { collect } from './collect.js';
import { dedupe } from './dedupe.js';
import { filter } from './filter.js';
import { http } from './http.js';
import { invoke } from './invoke.js';
import type { Step } from '../pipeline/step.js';
import type { StepData, StepKind } from './kind.js';
import { log } from './log.js';
import { lookup } from './lookup.js';
import { publish } from './publish.js';
import { remember } from './remember.js';
import { reply } from './reply.js';
import { request } from './request.js';
import { respond } from './respond.js';
import { set } from './set.js';
import { split } from './split.js';
import { throttle } from './throttle.js';
import { transform } from './transform.js';
import { validate } from './validate.js';

// Each kind's value type differs; the registry sees them as unknown (values are schema-checked before compile).
export type AnyStepKind = StepKind<unknown, StepData>;

export const STEP_KINDS: readonly AnyStepKind[] = [transform, filter, set, validate, publish, log, invoke, choice, split, dedupe, changed, throttle, remember, lookup, collect, http, respond, request, reply];

export const STEP_KIND_NAMES: readonly string[] = STEP_KINDS.map((k) => k.kind);

export function stepKind(name: string): AnyStepKind | undefined {
  return STEP_KINDS.find((k) => k.kind === name);
}

/** A step that reads or writes a store, and where. */
export interface StateUse {
  readonly path: string;
  readonly kind: string;
  readonly store: string;
  readonly namespace: string;
}

/** The stateful steps among `steps` and the steps nested in them. */
export function stateUses(steps: readonly Step[]): StateUse[] {
  return steps.flatMap((step) => {
    const kind = stepKind(step.kind);
    if (kind === undefined) return [];
    if (kind.stateful === true) {
      // A step whose state is optional (an http step's cache) keeps it in a field of its own.
      const own = step as unknown as { store?: string; namespace?: string; cache?: { store: string; namespace: string } };
      const ref = own.store !== undefined ? own : own.cache;
      return ref?.store === undefined ? [] : [{ path: step.path, kind: step.kind, store: ref.store, namespace: ref.namespace! }];
    }
    return (kind.uses?.(step as StepData) ?? []).flatMap((use) => (use.kind === 'nested' ? stateUses(use.steps) : []));
  });
}

/** True when a step of `steps`, or nested in them, reads or writes a state store. */
export function usesState(steps: readonly Step[]): boolean {
  return stateUses(steps).length > 0;
}

/** The publish steps among `steps` (and nested in them) that name a codec, for `mqflow validate --explain`. */
export function codecUses(steps: readonly Step[]): { readonly step: Step; readonly codec: CodecSetting }[] {
  return steps.flatMap((step) => {
    const codec = (step as unknown as { codec?: CodecSetting }).codec;
    const own = step.kind === 'publish' && codec !== undefined ? [{ step, codec }] : [];
    const kind = stepKind(step.kind);
    return [...own, ...(kind?.uses?.(step as StepData) ?? []).flatMap((use) => (use.kind === 'nested' ? codecUses(use.steps) : []))];
  });
}
