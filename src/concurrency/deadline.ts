import { httpError, invalidOption } from '../errors.ts';
import { noop, onAbort, reasonOf, scopedController } from './signal.ts';
import type { SignalOptions } from './sleep.ts';

/**
 * Deadlines: an absolute instant (epoch milliseconds, `Date.now()`'s clock) past which a piece of work is
 * no longer worth doing. A request's deadline is `ctx.deadline`; weir's functions that take
 * `{ signal, deadline }` (or `ctx` itself) stop at the earlier of the two, and do not start once the
 * deadline has passed.
 */

/**
 * On a signal known to abort by itself at (or before) an instant, that instant: a request's signal, or one
 * made here. A property rather than a WeakMap entry: it is set once per request and read once per query.
 */
const kAbortsAt = Symbol('weir.abortsAt');
type Timed = AbortSignal & { [kAbortsAt]?: number };

/** Records that `signal` (one made by {@link budget}) aborts by itself at `deadline`. */
function markDeadline(signal: AbortSignal, deadline: number): void {
  (signal as Timed)[kAbortsAt] = deadline;
}

/** The error work rejects with when its deadline passes (503 when it reaches a client). */
export function deadlineExceeded(): Error {
  return httpError('WEIR_ERR_DEADLINE_EXCEEDED', 'The deadline passed before the work could finish');
}

/**
 * Milliseconds left until `deadline` (never below 0), or `Infinity` with none.
 * @example if (timeLeft(ctx.deadline) < 50) return cachedAnswer;
 */
export function timeLeft(deadline: number | undefined): number {
  return deadline === undefined ? Number.POSITIVE_INFINITY : Math.max(0, deadline - Date.now());
}

/** A signal to run one operation under, and the function that frees what it holds once it settles. */
export interface Budget {
  readonly signal: AbortSignal | undefined;
  readonly release: () => void;
}

const UNBOUNDED: Budget = { signal: undefined, release: noop };

/**
 * Set (to `true`, on a prototype) by option objects whose `signal` aborts by itself at their `deadline`:
 * a request's `ctx`. Internal.
 */
export const kEnforcesDeadline = Symbol('weir.enforcesDeadline');

/**
 * True when `options` carry a deadline their signal does not already enforce: only then does an operation
 * need {@link budget}'s own signal and timer. A request's `ctx` enforces its own (its signal aborts at its
 * deadline), so passing `ctx` costs a property read here and nothing more.
 */
export function needsBudget(options: SignalOptions | undefined): boolean {
  const deadline = options?.deadline;
  if (deadline === undefined) return false;
  if ((options as { [kEnforcesDeadline]?: boolean })[kEnforcesDeadline] === true) return false;
  const signal = options?.signal;
  if (signal === undefined) return true;
  const own = (signal as Timed)[kAbortsAt];
  return !(signal.aborted || (own !== undefined && own <= deadline));
}

/**
 * The signal an operation given `options` runs under: `options.signal`, made to abort at
 * `options.deadline` too (with `WEIR_ERR_DEADLINE_EXCEEDED`). With no deadline, or a signal already timed
 * to abort by then (a request's), that is `options.signal` itself and costs nothing; otherwise a linked
 * signal and one timer, both freed by `release()`. A deadline already past gives a signal already aborted.
 * @throws WEIR_ERR_INVALID_OPTION when `deadline` is not a finite number.
 */
export function budget(options: SignalOptions | undefined): Budget {
  if (options === undefined) return UNBOUNDED;
  const { signal, deadline } = options;
  if (deadline === undefined || (options as { [kEnforcesDeadline]?: boolean })[kEnforcesDeadline] === true) {
    return signal === undefined ? UNBOUNDED : { signal, release: noop };
  }
  if (typeof deadline !== 'number' || !Number.isFinite(deadline)) {
    throw invalidOption('deadline', 'an epoch time in milliseconds (Date.now() + ms)', deadline);
  }
  if (signal !== undefined) {
    const own = (signal as Timed)[kAbortsAt];
    if (signal.aborted || (own !== undefined && own <= deadline)) return { signal, release: noop };
  }
  const controller = scopedController();
  const left = deadline - Date.now();
  if (left <= 0) {
    controller.abort(deadlineExceeded());
    return { signal: controller.signal, release: noop };
  }
  markDeadline(controller.signal, deadline);
  const unlink = onAbort(signal, () => controller.abort(reasonOf(signal!)));
  // Past 2^31 - 1 ms a timer fires at once: such a deadline is no deadline.
  // Not unref'd: the timer is what settles a wait that nothing else will (a lock nobody releases).
  const timer =
    left > 2_147_483_647 ? undefined : setTimeout(() => controller.abort(deadlineExceeded()), left);
  return {
    signal: controller.signal,
    release: () => {
      clearTimeout(timer);
      unlink();
    },
  };
}

/**
 * Runs `work` under {@link budget}: not at all (rejecting with the reason) when the signal has aborted or
 * the deadline passed, and freeing the budget once it settles.
 */
export async function withinBudget<T>(
  options: SignalOptions | undefined,
  work: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const { signal, release } = budget(options);
  try {
    if (signal?.aborted) throw reasonOf(signal);
    return await work(signal);
  } finally {
    release();
  }
}
