import { invalidOption } from '../errors.ts';
import { needsBudget, withinBudget } from './deadline.ts';
import { TimeoutError } from './errors.ts';
import { linkedController, onAbort, reasonOf } from './signal.ts';
import type { SignalOptions } from './sleep.ts';

/** Work for {@link timeout}: a promise, or a function that starts the work and honours the signal it gets. */
export type Work<T> = PromiseLike<T> | ((signal: AbortSignal) => PromiseLike<T> | T);

/**
 * Runs `work` with a deadline. When `ms` passes first it rejects with a {@link TimeoutError} and aborts
 * the signal it handed to `work` (with that error as the reason), so the work stops too. An abort of
 * `options.signal` rejects with its reason instead. A bare promise cannot be stopped, only abandoned:
 * pass a function to get cancellation.
 * @throws TimeoutError `WEIR_ERR_TIMEOUT`
 * @example const rows = await timeout((signal) => db.query(sql, { signal }), 500, { signal: ctx.signal });
 */
export function timeout<T>(work: Work<T>, ms: number, options?: SignalOptions): Promise<T> {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0)
    throw invalidOption('timeout() ms', 'a number ≥ 0', ms);
  if (needsBudget(options)) {
    return withinBudget(options, (signal) => timeout(work, ms, { signal }));
  }
  const outer = options?.signal;
  if (outer?.aborted) return Promise.reject(reasonOf(outer));
  const { controller, dispose } = linkedController(outer);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      dispose();
      detach();
      return true;
    };
    const timer = setTimeout(() => {
      const err = new TimeoutError(ms);
      if (finish()) {
        controller.abort(err);
        reject(err);
      }
    }, ms);
    const detach = onAbort(controller.signal, () => {
      if (finish()) reject(reasonOf(controller.signal));
    });
    let promise: PromiseLike<T> | T;
    try {
      promise = typeof work === 'function' ? work(controller.signal) : work;
    } catch (err) {
      if (finish()) reject(err);
      return;
    }
    Promise.resolve(promise).then(
      (value) => {
        if (finish()) resolve(value);
      },
      (err: unknown) => {
        if (finish()) reject(err);
      },
    );
  });
}
