/**
 * Rate-limit state in Redis (ioredis, loaded on first use), shared by every process and instance that
 * opens the same URL and prefix. Each check is one script, run atomically by Redis on Redis's own clock
 * (`TIME`), so N processes on N machines with skewed clocks still allow exactly `limit` per window.
 * A Redis that is down fails a check at once (no offline queue, a short command timeout): the limiter
 * then fails open or closed, as configured; it reconnects in the background.
 */
import type { Redis as RedisClient } from 'ioredis';
import { invalidOption, WeirError } from '../../errors.ts';
import { redactUrl } from '../../internal/url.ts';
import { strictRedisClient } from '../redis-client.ts';
import type { RateDecision, RateLimitStore, RateParams } from './store.ts';

/** Options of the Redis store. */
export interface RedisRateLimitStoreOptions {
  /** Put before every key. @default 'weir:rate:' */
  prefix?: string;
  /** How long one check may take before it counts as a failure. @default 250 */
  commandTimeoutMs?: number;
  /** How long opening waits for a first connection before it goes on without one. @default 2000 */
  connectTimeoutMs?: number;
}

interface RateClient extends RedisClient {
  weirRateCheck(
    key: string,
    emission: string,
    window: string,
    cost: string,
    consume: string,
  ): Promise<string[]>;
}

/**
 * KEYS[1]: the key. ARGV: emission ms, window ms, cost, 1 to consume or 0 to peek. The same steps as
 * gcra() in store.ts, on Redis's clock. Returns { allowed (1/0), resetMs, retryAfterMs } as strings
 * (a Lua number would come back truncated to an integer), with three decimals: `tostring` keeps 14 digits,
 * too few for a millisecond timestamp's fraction. The key's expiry is at least 1 ms (`PX 0` is an error).
 */
const CHECK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local emission = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nxt = tat + emission * cost
if nxt - now > window + 0.000001 then
  return {'0', string.format('%.3f', tat - now), string.format('%.3f', nxt - window - now)}
end
if ARGV[4] == '1' and cost > 0 then
  redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.max(1, math.ceil(nxt - now)))
end
return {'1', string.format('%.3f', nxt - now), '0'}`;

function positive(name: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1)
    throw invalidOption(`Rate limit store ${name}`, 'an integer ≥ 1', value);
  return n;
}

export class RedisRateLimitStore implements RateLimitStore {
  readonly backend = 'redis';
  readonly url: string;
  readonly #client: RateClient;
  readonly #prefix: string;

  private constructor(client: RedisClient, url: string, prefix: string) {
    this.url = url;
    this.#client = client as RateClient;
    this.#prefix = prefix;
    this.#client.defineCommand('weirRateCheck', { numberOfKeys: 1, lua: CHECK });
  }

  /**
   * Connects to `url`; a Redis that does not answer within `connectTimeoutMs` does not stop the start
   * (checks fail until it comes, and the limiter applies its `onStoreError`).
   */
  static async open(url: string, options: RedisRateLimitStoreOptions = {}): Promise<RedisRateLimitStore> {
    const prefix = options.prefix ?? 'weir:rate:';
    if (typeof prefix !== 'string' || prefix === '')
      throw invalidOption('Rate limit store prefix', 'a non-empty string', prefix);
    const commandTimeout = positive('commandTimeoutMs', options.commandTimeoutMs, 250);
    const connectTimeout = positive('connectTimeoutMs', options.connectTimeoutMs, 2000);
    const shown = redactUrl(url);
    const client = await strictRedisClient(
      url,
      { commandTimeout, connectTimeout },
      'The Redis rate limit store',
      (message, cause) => new WeirError('WEIR_ERR_INVALID_OPTION', message, { cause }),
    );
    client.on('error', () => {
      // Each failed (re)connection: the checks report it, through the limiter's onStoreError.
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.connect().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, connectTimeout);
      }),
    ]).finally(() => clearTimeout(timer));
    return new RedisRateLimitStore(client, shown, prefix);
  }

  async check(key: string, params: RateParams): Promise<RateDecision> {
    const [allowed, reset, retry] = await this.#client.weirRateCheck(
      this.#prefix + key,
      String(params.emissionMs),
      String(params.windowMs),
      String(params.cost),
      params.consume ? '1' : '0',
    );
    const resetMs = Math.max(0, Number(reset));
    const remaining = Math.max(0, Math.floor((params.windowMs - resetMs) / params.emissionMs + 1e-6));
    return { allowed: allowed === '1', remaining, resetMs, retryAfterMs: Math.max(0, Number(retry)) };
  }

  async reset(key: string): Promise<void> {
    await this.#client.del(this.#prefix + key);
  }

  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}
