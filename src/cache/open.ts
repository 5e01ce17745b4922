/**
 * `openCache(url)`: the one place a URL picks a backend. Redis is loaded only by the backends that use it.
 */

import { WeirError } from '../errors.ts';
import { redactUrl, schemeOf } from '../internal/url.ts';
import type { Cache, CoreOptions } from './cache.ts';
import { MemoryStore, type MemoryStoreOptions } from './memory.ts';
import { RedisStore, type RedisStoreOptions } from './redis.ts';
import type { CacheStatus } from './store.ts';
import { coreOf, StoreCache } from './store-cache.ts';
import { TieredStore } from './tiered.ts';

/** The cache weir opens when no URL is given (and `CACHE_URL` is unset). */
export const DEFAULT_CACHE_URL = 'memory:';

/** Options of {@link openCache}. The memory bounds apply to `memory:` and to the L1 of `tiered+redis:`. */
export interface CacheOptions extends CoreOptions, MemoryStoreOptions, RedisStoreOptions {}

/**
 * Opens a cache by URL: `memory:` (in-process, bounded), `redis://host:port/db` (`rediss://` for TLS), or
 * `tiered+redis://…` (an in-process L1 in front of Redis, kept coherent across processes by invalidation
 * messages over Redis pub/sub). Without a URL it uses `CACHE_URL`, then `memory:`.
 *
 * A Redis that cannot be reached does not fail the open: the cache starts `degraded` (loaders run
 * uncached), logs it, and recovers by itself when Redis answers.
 * @throws `WEIR_ERR_CACHE_URL` for a URL with an unknown scheme; `WEIR_ERR_CACHE_DRIVER_MISSING` when
 *   `ioredis` is not installed.
 * @example
 * const cache = await openCache(process.env.CACHE_URL, { namespace: 'app' });
 * app.onStop(() => cache.close());
 * app.get('/users/:id', (ctx) =>
 *   cache.wrap(`user:${ctx.params.id}`, () => loadUser(ctx.params.id), { ttl: 60_000, signal: ctx.signal }));
 */
export async function openCache(url?: string, options: CacheOptions = {}): Promise<Cache> {
  const target = url || process.env.CACHE_URL || DEFAULT_CACHE_URL;
  const scheme = schemeOf(target);
  const shown = redactUrl(target);
  if (scheme === 'memory:') {
    return new StoreCache('memory', shown, new MemoryStore(options), options, coreOf(shown, options, true));
  }
  if (
    scheme === 'redis:' ||
    scheme === 'rediss:' ||
    scheme === 'tiered+redis:' ||
    scheme === 'tiered+rediss:'
  ) {
    const tiered = scheme.startsWith('tiered+');
    const core = coreOf(shown, options, tiered);
    // The cache is made first so that it hears (and logs) the connection's first state.
    let cache: StoreCache | undefined;
    let early: [CacheStatus, unknown] | undefined;
    const onStatus = (status: CacheStatus, reason: unknown) => {
      if (cache === undefined) early = [status, reason];
      else cache.statusChanged(status, reason);
    };
    const redis = await RedisStore.open(tiered ? target.slice('tiered+'.length) : target, options, onStatus);
    const namespace = options.namespace ?? 'weir';
    const store = tiered
      ? await TieredStore.open(new MemoryStore(options), redis, `weir-invalidate:${namespace}`, core.codec)
      : redis;
    cache = new StoreCache(tiered ? 'tiered' : 'redis', shown, store, options, core);
    if (early !== undefined && early[0] === 'degraded') cache.statusChanged(...early);
    return cache;
  }
  throw new WeirError(
    'WEIR_ERR_CACHE_URL',
    `Cache URL ${JSON.stringify(shown)} names no supported backend: use memory:, redis://… or tiered+redis://…`,
  );
}
