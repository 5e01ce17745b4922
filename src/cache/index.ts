/**
 * weir/cache: one interface over an in-process store, Redis, and both in two tiers, picked by URL; `wrap()`
 * with single-flight and stale-while-revalidate. Importing it loads no Redis client. The HTTP caching
 * helpers (`etag()`, `cacheControl()`) are part of the HTTP core: import them from `weir`.
 * @module
 */

export type {
  Cache,
  CacheStats,
  Loader,
  LoaderContext,
  Serializer,
  SetOptions,
  WrapOptions,
} from './cache.ts';
export type { MemoryStoreOptions } from './memory.ts';
export { type CacheOptions, DEFAULT_CACHE_URL, openCache } from './open.ts';
export type { RedisStoreOptions } from './redis.ts';
export type { CacheStatus } from './store.ts';
