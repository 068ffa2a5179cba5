/** A state failure, with the code the message fails with; the steps add where it happened. */
export type StateErrorCode = 'MQFLOW_STATE_UNAVAILABLE' | 'MQFLOW_STATE_BUSY' | 'MQFLOW_STATE_LIMIT' | 'MQFLOW_STATE_VALUE';

export class StateError extends Error {
  constructor(
    message: string,
    readonly code: StateErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StateError';
  }

  /** Limit and value errors fail again on a retry (docs/architecture.md, invariant 39). */
  get permanent(): boolean {
    return this.code === 'MQFLOW_STATE_LIMIT' || this.code === 'MQFLOW_STATE_VALUE';
  }
}

/** A store's failure as the message sees it: its own StateError, or MQFLOW_STATE_UNAVAILABLE. */
export function unavailable(error: unknown, storeName: string): StateError {
  if (error instanceof StateError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StateError(`store "${storeName}" is unavailable: ${message}`, 'MQFLOW_STATE_UNAVAILABLE', { cause: error });
}
