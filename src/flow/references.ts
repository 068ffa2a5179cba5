/** Checks that every referenced connection and service exists, and that services do not invoke each other in a cycle. */
import { report, type CompileContext, type Reference } from './compile-context.js';
import { formatPath } from '../util/path.js';
import { didYouMean } from './suggest.js';

export function checkReferences(
  context: CompileContext,
  /** Names defined in the folder, compiled or not: a reference to a definition with its own errors is not reported again. */
  defined: { readonly connections: ReadonlySet<string>; readonly services: ReadonlySet<string>; readonly stores: ReadonlySet<string>; readonly windows: ReadonlySet<string>; readonly listeners: ReadonlySet<string> },
  /** False when some definitions could not be read: then an unknown name may well be defined, so none is reported. */
  complete: boolean,
): void {
  for (const ref of complete ? context.references : []) {
    const names = ref.kind === 'service' ? defined.services : ref.kind === 'store' ? defined.stores : ref.kind === 'window' ? defined.windows : ref.kind === 'listener' ? defined.listeners : defined.connections;
    if (names.has(ref.name)) continue;
    const suggestion = didYouMean(ref.name, names);
    const list = [...names].sort();
    report(
      context,
      ref.file,
      ref.path,
      'MQFLOW_UNKNOWN_REFERENCE',
      `${formatPath(ref.path)}: no ${ref.kind} named "${ref.name}"${suggestion}`,
      suggestion !== '' ? undefined : list.length === 0 ? `define it under ${ref.kind}s:` : `defined ${ref.kind}s: ${list.slice(0, 10).join(', ')}${list.length > 10 ? ', …' : ''}`,
    );
  }
  checkInvokeCycles(context);
}

function checkInvokeCycles(context: CompileContext): void {
  const edges = new Map<string, Reference[]>();
  for (const ref of context.references) {
    if (ref.kind !== 'service' || ref.fromService === undefined) continue;
    edges.set(ref.fromService, [...(edges.get(ref.fromService) ?? []), ref]);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (service: string): void => {
    state.set(service, 'visiting');
    stack.push(service);
    for (const ref of edges.get(service) ?? []) {
      const next = ref.name;
      if (state.get(next) === 'visiting') {
        // Read from the service whose step is pointed at: "a → b → a" reported in a.
        const loop = stack.slice(stack.indexOf(next));
        const cycle = [service, ...loop.slice(0, -1), service];
        const key = normalizeCycle(loop);
        if (!reported.has(key)) {
          reported.add(key);
          report(context, ref.file, ref.path, 'MQFLOW_INVOKE_CYCLE', `invoke cycle: ${cycle.join(' → ')}`, 'a service may not invoke itself, directly or through other services');
        }
      } else if (state.get(next) === undefined) {
        visit(next);
      }
    }
    stack.pop();
    state.set(service, 'done');
  };
  for (const service of [...edges.keys()].sort()) if (state.get(service) === undefined) visit(service);
}

/** The same cycle found from another start reads the same: rotate it to start at its smallest name. */
function normalizeCycle(cycle: string[]): string {
  let best = 0;
  for (let i = 1; i < cycle.length; i++) if (cycle[i]! < cycle[best]!) best = i;
  return [...cycle.slice(best), ...cycle.slice(0, best)].join('\0');
}
