import { invalidOption } from '../errors.ts';
import { needsBudget, withinBudget } from './deadline.ts';
import { linkedController, reasonOf } from './signal.ts';

/** A task for {@link gather}: started only when a slot is free, with the gather's signal. */
export type Task<T> = (signal: AbortSignal) => PromiseLike<T> | T;

/** Options of {@link gather}. */
export interface GatherOptions {
  /** Most tasks running at once. @default Infinity (all at once) */
  limit?: number;
  /** Aborting it stops starting tasks, aborts the running ones (through their signal) and rejects. */
  signal?: AbortSignal;
  /** A deadline (epoch ms): past it, as if `signal` aborted, with `WEIR_ERR_DEADLINE_EXCEEDED`. */
  deadline?: number;
  /**
   * Wait for every task and report each outcome, like `Promise.allSettled`, instead of failing fast.
   * @default false
   */
  settle?: boolean;
}

/** The signal of a gather whose tasks cannot use one: never aborts. */
const NEVER: AbortSignal = new AbortController().signal;

type Results<T extends readonly Task<unknown>[]> = { -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> };
type Settled<T extends readonly Task<unknown>[]> = {
  -readonly [K in keyof T]: PromiseSettledResult<Awaited<ReturnType<T[K]>>>;
};

/**
 * Runs tasks with at most `limit` at once and resolves with their results in input order.
 * The first failure aborts the signal every running task got (with the error as reason), starts no
 * further task and rejects with that error; with `settle: true` every task runs and each outcome is
 * reported instead.
 * @example
 * const rows = await gather(ids.map((id) => (signal) => db.one(id, { signal })), { limit: 16, signal: ctx.signal });
 */
export function gather<const T extends readonly Task<unknown>[]>(
  tasks: T,
  options: GatherOptions & { settle: true },
): Promise<Settled<T>>;
export function gather<const T extends readonly Task<unknown>[]>(
  tasks: T,
  options?: GatherOptions,
): Promise<Results<T>>;
export function gather(tasks: readonly Task<unknown>[], options: GatherOptions = {}): Promise<unknown[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 1) || (limit !== Number.POSITIVE_INFINITY && !Number.isInteger(limit))) {
    throw invalidOption('gather() limit', 'an integer ≥ 1 or Infinity', limit);
  }
  if (!Array.isArray(tasks) || tasks.some((t) => typeof t !== 'function')) {
    throw invalidOption('gather() tasks', 'an array of functions (signal) => value | promise', tasks);
  }
  if (needsBudget(options)) {
    return withinBudget(options, (signal) => gather(tasks, { limit, settle: options.settle, signal }));
  }
  const settle = options.settle === true;
  const outer = options.signal;
  if (outer?.aborted) return Promise.reject(reasonOf(outer));
  const total = tasks.length;
  if (total === 0) return Promise.resolve([]);
  // Tasks that take no argument cannot see a signal: with no outer signal either, none is made (an
  // AbortController and its listeners cost more than a 20-query request's own gather bookkeeping).
  const linked =
    outer === undefined && tasks.every((t) => t.length === 0) ? undefined : linkedController(outer);
  const signal = linked === undefined ? NEVER : linked.controller.signal;
  const results: unknown[] = new Array(total);

  return new Promise<unknown[]>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      if (linked !== undefined) {
        signal.removeEventListener('abort', onAbort);
        if (!signal.aborted) linked.controller.abort(err);
        linked.dispose();
      }
      reject(err);
    };
    const onAbort = (): void => fail(reasonOf(signal));
    if (linked !== undefined) signal.addEventListener('abort', onAbort, { once: true });

    const complete = (): void => {
      if (++done === total && !failed) {
        if (linked !== undefined) {
          signal.removeEventListener('abort', onAbort);
          linked.dispose();
        }
        resolve(results);
      } else if (!failed) {
        start();
      }
    };
    const start = (): void => {
      if (failed || next >= total) return;
      const index = next++;
      let value: unknown;
      try {
        value = tasks[index]!(signal);
      } catch (err) {
        settled(index, false, err);
        return;
      }
      Promise.resolve(value).then(
        (v) => settled(index, true, v),
        (err: unknown) => settled(index, false, err),
      );
    };
    const settled = (index: number, ok: boolean, value: unknown): void => {
      if (failed) return;
      if (settle) {
        results[index] = ok ? { status: 'fulfilled', value } : { status: 'rejected', reason: value };
      } else if (ok) {
        results[index] = value;
      } else {
        fail(value);
        return;
      }
      complete();
    };
    for (let i = 0; i < Math.min(limit, total); i++) start();
  });
}
