/**
 * The one implementation of {@link Cache}, over any {@link Store}: key namespacing, the life of entries,
 * get/getMany/set/delete/clear, stats, and the rule that a cache outage is never a request failure (a
 * failed read is a miss, a failed write is skipped, both logged once until the store answers again).
 * Values pass through a {@link Codec}; `wrap()` answers hits itself and hands misses and stale refreshes
 * to {@link SingleFlight}.
 */
import { needsBudget, withinBudget } from '../concurrency/deadline.ts';
import { reasonOf } from '../concurrency/signal.ts';
import type { SignalOptions } from '../concurrency/sleep.ts';
import { invalidOption, WeirError } from '../errors.ts';
import { defaultLogger, type Logger, silentLogger } from '../internal/logger.ts';
import { runInside } from '../internal/trace.ts';
import type { Cache, CacheStats, CoreOptions, Loader, SetOptions, WrapOptions } from './cache.ts';
import { type Codec, json, MISS, SerializerCodec } from './codec.ts';
import { checkDuration, checkLife, entryOf, fresh, withinStale } from './life.ts';
import { type CacheRecord, cacheChannel, traceCall } from './observe.ts';
import { type FlightHost, SingleFlight } from './single-flight.ts';
import type { CacheStatus, Entry, Store } from './store.ts';

/** The parts of a cache its stores share: where it logs, and how its values are kept. */
export interface Core {
  readonly log: Logger;
  readonly codec: Codec;
}

/**
 * The {@link Core} `options` ask for; throws `WEIR_ERR_INVALID_OPTION` for a bad one. `inProcess`: the
 * cache has an in-process store, the only kind that keeps frozen values.
 */
export function coreOf(url: string, options: CoreOptions, inProcess: boolean): Core {
  const maxValueBytes = checkDuration('Cache maxValueBytes', options.maxValueBytes ?? 1024 * 1024, false);
  const frozen = options.frozen ?? true;
  if (typeof frozen !== 'boolean') throw invalidOption('Cache frozen', 'true or false', frozen);
  const log = options.logger === false ? silentLogger : (options.logger ?? defaultLogger('weir.cache'));
  const codec = new SerializerCodec(options.serializer ?? json, maxValueBytes, frozen && inProcess, log, url);
  return { log, codec };
}

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

  constructor(backend: Cache['backend'], url: string, store: Store, options: CoreOptions, core: Core) {
    this.backend = backend;
    this.url = url;
    this.#store = store;
    const namespace = options.namespace ?? 'weir';
    if (typeof namespace !== 'string' || namespace === '') {
      throw invalidOption('Cache namespace', 'a non-empty string', namespace);
    }
    this.namespace = namespace;
    // A memory store belongs to this cache alone: its keys need no namespace, and a hit saves a string
    // concatenation (and its flattening for the lookup) per key.
    this.#prefix = backend === 'memory' ? '' : `${namespace}:`;
    this.#defaultTtl = checkDuration('Cache defaultTtl', options.defaultTtl ?? 60_000, false);
    const lockTtl = checkDuration('Cache lockTtlMs', options.lockTtlMs ?? 5000, false);
    const lockWait = checkDuration('Cache lockWaitMs', options.lockWaitMs ?? 1000, true);
    this.#log = core.log;
    this.#codec = core.codec;
    this.#flights = new SingleFlight(store, this.#flightHost(), lockTtl, lockWait);
  }

  /** What SingleFlight may do to this cache: made once, so a miss allocates no closure. */
  #flightHost(): FlightHost {
    return {
      read: (full) => this.#read(full),
      valueOf: (entry) => this.#codec.valueOf(entry),
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
    const encoded = this.#codec.encode(value);
    const entry = encoded === undefined ? undefined : entryOf(encoded, options, this.#defaultTtl);
    try {
      if (entry === undefined) await this.#store.delete(full);
      else await this.#store.set(full, entry);
    } catch (err) {
      this.#fail('write', err);
    }
  }

  get<T = unknown>(key: string, options?: SignalOptions): Promise<T | undefined> {
    if (!cacheChannel.start.hasSubscribers) return this.#get<T>(key, options);
    return traceCall(this, 'get', () => this.#get<T>(key, options));
  }

  async #get<T>(key: string, options?: SignalOptions): Promise<T | undefined> {
    if (needsBudget(options)) return withinBudget(options, (signal) => this.#get<T>(key, { signal }));
    const full = this.#key(key);
    throwIfAborted(options?.signal);
    const entry = await this.#read(full);
    throwIfAborted(options?.signal);
    const value = this.#freshValue(entry, Date.now());
    return value === MISS ? undefined : (value as T);
  }

  /** The fresh value of `entry` at `now`, or MISS; counted as a hit or a miss. */
  #freshValue(entry: Entry | undefined, now: number): unknown {
    const value = entry === undefined || !fresh(entry, now) ? MISS : this.#codec.valueOf(entry);
    if (value === MISS) this.#stats.misses++;
    else this.#stats.hits++;
    return value;
  }

  getMany<T = unknown>(keys: readonly string[], options?: SignalOptions): Promise<(T | undefined)[]> {
    if (!cacheChannel.start.hasSubscribers) return this.#getMany<T>(keys, options);
    return traceCall(this, 'getMany', () => this.#getMany<T>(keys, options));
  }

  #getMany<T>(keys: readonly string[], options?: SignalOptions): Promise<(T | undefined)[]> {
    if (needsBudget(options)) {
      return withinBudget(options, (signal) => this.#getMany<T>(keys, { signal }));
    }
    let full: readonly string[];
    try {
      this.#ensureOpen();
      if (this.#prefix === '') {
        // No namespace to add (a memory cache): the keys as given, once checked; no copy.
        for (let i = 0; i < keys.length; i++) if (typeof keys[i] !== 'string') this.#key(keys[i] as string);
        full = keys;
      } else {
        full = keys.map((key) => this.#key(key));
      }
      throwIfAborted(options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    let found: (Entry | undefined)[] | Promise<(Entry | undefined)[]>;
    try {
      found = this.#store.getMany(full);
    } catch (err) {
      this.#fail('read', err);
      found = full.map(() => undefined);
    }
    // An in-process store answers at once: one promise for the whole answer, none per key.
    if (Array.isArray(found)) return Promise.resolve(this.#values(found));
    return found.then(
      (entries) => {
        throwIfAborted(options?.signal);
        return this.#values(entries);
      },
      (err: unknown) => {
        this.#fail('read', err);
        throwIfAborted(options?.signal);
        return this.#values(keys.map(() => undefined));
      },
    );
  }

  /** The fresh values of `entries`, counted; #freshValue inlined and the counters bumped once. */
  #values<T>(entries: readonly (Entry | undefined)[]): (T | undefined)[] {
    const now = Date.now();
    const codec = this.#codec;
    const values = new Array<T | undefined>(entries.length);
    let hits = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const value = entry === undefined || !fresh(entry, now) ? MISS : codec.valueOf(entry);
      if (value === MISS) {
        values[i] = undefined;
      } else {
        values[i] = value as T;
        hits++;
      }
    }
    this.#stats.hits += hits;
    this.#stats.misses += entries.length - hits;
    return values;
  }

  set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    if (!cacheChannel.start.hasSubscribers) return this.#set(key, value, options);
    return traceCall(this, 'set', () => this.#set(key, value, options));
  }

  async #set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    const full = this.#key(key);
    if (value === undefined) throw invalidOption('cache.set() value', 'a value other than undefined', value);
    await this.#write(full, value, options);
  }

  add(key: string, value: unknown, options?: Pick<SetOptions, 'ttl'>): Promise<boolean> {
    if (!cacheChannel.start.hasSubscribers) return this.#add(key, value, options);
    return traceCall(this, 'add', () => this.#add(key, value, options));
  }

  async #add(key: string, value: unknown, options?: Pick<SetOptions, 'ttl'>): Promise<boolean> {
    const full = this.#key(key);
    if (value === undefined) throw invalidOption('cache.add() value', 'a value other than undefined', value);
    const encoded = this.#codec.encode(value);
    if (encoded === undefined) {
      throw invalidOption('cache.add() value', 'a value the serializer takes, within maxValueBytes', value);
    }
    const entry = entryOf(
      encoded,
      options === undefined ? undefined : { ttl: options.ttl },
      this.#defaultTtl,
    );
    try {
      return await this.#store.add(full, entry);
    } catch (err) {
      this.#stats.errors++;
      throw new WeirError('WEIR_ERR_CACHE_UNAVAILABLE', `Cache ${this.url} did not answer cache.add()`, {
        cause: err,
      });
    }
  }

  delete(key: string): Promise<boolean> {
    if (!cacheChannel.start.hasSubscribers) return this.#delete(key);
    return traceCall(this, 'delete', () => this.#delete(key));
  }

  async #delete(key: string): Promise<boolean> {
    const full = this.#key(key);
    try {
      return await this.#store.delete(full);
    } catch (err) {
      this.#fail('delete', err);
      return false;
    }
  }

  clear(sub?: string): Promise<void> {
    if (!cacheChannel.start.hasSubscribers) return this.#clear(sub);
    return traceCall(this, 'clear', () => this.#clear(sub));
  }

  async #clear(sub?: string): Promise<void> {
    this.#ensureOpen();
    const prefix = sub === undefined ? this.#prefix : `${this.#key(sub)}:`;
    try {
      await this.#store.clear(prefix);
    } catch (err) {
      this.#fail('clear', err);
    }
  }

  wrap<T>(key: string, loader: Loader<T>, options?: WrapOptions): Promise<T> {
    if (!cacheChannel.start.hasSubscribers) return this.#wrap(key, loader, options, undefined);
    // Traced, the loader runs with the call's span active: what it does nests under it.
    const record: CacheRecord = { cache: this, operation: 'wrap' };
    return cacheChannel.tracePromise(
      () => runInside(record, () => this.#wrap(key, loader, options, record)),
      record,
    );
  }

  #wrap<T>(
    key: string,
    loader: Loader<T>,
    options: WrapOptions | undefined,
    record: CacheRecord | undefined,
  ): Promise<T> {
    if (needsBudget(options)) {
      return withinBudget(options, (signal) =>
        this.#wrap(key, loader, { ...options, signal, deadline: undefined }, record),
      );
    }
    let full: string;
    try {
      full = this.#key(key);
      if (typeof loader !== 'function') throw invalidOption('cache.wrap() loader', 'a function', loader);
      if (options !== undefined) checkLife(options);
      throwIfAborted(options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    let found: Entry | undefined | Promise<Entry | undefined>;
    try {
      found = this.#store.get(full);
    } catch (err) {
      this.#fail('read', err);
      found = undefined;
    }
    if (found instanceof Promise) {
      return found.then(
        (entry) => this.#answer(full, entry, loader, options, record),
        (err: unknown) => {
          this.#fail('read', err);
          return this.#answer(full, undefined, loader, options, record);
        },
      );
    }
    // An in-process store answered at once: a hit costs this one promise.
    try {
      return this.#answer(full, found, loader, options, record);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `wrap()` once the store has answered: the fresh value, the stale one while it refreshes, or a load. */
  #answer<T>(
    full: string,
    entry: Entry | undefined,
    loader: Loader<T>,
    options: WrapOptions | undefined,
    record: CacheRecord | undefined,
  ): Promise<T> {
    if (entry !== undefined) {
      const now = Date.now();
      if (fresh(entry, now)) {
        const value = this.#codec.valueOf(entry);
        if (value !== MISS) {
          this.#stats.hits++;
          if (record !== undefined) record.hit = true;
          return Promise.resolve(value as T);
        }
      } else if ((options?.staleWhileRevalidate ?? 0) > 0 && withinStale(entry, now)) {
        const value = this.#codec.valueOf(entry);
        if (value !== MISS) {
          this.#stats.stale++;
          if (record !== undefined) {
            record.hit = true;
            record.stale = true;
          }
          this.#flights.refresh(full, loader, options);
          return Promise.resolve(value as T);
        }
      }
    }
    this.#stats.misses++;
    if (record !== undefined) record.hit = false;
    const signal = options?.signal;
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
