/** Rate limits: GCRA over an in-process or Redis store, as middleware or by hand. */
export {
  createRateLimiter,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitResult,
} from './limiter.ts';
export { MemoryRateLimitStore, type MemoryRateLimitStoreOptions } from './memory.ts';
export { clientKey, type RateLimitOptions, rateLimit, rateLimitFields, refusal } from './middleware.ts';
export { openRateLimitStore, type RateLimitStoreOptions } from './open.ts';
export { RedisRateLimitStore, type RedisRateLimitStoreOptions } from './redis.ts';
export type { RateDecision, RateLimitStore, RateParams } from './store.ts';
