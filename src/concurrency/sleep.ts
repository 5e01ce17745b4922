import { invalidOption } from '../errors.ts';
import { needsBudget, withinBudget } from './deadline.ts';
import { onAbort, reasonOf } from './signal.ts';

/** Options for operations that can be cancelled. */
export interface SignalOptions {
  /** Aborting it rejects the operation with the signal's reason and releases what it held. */
  signal?: AbortSignal;
  /**
   * An absolute deadline (epoch ms, `Date.now()`'s clock): past it the operation rejects with
   * `WEIR_ERR_DEADLINE_EXCEEDED`, and it does not start at all once it has passed. A request's `ctx`
   * carries both `signal` and `deadline`, so `{ ...ctx }`-style passing is not needed: pass `ctx`.
   */
  deadline?: number;
}

/**
 * Resolves after `ms` milliseconds. Rejects with `signal.reason` if the signal aborts first, and then
 * clears its timer: nothing is left behind.
 * @example await sleep(100, { signal: ctx.signal });
 */
export function sleep(ms: number, options?: SignalOptions): Promise<void> {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0)
    throw invalidOption('sleep() ms', 'a number ≥ 0', ms);
  if (needsBudget(options)) return withinBudget(options, (signal) => sleep(ms, { signal }));
  const signal = options?.signal;
  if (signal?.aborted) return Promise.reject(reasonOf(signal));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      detach();
      resolve();
    }, ms);
    const detach = onAbort(signal, () => {
      clearTimeout(timer);
      reject(reasonOf(signal!));
    });
  });
}
