/** `openRateLimitStore(url)`: `memory:` (default) or `redis://…` / `rediss://…`. */
import { WeirError } from '../../errors.ts';
import { redactUrl, schemeOf } from '../../internal/url.ts';
import { MemoryRateLimitStore, type MemoryRateLimitStoreOptions } from './memory.ts';
import { RedisRateLimitStore, type RedisRateLimitStoreOptions } from './redis.ts';
import type { RateLimitStore } from './store.ts';

/** Options of {@link openRateLimitStore}: each applies to its own backend. */
export type RateLimitStoreOptions = MemoryRateLimitStoreOptions & RedisRateLimitStoreOptions;

/**
 * Opens the store that rate limiters count in. Use Redis when more than one process or instance serves
 * the app: the limit then holds across all of them.
 * @throws WeirError `WEIR_ERR_INVALID_OPTION` for another scheme (the URL shown without its password).
 */
export async function openRateLimitStore(
  url: string | undefined = 'memory:',
  options: RateLimitStoreOptions = {},
): Promise<RateLimitStore> {
  const scheme = typeof url === 'string' ? schemeOf(url) : undefined;
  if (scheme === 'memory:') return new MemoryRateLimitStore(options);
  if (scheme === 'redis:' || scheme === 'rediss:') return RedisRateLimitStore.open(url as string, options);
  throw new WeirError(
    'WEIR_ERR_INVALID_OPTION',
    `openRateLimitStore() takes memory: or redis://… (rediss://…), received ${typeof url === 'string' ? JSON.stringify(redactUrl(url)) : String(url)}`,
  );
}
