/**
 * Rate-limit state in this process: one number per key in a `Map` bounded by `maxKeys`, kept in the order
 * keys were last seen (each check moves its key to the back, so the front is the least recently seen and
 * goes first when the map is full). An entry whose allowance is whole again carries no information: it
 * is dropped when next read. The map grows with the clients seen, from nothing: an LRU library sized
 * for `maxKeys` allocated its arrays up front (4 MiB and ~12 ms at start for the default).
 */
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
  readonly #tats = new Map<string, number>();
  readonly #maxKeys: number;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    const max = options.maxKeys ?? 100_000;
    if (!Number.isSafeInteger(max) || max < 1)
      throw invalidOption('Rate limit store maxKeys', 'an integer ≥ 1', max);
    this.#maxKeys = max;
  }

  check(key: string, params: RateParams): Promise<RateDecision> {
    const now = Date.now();
    const tats = this.#tats;
    let current = tats.get(key);
    if (current !== undefined) {
      tats.delete(key);
      if (current <= now) current = undefined;
    }
    const { decision, tat } = gcra(current, now, params);
    // `tat` is the key's state after this check (unchanged when refused): kept, at the back, while it says more
    // than "whole again".
    if (tat !== undefined && tat > now) {
      tats.set(key, tat);
      if (tats.size > this.#maxKeys) tats.delete(tats.keys().next().value as string);
    }
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
