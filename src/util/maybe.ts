/**
 * Values that are ready now or later. The message path stays synchronous while nothing waits
 * (docs/architecture.md, invariant 27): a function returns its result directly, and a Promise only
 * when it must wait. Message values are never Promises themselves, so `instanceof Promise` tells.
 */
export type Maybe<T> = T | Promise<T>;

/** `fn(value)` now when `value` is ready, else once it is. (Not named `then`: a module exporting `then` is a thenable namespace.) */
export function after<T, U>(value: Maybe<T>, fn: (value: T) => Maybe<U>): Maybe<U> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}
