/** `$now()`, `$millis()` and `$random()` that a test case can fix, so its outputs are deterministic. */
import jsonata from 'jsonata';

/** What the functions return while a case runs; unset values behave as JSONata's own. */
export interface FixedValues {
  now?: string;
  random?: number;
  /** The case's clock (fixed.now, moved by each message's `at`): $now() and $millis() read it when set. */
  clock?: () => number;
}

const fromMillis = jsonata('$fromMillis($ms, $picture, $timezone)');

/** Functions for createJsonataEngine({ functions }); they read `holder.current` at each call. */
export function fixedFunctions(holder: { current: FixedValues }): Record<string, (...args: unknown[]) => unknown> {
  const millis = (): number => {
    const { clock, now } = holder.current;
    if (clock !== undefined) return clock();
    return now === undefined ? Date.now() : Date.parse(now);
  };
  return {
    millis,
    now: (picture?: unknown, timezone?: unknown) => {
      if (picture === undefined && timezone === undefined) return new Date(millis()).toISOString();
      return fromMillis.evaluate({}, { ms: millis(), picture, timezone });
    },
    random: () => holder.current.random ?? Math.random(),
  };
}
