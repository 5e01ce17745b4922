/**
 * weir/cache: one interface over an in-process LRU, Redis, and both in two tiers, picked by URL; `wrap()`
 * with single-flight and stale-while-revalidate; HTTP caching helpers. Importing it loads no Redis client.
 * @module
 */

export {
  type CacheControlOptions,
  cacheControl,
  type EtagOptions,
  etag,
  formatCacheControl,
} from '../http/caching.ts';
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
