/**
 * The demand on a PostgreSQL database's pool: weir's requests for a pooled connection, counted from the
 * moment one is asked until its connection is handed back (or the request fails).
 *
 * Inputs: a request asked (`ask`), answered by the pool with a connection or an error (`answered`), and
 * over (`settle`); the pg pool's `acquire` and `release` events, for every checkout (`db.pool`'s own too).
 * Outputs: the refusal of one request past `max + maxWaiting` (503 at once), and of one not answered
 * within `acquireTimeoutMs` (503, on one timer per pool: postgres-wait.ts); `drained()`, which close()
 * waits for; `stats()`; one message per request on `weir:db.acquire` while it has subscribers.
 * Invariants: 0 ≤ waiting ≤ demand. A request whose caller gave up (its signal fired) or that timed out
 * still counts until the pool answers it and its connection goes back, as it still takes a place in the
 * pool's line.
 */
import type * as Pg from 'pg';
import type { PoolStats } from './database.ts';
import { unavailable } from './errors.ts';
import { acquiredAtOnce, startAcquire } from './observe.ts';
import { Wait, WaitLine } from './postgres-wait.ts';

export class PoolDemand {
  readonly #pool: Pg.Pool;
  readonly #url: string;
  readonly #max: number;
  readonly #capacity: number;
  // acquireTimeoutMs, 0 for none: also pg's connectionTimeoutMillis, which `db.pool.connect()` keeps.
  readonly #acquireTimeoutMs: number;
  // undefined when requests may wait for ever.
  readonly #line: WaitLine | undefined;
  // Asked and not yet over: holding a connection, or waiting for one.
  #demand = 0;
  // Asked and not yet answered by the pool (in its line, or its connection still being opened).
  #waiting = 0;
  // Connections checked out of the pool now, by weir or through `db.pool`.
  #checkedOut = 0;
  #drained: (() => void) | undefined;

  constructor(
    pool: Pg.Pool,
    settings: { url: string; max: number; maxWaiting: number; acquireTimeoutMs: number },
  ) {
    const { url, max, acquireTimeoutMs } = settings;
    this.#pool = pool;
    this.#url = url;
    this.#max = max;
    this.#capacity = max + settings.maxWaiting;
    this.#acquireTimeoutMs = acquireTimeoutMs;
    this.#line =
      acquireTimeoutMs === 0
        ? undefined
        : new WaitLine(acquireTimeoutMs, () =>
            unavailable(url, `no connection came free within acquireTimeoutMs (${acquireTimeoutMs} ms)`),
          );
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

  /**
   * Counts a request about to be made of the pool. Past `acquireTimeoutMs` without an answer it is
   * refused with `reject` and marked `expired`: the connection it gets later goes straight back.
   */
  ask(reject: (reason: unknown) => void): Wait {
    this.#demand++;
    this.#waiting++;
    const timer = startAcquire('postgres');
    return this.#line?.add(timer, reject) ?? new Wait(Number.POSITIVE_INFINITY, timer, reject);
  }

  /**
   * Asks the pool for a connection for a request counted by `ask`. pg's pool reads connectionTimeoutMillis
   * at each connect(): weir's requests ask with it at 0, so that pg arms no timer of its own for each (the
   * line times them; a connection pg opens for one is bounded by the Client's own connect timeout, see
   * openPostgres), and `db.pool.connect()` keeps it. pg's callback gets the connection as is: no wrapper
   * per query.
   */
  connect(
    callback: (error: Error | undefined, client: Pg.PoolClient, done: (release?: unknown) => void) => void,
  ): void {
    const options = this.#pool.options;
    options.connectionTimeoutMillis = 0;
    try {
      this.#pool.connect(callback as Parameters<Pg.Pool['connect']>[0] & object);
    } finally {
      options.connectionTimeoutMillis = this.#acquireTimeoutMs;
    }
  }

  /** The pool answered a request, with a connection or with `error` (null or undefined for none). */
  answered(wait: Wait, error: unknown): void {
    this.#waiting--;
    this.#line?.answered(wait);
    wait.timer?.end(error === undefined || error === null);
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
