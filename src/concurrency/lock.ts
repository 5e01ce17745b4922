import { httpError, WeirError } from '../errors.ts';
import { Fifo } from '../internal/fifo.ts';
import { needsBudget, withinBudget } from './deadline.ts';
import { onAbort, reasonOf } from './signal.ts';
import type { SignalOptions } from './sleep.ts';

/** Gives back what was acquired. Calling it twice is a no-op; works with `using`. */
export interface Releaser {
  (): void;
  [Symbol.dispose](): void;
}

interface Waiter {
  readonly grant: () => void;
  cancelled: boolean;
}

/**
 * A counting semaphore with FIFO hand-off: a released permit goes to the longest waiter, so no caller
 * starves. It is bounded: releasing more than was acquired is impossible, since each permit comes back
 * only through its own {@link Releaser}.
 * @example
 * const db = new Semaphore(16);
 * using _permit = await db.acquire({ signal: ctx.signal });
 */
export class Semaphore {
  readonly #capacity: number;
  readonly #maxWaiting: number;
  #available: number;
  // Cancelled waiters stay in the line (marked) until reached; #live counts the others, so `waiting` is O(1).
  readonly #waiters = new Fifo<Waiter>();
  #live = 0;

  /**
   * @param permits how many holders at once (≥ 1)
   * @param options.maxWaiting most callers waiting; one more rejects at once with
   *   `WEIR_ERR_SEMAPHORE_FULL`, an `HttpError` 503 with `Retry-After: 1`. @default Infinity
   */
  constructor(permits: number, options: { maxWaiting?: number } = {}) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new WeirError(
        'WEIR_ERR_INVALID_OPTION',
        `Semaphore permits must be an integer ≥ 1, received ${String(permits)}`,
      );
    }
    const maxWaiting = options.maxWaiting ?? Number.POSITIVE_INFINITY;
    if (!(maxWaiting >= 0)) {
      throw new WeirError(
        'WEIR_ERR_INVALID_OPTION',
        `Semaphore maxWaiting must be ≥ 0, received ${String(maxWaiting)}`,
      );
    }
    this.#capacity = permits;
    this.#available = permits;
    this.#maxWaiting = maxWaiting;
  }

  /** Permits free right now. */
  get available(): number {
    return this.#available;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#live;
  }

  /** Takes a permit now if one is free; `undefined` otherwise. */
  tryAcquire(): Releaser | undefined {
    // Invariant: permits are only free while nobody waits (a release hands its permit to a waiter).
    if (this.#available > 0) {
      this.#available--;
      return this.#releaser();
    }
    return undefined;
  }

  /** Waits for a permit (FIFO). Aborting the signal withdraws from the line and rejects with its reason. */
  acquire(options?: SignalOptions): Promise<Releaser> {
    if (needsBudget(options)) return withinBudget(options, (signal) => this.acquire({ signal }));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(reasonOf(signal));
    const now = this.tryAcquire();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#live >= this.#maxWaiting) {
      // An HttpError, so a handler that lets it propagate sheds load (503) instead of failing (500).
      return Promise.reject(
        httpError(
          'WEIR_ERR_SEMAPHORE_FULL',
          `${this.#maxWaiting} callers are already waiting for a permit`,
          undefined,
          { headers: { 'retry-after': '1' } },
        ),
      );
    }
    return new Promise<Releaser>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          this.#live--;
          detach();
          resolve(this.#releaser());
        },
        cancelled: false,
      };
      const detach = onAbort(signal, () => {
        waiter.cancelled = true;
        this.#live--;
        reject(reasonOf(signal!));
      });
      this.#waiters.push(waiter);
      this.#live++;
    });
  }

  /** Runs `fn` holding a permit, and releases it however `fn` ends. */
  async run<T>(fn: () => PromiseLike<T> | T, options?: SignalOptions): Promise<T> {
    const release = await this.acquire(options);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  #releaser(): Releaser {
    let released = false;
    const release = (() => {
      if (released) return;
      released = true;
      this.#handOff();
    }) as Releaser;
    release[Symbol.dispose] = release;
    return release;
  }

  /** Gives the freed permit to the next live waiter, or back to the pool. */
  #handOff(): void {
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      if (!waiter.cancelled) {
        waiter.grant();
        return;
      }
    }
    this.#available = Math.min(this.#available + 1, this.#capacity);
  }
}

/**
 * A mutual-exclusion lock with FIFO hand-off.
 * @example
 * using _held = await lock.acquire({ signal });
 * // … critical section …
 */
export class Lock {
  readonly #semaphore = new Semaphore(1);

  /** True while someone holds the lock. */
  get locked(): boolean {
    return this.#semaphore.available === 0;
  }

  /** Waits for the lock; returns its releaser. */
  acquire(options?: SignalOptions): Promise<Releaser> {
    return this.#semaphore.acquire(options);
  }

  /** Runs `fn` holding the lock. */
  run<T>(fn: () => PromiseLike<T> | T, options?: SignalOptions): Promise<T> {
    return this.#semaphore.run(fn, options);
  }
}
