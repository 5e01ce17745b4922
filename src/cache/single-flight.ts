/**
 * Loading a key that is missing or stale, once. In one process, concurrent misses of a key share a
 * flight: one call of the loader, whose value (or error) every waiting caller gets. Across processes, a
 * store with a lock lets one process load while the others poll for its value, up to `lockWaitMs`, and
 * then load themselves. A stale value is refreshed by a flight that no caller waits for.
 *
 * The loader's signal aborts only when every caller waiting for it has left, or the cache closes; a
 * background refresh counts as a caller that never leaves. A flight is in one of three states, and
 * `#move()` makes every transition:
 *   loading   — under its key in the map: callers of that key join it.
 *   abandoned — every caller left, or the cache closed: out of the map, its signal aborted, still settling.
 *   settled   — its loader returned or threw (from either state above).
 */
import { abortHook, noop, reasonOf, scopedController } from '../concurrency/signal.ts';
import { sleep } from '../concurrency/sleep.ts';
import type { Loader, SetOptions } from './cache.ts';
import { MISS } from './codec.ts';
import { fresh } from './life.ts';
import type { Entry, Store } from './store.ts';

/** What loading needs from the cache it loads for. None of it throws: the host absorbs store failures. */
export interface FlightHost {
  /** The entry stored under `full`, or `undefined` when there is none or the store failed. */
  read(full: string): Promise<Entry | undefined>;
  /** The value `entry` holds, or {@link MISS}. */
  valueOf(entry: Entry): unknown;
  /** Caches a loaded value under `full` for the life `options` give, or skips it. */
  write(full: string, value: unknown, options: SetOptions | undefined): Promise<void>;
  /** Counts and reports a failed store operation. */
  fail(operation: string, err: unknown): void;
  /** Told each time a loader is about to be called. */
  loading(): void;
  /** Told when a background refresh fails (the stale value stays). */
  refreshFailed(full: string, err: unknown): void;
}

/** The part of a store loading uses: its lock, where it has one. */
export type LockingStore = Pick<Store, 'lock' | 'unlock'>;

type FlightState = 'loading' | 'abandoned' | 'settled';

interface Flight {
  /** The full key it loads. */
  readonly key: string;
  promise: Promise<unknown>;
  readonly controller: AbortController;
  /** Callers waiting for its value; a background refresh holds one for good. */
  waiters: number;
  state: FlightState;
}

/** The flights of one cache: `wrap()`'s misses join them, its stale hits start background ones. */
export class SingleFlight {
  readonly #store: LockingStore;
  readonly #host: FlightHost;
  readonly #lockTtl: number;
  readonly #lockWait: number;
  /** Every flight in the `loading` state, by full key; no other. */
  readonly #flights = new Map<string, Flight>();

  constructor(store: LockingStore, host: FlightHost, lockTtlMs: number, lockWaitMs: number) {
    this.#store = store;
    this.#host = host;
    this.#lockTtl = lockTtlMs;
    this.#lockWait = lockWaitMs;
  }

  /** The value of the load of `full` that runs now, or of a new one; rejects if `signal` aborts first. */
  join(
    full: string,
    loader: Loader<unknown>,
    options: SetOptions | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    return this.#wait(this.#flight(full, loader, options), signal);
  }

  /** Starts one background load of a stale key, unless one runs already. Its failure goes to the host. */
  refresh(full: string, loader: Loader<unknown>, options: SetOptions | undefined): void {
    if (this.#flights.has(full)) return;
    const flight = this.#flight(full, loader, options);
    flight.waiters++;
    flight.promise.catch((err: unknown) => this.#host.refreshFailed(full, err));
  }

  /** Aborts every running load, each with a reason of its own from `reason()` (the cache closes). */
  abortAll(reason: () => unknown): void {
    // #move deletes each flight from the map as it goes, which a Map's iterator allows.
    for (const flight of this.#flights.values()) this.#move(flight, 'abandoned', reason());
  }

  #move(flight: Flight, to: 'abandoned' | 'settled', reason?: unknown): void {
    const from = flight.state;
    if (from === 'settled') return;
    flight.state = to;
    // Only a loading flight is in the map, and under its key no other flight is.
    if (from === 'loading') this.#flights.delete(flight.key);
    if (to === 'abandoned') flight.controller.abort(reason);
  }

  #flight(full: string, loader: Loader<unknown>, options: SetOptions | undefined): Flight {
    const existing = this.#flights.get(full);
    if (existing !== undefined) return existing;
    const controller = scopedController();
    const flight: Flight = {
      key: full,
      promise: Promise.resolve(),
      controller,
      waiters: 0,
      state: 'loading',
    };
    flight.promise = this.#fill(full, loader, options, controller.signal).finally(() =>
      this.#move(flight, 'settled'),
    );
    // A flight whose every caller left still settles; its rejection must not go unhandled.
    flight.promise.catch(noop);
    this.#flights.set(full, flight);
    return flight;
  }

  #wait(flight: Flight, signal: AbortSignal | undefined): Promise<unknown> {
    flight.waiters++;
    if (signal === undefined) return flight.promise;
    return new Promise((resolve, reject) => {
      const detach = abortHook(signal, () => {
        flight.waiters--;
        // Nobody wants this value any more: stop the loader, and let the next caller start afresh.
        if (flight.waiters === 0 && flight.state === 'loading')
          this.#move(flight, 'abandoned', reasonOf(signal));
        reject(reasonOf(signal));
      });
      flight.promise.then(
        (value) => {
          detach();
          resolve(value);
        },
        (err: unknown) => {
          detach();
          reject(err);
        },
      );
    });
  }

  /** Takes the store's lock (if it has one), waits for another process's value or loads it, caches it. */
  async #fill(
    full: string,
    loader: Loader<unknown>,
    options: SetOptions | undefined,
    signal: AbortSignal,
  ): Promise<unknown> {
    const store = this.#store;
    const lockKey = `weir-lock:${full}`;
    let token: string | undefined;
    if (store.lock !== undefined) {
      const got = await store.lock(lockKey, this.#lockTtl).catch((err: unknown) => {
        this.#host.fail('lock', err);
        return 'unavailable' as const;
      });
      if (got === 'held') {
        const value = await this.#awaitOther(full, signal);
        if (value !== MISS) return value;
      } else if (got !== 'unavailable') {
        token = got.token;
      }
    }
    try {
      this.#host.loading();
      const value = await loader({ signal });
      if (value !== undefined) await this.#host.write(full, value, options);
      return value;
    } finally {
      if (token !== undefined)
        store.unlock?.(lockKey, token).catch((err: unknown) => this.#host.fail('unlock', err));
    }
  }

  /** Another process holds the lock: poll for its value, with backoff, up to `lockWaitMs`. */
  async #awaitOther(full: string, signal: AbortSignal): Promise<unknown> {
    const deadline = Date.now() + this.#lockWait;
    let delay = 5;
    while (Date.now() + delay <= deadline) {
      await sleep(delay, { signal });
      const entry = await this.#host.read(full);
      if (entry !== undefined && fresh(entry, Date.now())) {
        const value = this.#host.valueOf(entry);
        if (value !== MISS) return value;
      }
      delay = Math.min(delay * 2, 100);
    }
    return MISS;
  }
}
