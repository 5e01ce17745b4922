/**
 * Rate-limit state in this process: one number per key in an LRU bounded by `maxKeys`, each entry
 * dropped once its allowance is whole again (it then carries no information).
 */
import { LRUCache } from 'lru-cache';
import { invalidOption } from '../../errors.ts';
import { gcra, type RateDecision, type RateLimitStore, type RateParams } from './store.ts';

/** Options of the in-process store. */
export interface MemoryRateLimitStoreOptions {
  /**
   * Keys tracked at once; past it the least recently seen is forgotten (its allowance whole again), so
   * keep it well above the number of clients active within one window. @default 100_000
   */
  maxKeys?: number;
}

export class MemoryRateLimitStore implements RateLimitStore {
  readonly backend = 'memory';
  readonly url = 'memory:';
  readonly #tats: LRUCache<string, number>;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    const max = options.maxKeys ?? 100_000;
    if (!Number.isSafeInteger(max) || max < 1)
      throw invalidOption('Rate limit store maxKeys', 'an integer ≥ 1', max);
    this.#tats = new LRUCache({ max });
  }

  check(key: string, params: RateParams): Promise<RateDecision> {
    const now = Date.now();
    const current = this.#tats.get(key);
    const { decision, tat } = gcra(current, now, params);
    if (tat !== current && tat !== undefined) this.#tats.set(key, tat, { ttl: Math.ceil(tat - now) });
    return Promise.resolve(decision);
  }

  reset(key: string): Promise<void> {
    this.#tats.delete(key);
    return Promise.resolve();
  }

  /** Keys tracked now. */
  get size(): number {
    return this.#tats.size;
  }

  close(): Promise<void> {
    this.#tats.clear();
    return Promise.resolve();
  }
}
