/**
 * The cache interface and its options: what every backend (memory, Redis, tiered) promises. The one
 * implementation, over any store, is in `store-cache.ts`; `wrap()`'s loading is in `single-flight.ts`.
 */
import type { SignalOptions } from '../concurrency/sleep.ts';
import type { Logger } from '../internal/logger.ts';
import type { CacheStatus } from './store.ts';

/** Turns values into strings and back. The default is JSON. */
export interface Serializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

/** The life of one cached value. */
export interface SetOptions {
  /** Milliseconds the value is fresh; `Infinity` keeps it until evicted. @default the cache's `defaultTtl` */
  ttl?: number;
  /**
   * Milliseconds after `ttl` during which `wrap()` still answers with the stale value at once while one
   * background call of the loader refreshes it. @default 0
   */
  staleWhileRevalidate?: number;
}

/** Options of {@link Cache.wrap}. */
export interface WrapOptions extends SetOptions, SignalOptions {}

/** What a loader is given: a signal that aborts when every caller waiting for it has gone. */
export interface LoaderContext {
  readonly signal: AbortSignal;
}

/** Computes the value for a key that is missing or stale. */
export type Loader<T> = (context: LoaderContext) => T | Promise<T>;

/** Counters since the cache was opened. */
export interface CacheStats {
  status: CacheStatus;
  /** Fresh values served. */
  hits: number;
  /** Lookups that found nothing fresh (and, in `wrap()`, no stale value it could serve). */
  misses: number;
  /** Stale values served by `wrap()` while a refresh ran. */
  stale: number;
  /** Loader calls (after single-flight). */
  loads: number;
  /** Backend operations that failed and were treated as a miss or skipped. */
  errors: number;
}

/** A key-value cache with TTLs, picked by {@link openCache}'s URL. */
export interface Cache {
  /** `memory`, `redis` or `tiered`. */
  readonly backend: 'memory' | 'redis' | 'tiered';
  /** The URL it was opened with, password masked. */
  readonly url: string;
  /** Prefix of every key: `namespace:key`. */
  readonly namespace: string;
  /** `degraded` while the backend does not answer: loaders run and nothing is cached remotely. */
  readonly status: CacheStatus;
  /**
   * The fresh value of `key`, or `undefined`. Values are read-only: from `memory:` and the L1 of
   * `tiered+redis:` every caller gets the one deep-frozen value the cache keeps (changing it throws a
   * TypeError in strict code), unless the cache was opened with `frozen: false`.
   */
  get<T = unknown>(key: string, options?: SignalOptions): Promise<T | undefined>;
  /** Fresh values of several keys in one round trip, `undefined` for each miss, in order. */
  getMany<T = unknown>(keys: readonly string[], options?: SignalOptions): Promise<(T | undefined)[]>;
  /** Stores `value` (anything the serializer takes; not `undefined`). */
  set(key: string, value: unknown, options?: SetOptions): Promise<void>;
  /**
   * Stores `value` only if `key` holds nothing, and resolves true if it did: of several callers (in any
   * process sharing Redis) adding one key at once, exactly one gets true. The claim goes to the backend
   * itself: on `tiered+redis:` to Redis, never to the L1. A value kept stale for `wrap()`'s
   * stale-while-revalidate still counts as there.
   * @throws `WEIR_ERR_CACHE_UNAVAILABLE` when the backend does not answer: unlike `get()` and `set()`,
   *   an outage cannot be treated as a miss here (either answer could break the caller's guarantee).
   *   `WEIR_ERR_INVALID_OPTION` for a value that cannot be cached (over `maxValueBytes`, or refused by
   *   the serializer).
   * @example
   * if (await cache.add(`welcome-sent:${user.id}`, true, { ttl: 86_400_000 })) await sendWelcome(user);
   */
  add(key: string, value: unknown, options?: Pick<SetOptions, 'ttl'>): Promise<boolean>;
  /** Removes `key`; true if it was there. */
  delete(key: string): Promise<boolean>;
  /** Removes every key under `namespace:sub:` (with `sub`), or under the cache's namespace (without). */
  clear(sub?: string): Promise<void>;
  /**
   * The cached value of `key`, or the loader's, which is then cached. Concurrent misses of one key run
   * the loader once per process; across processes on Redis, one holds a short lock and the others wait
   * for its value (up to `lockWaitMs`). A loader's error is thrown to every caller and never cached.
   * @example
   * const user = await cache.wrap(`user:${id}`, () => db.one`SELECT … WHERE id = ${id}`, { ttl: 60_000 });
   */
  wrap<T>(key: string, loader: Loader<T>, options?: WrapOptions): Promise<T>;
  /** The counters since the cache was opened, and its status now. */
  stats(): CacheStats;
  /** Closes the connections; later calls throw `WEIR_ERR_CACHE_CLOSED`. */
  close(): Promise<void>;
}

/** Options of {@link openCache}. */
export interface CoreOptions {
  /** Prefix of every key. @default 'weir' */
  namespace?: string;
  /** Milliseconds a value is fresh when `set()` or `wrap()` give no `ttl`. @default 60_000 */
  defaultTtl?: number;
  /** A serialised value larger than this is not cached (and a warning is logged once). @default 1 MiB */
  maxValueBytes?: number;
  /** @default JSON */
  serializer?: Serializer;
  /**
   * In-process stores (`memory:`, the L1 of `tiered+redis:`) keep each value read back from its
   * serialised form once, when it is set, and deep-frozen: a hit costs no parse, and every caller gets
   * that same read-only value. `false` keeps the serialised form instead and parses it on each hit, so
   * each caller gets a copy of its own to change. Values only plain objects and arrays make up are
   * frozen; one with a Map, a Date or a typed array in it (from a custom serializer) is kept serialised.
   * @default true
   */
  frozen?: boolean;
  /** Where warnings go: a pino logger (or anything with its methods), or `false`. @default pino at `LOG_LEVEL` */
  logger?: Logger | false;
  /** Life of the cross-process lock `wrap()` takes on Redis before loading. @default 5000 */
  lockTtlMs?: number;
  /** How long `wrap()` waits for another process's load before loading itself. @default 1000 */
  lockWaitMs?: number;
}
