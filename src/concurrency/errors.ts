import { HttpError, httpError, WeirError } from '../errors.ts';

/**
 * The errors of the concurrency primitives. Cancellation itself is not an error type of weir's: an
 * aborted operation rejects with its signal's `reason`, whatever the caller put there.
 */

/**
 * `timeout()` ran out. `code` is `WEIR_ERR_TIMEOUT`. It is an `HttpError` 503, so a handler that lets it
 * propagate answers "try again" rather than a 500.
 */
export class TimeoutError extends HttpError {
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(503, 'WEIR_ERR_TIMEOUT', `The operation did not finish within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** A closed `Queue` was put to, or read after it drained. */
export function queueClosed(): WeirError {
  return new WeirError('WEIR_ERR_QUEUE_CLOSED', 'The queue is closed');
}

/** The worker pool's queue is full: answers 503 with `Retry-After: 1` when it reaches the HTTP layer. */
export function workerQueueFull(maxQueue: number): WeirError {
  return httpError(
    'WEIR_ERR_WORKER_QUEUE_FULL',
    `The worker pool is saturated (${maxQueue} tasks waiting); try again shortly`,
    undefined,
    { headers: { 'retry-after': '1' } },
  );
}
