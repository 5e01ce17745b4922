/**
 * A rate limiter: a named policy (`limit` requests per `windowMs`) over a store. `take(key)` spends one
 * of a key's allowance, `peek(key)` looks without spending, `reset(key)` makes it whole. A store that
 * fails (Redis away) fails open (allow) or closed (refuse) as configured, and is logged once per outage,
 * not once per request.
 */
import { invalidOption, WeirError } from '../../errors.ts';
import { defaultLogger, type Logger } from '../../internal/logger.ts';
import { underWorkers } from '../../internal/workers.ts';
import { MemoryRateLimitStore } from './memory.ts';
import type { RateDecision, RateLimitStore } from './store.ts';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Requests allowed per window. */
  limit: number;
  /** The window, in ms: `limit` may come at once, then one every `windowMs / limit`. */
  windowMs: number;
  /**
   * The policy's name, in the `RateLimit` and `RateLimit-Policy` headers and in the store's keys, so
   * that two limiters on one store never share counts. @default 'default'
   */
  name?: string;
  /** Where the counts live: a store from `openRateLimitStore()`. @default a private in-process store */
  store?: RateLimitStore;
  /**
   * When the store cannot answer: `'open'` allows the request (a Redis outage does not take the
   * service down), `'closed'` refuses it with 503 `WEIR_ERR_RATE_LIMIT_UNAVAILABLE` (for limits that
   * guard something costly or abusable, such as logins). @default 'open'
   */
  onStoreError?: 'open' | 'closed';
  /** Where the outage is logged (once when it starts, once when it ends). @default weir's logger */
  logger?: Logger;
  /** Accept the in-process store under several worker processes (each then counts alone). @default false */
  allowMemoryWithWorkers?: boolean;
}

/** A decision, with the policy it came from. */
export interface RateLimitResult extends RateDecision {
  readonly limiter: RateLimiter;
  /** True when the store failed and `onStoreError` decided. */
  readonly degraded: boolean;
}

const NAME = /^[\w.-]{1,64}$/;

export class RateLimiter {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly store: RateLimitStore;
  readonly onStoreError: 'open' | 'closed';
  readonly #emissionMs: number;
  readonly #logger: Logger;
  #failing = false;

  /** @internal Use {@link createRateLimiter}. */
  constructor(options: RateLimiterOptions) {
    if (typeof options !== 'object' || options === null)
      throw invalidOption('Rate limiter options', 'an object', options);
    const { limit, windowMs } = options;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw invalidOption('Rate limiter limit', 'an integer ≥ 1', limit);
    if (!Number.isSafeInteger(windowMs) || windowMs < 1 || windowMs > 2 ** 31) {
      throw invalidOption('Rate limiter windowMs', 'an integer number of ms from 1 to 2^31', windowMs);
    }
    const name = options.name ?? 'default';
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw invalidOption('Rate limiter name', '1 to 64 letters, digits, ".", "_" or "-"', name);
    }
    const mode = options.onStoreError ?? 'open';
    if (mode !== 'open' && mode !== 'closed')
      throw invalidOption('Rate limiter onStoreError', "'open' or 'closed'", mode);
    const store = options.store ?? new MemoryRateLimitStore();
    if (typeof store?.check !== 'function' || typeof store.reset !== 'function') {
      throw invalidOption('Rate limiter store', 'a store from openRateLimitStore()', store);
    }
    if (store.backend === 'memory' && options.allowMemoryWithWorkers !== true && underWorkers()) {
      throw new WeirError(
        'WEIR_ERR_INVALID_OPTION',
        `Rate limiter "${name}" counts in memory:, which each worker process keeps to itself: the limit would ` +
          'be multiplied by the number of workers. Use openRateLimitStore("redis://…"), or pass ' +
          'allowMemoryWithWorkers: true to accept per-process limits',
      );
    }
    this.name = name;
    this.limit = limit;
    this.windowMs = windowMs;
    this.store = store;
    this.onStoreError = mode;
    this.#emissionMs = windowMs / limit;
    this.#logger = options.logger ?? defaultLogger('weir.rate-limit');
  }

  /** Spends `cost` (default 1) of `key`'s allowance, if it has that much. */
  take(key: string, cost = 1): Promise<RateLimitResult> {
    return this.#check(key, cost, true);
  }

  /** Whether `key` has `cost` left, spending nothing. */
  peek(key: string, cost = 1): Promise<RateLimitResult> {
    return this.#check(key, cost, false);
  }

  /** Makes `key`'s allowance whole (after a successful login, say). A store failure is logged, not thrown. */
  async reset(key: string): Promise<void> {
    try {
      await this.store.reset(`${this.name}:${key}`);
    } catch (err) {
      this.#failed(err);
    }
  }

  async #check(key: string, cost: number, consume: boolean): Promise<RateLimitResult> {
    if (typeof key !== 'string') throw invalidOption('Rate limiter key', 'a string', key);
    if (!Number.isSafeInteger(cost) || cost < 0 || cost > this.limit) {
      throw invalidOption('Rate limiter cost', `an integer from 0 to the limit (${this.limit})`, cost);
    }
    try {
      const decision = await this.store.check(`${this.name}:${key}`, {
        emissionMs: this.#emissionMs,
        windowMs: this.windowMs,
        cost,
        consume,
      });
      if (this.#failing) {
        this.#failing = false;
        this.#logger.info({ limiter: this.name, store: this.store.url }, 'rate limit store is back');
      }
      // Field by field: a spread of the decision costs about 1 µs a request more.
      return {
        allowed: decision.allowed,
        remaining: decision.remaining,
        resetMs: decision.resetMs,
        retryAfterMs: decision.retryAfterMs,
        limiter: this,
        degraded: false,
      };
    } catch (err) {
      this.#failed(err);
      const open = this.onStoreError === 'open';
      return {
        allowed: open,
        remaining: open ? this.limit - cost : 0,
        resetMs: 0,
        retryAfterMs: open ? 0 : 1000,
        limiter: this,
        degraded: true,
      };
    }
  }

  #failed(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#logger.warn(
      { err, limiter: this.name, store: this.store.url, onStoreError: this.onStoreError },
      `rate limit store failed: failing ${this.onStoreError} until it answers again`,
    );
  }
}

/**
 * A named policy over a store, for `rateLimit()` or for counting by hand (failed logins per account).
 * @example
 * const failures = createRateLimiter({ name: 'login-failures', limit: 10, windowMs: 15 * 60_000, store });
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new RateLimiter(options);
}
