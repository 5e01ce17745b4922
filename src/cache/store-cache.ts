/**
 * The one implementation of {@link Cache}, over any {@link Store}: namespacing, the life of entries,
 * `wrap()` with single-flight, stale-while-revalidate and a cross-process lock, and the rule that
 * a cache outage is never a request failure (a failed cache read is a miss, a failed write is skipped,
 * both are logged once). Values pass through a {@link Codec}.
 */
import { pino } from 'pino';
import { abortHook, noop, reasonOf, scopedController } from '../concurrency/signal.ts';
import { type SignalOptions, sleep } from '../concurrency/sleep.ts';
import { invalidOption, WeirError } from '../errors.ts';
import { type Logger, silentLogger } from '../internal/logger.ts';
import type { Cache, CacheStats, CoreOptions, Loader, SetOptions, WrapOptions } from './cache.ts';
import { type Codec, json, MISS, SerializerCodec } from './codec.ts';
import { checkDuration, checkLife, entryOf, fresh, withinStale } from './life.ts';
import type { CacheStatus, Entry, Store } from './store.ts';

interface Flight {
  /** The full key it loads. */
  readonly key: string;
  promise: Promise<unknown>;
  readonly controller: AbortController;
  waiters: number;
  settled: boolean;
}

export class StoreCache implements Cache {
  readonly backend: 'memory' | 'redis' | 'tiered';
  readonly url: string;
  readonly namespace: string;
  readonly #store: Store;
  readonly #prefix: string;
  readonly #defaultTtl: number;
  readonly #codec: Codec;
  readonly #log: Logger;
  readonly #lockTtl: number;
  readonly #lockWait: number;
  readonly #flights = new Map<string, Flight>();
  readonly #stats = { hits: 0, misses: 0, stale: 0, loads: 0, errors: 0 };
  #failing = false;
  #closed = false;

  constructor(backend: Cache['backend'], url: string, store: Store, options: CoreOptions) {
    this.backend = backend;
    this.url = url;
    this.#store = store;
    const namespace = options.namespace ?? 'weir';
    if (typeof namespace !== 'string' || namespace === '') {
      throw invalidOption('Cache namespace', 'a non-empty string', namespace);
    }
    this.namespace = namespace;
    this.#prefix = `${namespace}:`;
    this.#defaultTtl = checkDuration('Cache defaultTtl', options.defaultTtl ?? 60_000, false);
    const maxValueBytes = checkDuration('Cache maxValueBytes', options.maxValueBytes ?? 1024 * 1024, false);
    this.#lockTtl = checkDuration('Cache lockTtlMs', options.lockTtlMs ?? 5000, false);
    this.#lockWait = checkDuration('Cache lockWaitMs', options.lockWaitMs ?? 1000, true);
    this.#log =
      options.logger === false
        ? silentLogger
        : (options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info', name: 'weir.cache' }));
    this.#codec = new SerializerCodec(options.serializer ?? json, maxValueBytes, this.#log, url);
  }

  /** Called by the backend when its connection comes or goes. */
  statusChanged(status: CacheStatus, reason: unknown): void {
    if (status === 'degraded') {
      this.#log.warn(
        { cache: this.url, err: reason },
        `cache ${this.url} is unavailable: loaders run uncached until it answers again`,
      );
    } else {
      this.#failing = false;
      this.#log.info({ cache: this.url }, `cache ${this.url} answers again`);
    }
  }

  get status(): CacheStatus {
    return this.#store.status;
  }

  stats(): CacheStats {
    return { status: this.#store.status, ...this.#stats };
  }

  #ensureOpen(): void {
    if (this.#closed) throw new WeirError('WEIR_ERR_CACHE_CLOSED', `Cache ${this.url} is closed`);
  }

  #key(key: string): string {
    if (typeof key !== 'string') throw invalidOption('Cache key', 'a string', key);
    this.#ensureOpen();
    return this.#prefix + key;
  }

  /** A failed backend operation: counted, logged once until the backend answers again. */
  #fail(operation: string, err: unknown): void {
    this.#stats.errors++;
    if (this.#failing) return;
    this.#failing = true;
    this.#log.warn(
      { cache: this.url, err },
      `cache ${operation} failed: treated as a miss; further failures are not logged until it recovers`,
    );
  }

  async #read(full: string): Promise<Entry | undefined> {
    try {
      return await this.#store.get(full);
    } catch (err) {
      this.#fail('read', err);
      return undefined;
    }
  }

  async #write(full: string, value: unknown, options: SetOptions | undefined): Promise<void> {
    const data = this.#codec.encode(value);
    const entry = data === undefined ? undefined : entryOf(data, options, this.#defaultTtl);
    try {
      if (entry === undefined) await this.#store.delete(full);
      else await this.#store.set(full, entry);
    } catch (err) {
      this.#fail('write', err);
    }
  }

  async get<T = unknown>(key: string, options?: SignalOptions): Promise<T | undefined> {
    const full = this.#key(key);
    throwIfAborted(options?.signal);
    const entry = await this.#read(full);
    throwIfAborted(options?.signal);
    if (entry === undefined || !fresh(entry, Date.now())) {
      this.#stats.misses++;
      return undefined;
    }
    const value = this.#codec.decode(entry.data);
    if (value === MISS) {
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    return value as T;
  }

  async getMany<T = unknown>(keys: readonly string[], options?: SignalOptions): Promise<(T | undefined)[]> {
    const full = keys.map((key) => this.#key(key));
    throwIfAborted(options?.signal);
    let entries: (Entry | undefined)[];
    try {
      entries = await this.#store.getMany(full);
    } catch (err) {
      this.#fail('read', err);
      entries = full.map(() => undefined);
    }
    throwIfAborted(options?.signal);
    const now = Date.now();
    return entries.map((entry) => {
      const value = entry === undefined || !fresh(entry, now) ? MISS : this.#codec.decode(entry.data);
      if (value === MISS) {
        this.#stats.misses++;
        return undefined;
      }
      this.#stats.hits++;
      return value as T;
    });
  }

  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    const full = this.#key(key);
    if (value === undefined) throw invalidOption('cache.set() value', 'a value other than undefined', value);
    await this.#write(full, value, options);
  }

  async delete(key: string): Promise<boolean> {
    const full = this.#key(key);
    try {
      return await this.#store.delete(full);
    } catch (err) {
      this.#fail('delete', err);
      return false;
    }
  }

  async clear(sub?: string): Promise<void> {
    this.#ensureOpen();
    const prefix = sub === undefined ? this.#prefix : `${this.#key(sub)}:`;
    try {
      await this.#store.clear(prefix);
    } catch (err) {
      this.#fail('clear', err);
    }
  }

  async wrap<T>(key: string, loader: Loader<T>, options?: WrapOptions): Promise<T> {
    const full = this.#key(key);
    if (typeof loader !== 'function') throw invalidOption('cache.wrap() loader', 'a function', loader);
    if (options !== undefined) checkLife(options);
    const signal = options?.signal;
    throwIfAborted(signal);
    const entry = await this.#read(full);
    if (entry !== undefined) {
      const now = Date.now();
      if (fresh(entry, now)) {
        const value = this.#codec.decode(entry.data);
        if (value !== MISS) {
          this.#stats.hits++;
          return value as T;
        }
      } else if ((options?.staleWhileRevalidate ?? 0) > 0 && withinStale(entry, now)) {
        const value = this.#codec.decode(entry.data);
        if (value !== MISS) {
          this.#stats.stale++;
          this.#refresh(full, loader, options);
          return value as T;
        }
      }
    }
    this.#stats.misses++;
    throwIfAborted(signal);
    return this.#join(this.#flight(full, loader, options), signal) as Promise<T>;
  }

  /** One background load of a stale key, whoever else asks meanwhile. Its failure is logged. */
  #refresh(full: string, loader: Loader<unknown>, options: SetOptions | undefined): void {
    if (this.#flights.has(full)) return;
    const flight = this.#flight(full, loader, options);
    flight.waiters++;
    flight.promise.catch((err: unknown) => {
      this.#log.warn(
        { cache: this.url, key: full, err },
        'cache: a background refresh failed; the stale value stays',
      );
    });
  }

  #flight(full: string, loader: Loader<unknown>, options: SetOptions | undefined): Flight {
    const existing = this.#flights.get(full);
    if (existing !== undefined) return existing;
    const controller = scopedController();
    const flight: Flight = { key: full, promise: Promise.resolve(), controller, waiters: 0, settled: false };
    flight.promise = this.#fill(full, loader, options, controller.signal).finally(() => {
      flight.settled = true;
      if (this.#flights.get(full) === flight) this.#flights.delete(full);
    });
    // A flight whose every caller left still settles; its rejection must not go unhandled.
    flight.promise.catch(noop);
    this.#flights.set(full, flight);
    return flight;
  }

  #join(flight: Flight, signal: AbortSignal | undefined): Promise<unknown> {
    flight.waiters++;
    if (signal === undefined) return flight.promise;
    return new Promise((resolve, reject) => {
      const detach = abortHook(signal, () => {
        flight.waiters--;
        if (flight.waiters === 0 && !flight.settled) {
          // Nobody wants this value any more: stop the loader, and let the next caller start afresh.
          if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
          flight.controller.abort(reasonOf(signal));
        }
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
        this.#fail('lock', err);
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
      this.#stats.loads++;
      const value = await loader({ signal });
      if (value !== undefined) await this.#write(full, value, options);
      return value;
    } finally {
      if (token !== undefined)
        store.unlock?.(lockKey, token).catch((err: unknown) => this.#fail('unlock', err));
    }
  }

  /** Another process holds the lock: poll for its value, with backoff, up to `lockWaitMs`. */
  async #awaitOther(full: string, signal: AbortSignal): Promise<unknown> {
    const deadline = Date.now() + this.#lockWait;
    let delay = 5;
    while (Date.now() + delay <= deadline) {
      await sleep(delay, { signal });
      const entry = await this.#read(full);
      if (entry !== undefined && fresh(entry, Date.now())) {
        const value = this.#codec.decode(entry.data);
        if (value !== MISS) return value;
      }
      delay = Math.min(delay * 2, 100);
    }
    return MISS;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const flight of this.#flights.values()) {
      flight.controller.abort(new WeirError('WEIR_ERR_CACHE_CLOSED', `Cache ${this.url} is closed`));
    }
    this.#flights.clear();
    await this.#store.close();
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw reasonOf(signal);
}
