/**
 * The demand on a PostgreSQL database's pool: weir's requests for a pooled connection, counted from the
 * moment one is asked until its connection is handed back (or the request fails).
 *
 * Inputs: a request asked (`ask`), answered by the pool with a connection or an error (`answered`), and
 * over (`settle`); the pg pool's `acquire` and `release` events, for every checkout (`db.pool`'s own too).
 * Outputs: the refusal of one request past `max + maxWaiting` (503 at once); `drained()`, which close()
 * waits for; `stats()`; one message per request on `weir:db.acquire` while it has subscribers.
 * Invariants: 0 ≤ waiting ≤ demand. A request whose caller gave up (its signal fired) still counts until
 * the pool answers it and its connection goes back, as it still takes a place in the pool's line.
 */
import type * as Pg from 'pg';
import type { PoolStats } from './database.ts';
import { unavailable } from './errors.ts';
import { type AcquireTimer, acquiredAtOnce, startAcquire } from './observe.ts';

export class PoolDemand {
  readonly #pool: Pg.Pool;
  readonly #url: string;
  readonly #max: number;
  readonly #capacity: number;
  // Asked and not yet over: holding a connection, or waiting for one.
  #demand = 0;
  // Asked and not yet answered by the pool (in its line, or its connection still being opened).
  #waiting = 0;
  // Connections checked out of the pool now, by weir or through `db.pool`.
  #checkedOut = 0;
  #drained: (() => void) | undefined;

  constructor(pool: Pg.Pool, url: string, max: number, maxWaiting: number) {
    this.#pool = pool;
    this.#url = url;
    this.#max = max;
    this.#capacity = max + maxWaiting;
    pool.on('acquire', () => {
      this.#checkedOut++;
    });
    pool.on('release', () => {
      this.#checkedOut--;
    });
  }

  /** Why one more request is refused now (`max + maxWaiting` asked already: 503), or undefined. */
  refusal(): unknown {
    if (this.#demand < this.#capacity) return undefined;
    acquiredAtOnce('postgres', false);
    return unavailable(
      this.#url,
      `${this.#demand - this.#max} queries already wait for a connection (maxWaiting)`,
    );
  }

  /** Counts a request about to be made of the pool; returns its timer while the channel is observed. */
  ask(): AcquireTimer | undefined {
    this.#demand++;
    this.#waiting++;
    return startAcquire('postgres');
  }

  /** The pool answered a request, with a connection or with `error` (null or undefined for none). */
  answered(timer: AcquireTimer | undefined, error: unknown): void {
    this.#waiting--;
    timer?.end(error === undefined || error === null);
  }

  /** A request is over: its connection handed back, or its failure dealt with. */
  settle(): void {
    if (--this.#demand === 0) this.#drained?.();
  }

  /** Resolves once no request is left: at once when none is. */
  drained(): Promise<void> {
    if (this.#demand === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drained = resolve;
    });
  }

  /** The pool now: every count read from a field or a pg getter, nothing allocated but the result. */
  stats(): PoolStats {
    return {
      driver: 'postgres',
      max: this.#max,
      open: this.#checkedOut + this.#pool.idleCount,
      inUse: this.#checkedOut,
      waiting: this.#waiting,
    };
  }
}
