/**
 * The one implementation of {@link Cache}, over any {@link Store}: key namespacing, the life of entries,
 * get/getMany/set/delete/clear, stats, and the rule that a cache outage is never a request failure (a
 * failed read is a miss, a failed write is skipped, both logged once until the store answers again).
 * Values pass through a {@link Codec}; `wrap()` answers hits itself and hands misses and stale refreshes
 * to {@link SingleFlight}.
 */
import { reasonOf } from '../concurrency/signal.ts';
import type { SignalOptions } from '../concurrency/sleep.ts';
import { invalidOption, WeirError } from '../errors.ts';
import { defaultLogger, type Logger, silentLogger } from '../internal/logger.ts';
import type { Cache, CacheStats, CoreOptions, Loader, SetOptions, WrapOptions } from './cache.ts';
import { type Codec, json, MISS, SerializerCodec } from './codec.ts';
import { checkDuration, checkLife, entryOf, fresh, withinStale } from './life.ts';
import { type FlightHost, SingleFlight } from './single-flight.ts';
import type { CacheStatus, Entry, Store } from './store.ts';

/** A {@link Cache} over one {@link Store}; `openCache()` builds it, backends tell it their status. */
export class StoreCache implements Cache {
  readonly backend: 'memory' | 'redis' | 'tiered';
  readonly url: string;
  readonly namespace: string;
  readonly #store: Store;
  readonly #prefix: string;
  readonly #defaultTtl: number;
  readonly #codec: Codec;
  readonly #log: Logger;
  readonly #flights: SingleFlight;
  readonly #stats = { hits: 0, misses: 0, stale: 0, loads: 0, errors: 0 };
  /** A store operation failed and was logged; the next failures are not, until the store answers again. */
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
    const lockTtl = checkDuration('Cache lockTtlMs', options.lockTtlMs ?? 5000, false);
    const lockWait = checkDuration('Cache lockWaitMs', options.lockWaitMs ?? 1000, true);
    this.#log = options.logger === false ? silentLogger : (options.logger ?? defaultLogger('weir.cache'));
    this.#codec = new SerializerCodec(options.serializer ?? json, maxValueBytes, this.#log, url);
    this.#flights = new SingleFlight(store, this.#flightHost(), lockTtl, lockWait);
  }

  /** What SingleFlight may do to this cache: made once, so a miss allocates no closure. */
  #flightHost(): FlightHost {
    return {
      read: (full) => this.#read(full),
      decode: (data) => this.#codec.decode(data),
      write: (full, value, options) => this.#write(full, value, options),
      fail: (operation, err) => this.#fail(operation, err),
      loading: () => {
        this.#stats.loads++;
      },
      refreshFailed: (full, err) =>
        this.#log.warn(
          { cache: this.url, key: full, err },
          'cache: a background refresh failed; the stale value stays',
        ),
    };
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
          this.#flights.refresh(full, loader, options);
          return value as T;
        }
      }
    }
    this.#stats.misses++;
    throwIfAborted(signal);
    return this.#flights.join(full, loader, options, signal) as Promise<T>;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flights.abortAll(() => new WeirError('WEIR_ERR_CACHE_CLOSED', `Cache ${this.url} is closed`));
    await this.#store.close();
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw reasonOf(signal);
}
