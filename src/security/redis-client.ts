/**
 * The Redis client that weir/security's stores share the settings of (ioredis, loaded on first use):
 * strict, unlike the cache's. Nothing is queued while the connection is down (a command fails at once),
 * each command has a timeout, and the client reconnects in the background with a capped backoff. The
 * client is returned unconnected; each store decides what a failed first connection means.
 */
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { loadPackage } from '../internal/load-package.ts';

type RedisConstructor = new (url: string, options: RedisOptions) => RedisClient;

function retryDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

/** A strict ioredis client for `url`; `missing` makes the error for an ioredis that is not installed. */
export async function strictRedisClient(
  url: string,
  timeouts: { commandTimeout: number; connectTimeout: number },
  user: string,
  missing: (message: string, cause: unknown) => Error,
): Promise<RedisClient> {
  const Redis = await loadPackage<RedisConstructor>('ioredis', user, missing);
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeouts.commandTimeout,
    connectTimeout: timeouts.connectTimeout,
    retryStrategy: retryDelay,
  });
}
