/**
 * The in-process store: an LRU (lru-cache) bounded by entry count and by bytes, with a TTL per entry.
 * Entries are kept serialised, like in Redis, so a caller that mutates what it got back cannot change
 * what the next caller gets, and the byte bound is exact.
 */
import { LRUCache } from 'lru-cache';
import { type Entry, remaining, type Store } from './store.ts';

/** Bounds of the in-process store. */
export interface MemoryStoreOptions {
  /** The most entries kept; the least recently used go first. @default 10_000 */
  maxEntries?: number;
  /** The most bytes kept (keys and serialised values, counted as UTF-16 code units × 2). @default 64 MiB */
  maxBytes?: number;
}

export class MemoryStore implements Store {
  readonly status = 'ready';
  readonly #lru: LRUCache<string, Entry>;

  constructor(options: MemoryStoreOptions = {}) {
    this.#lru = new LRUCache<string, Entry>({
      max: options.maxEntries ?? 10_000,
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (entry, key) => (entry.data.length + key.length) * 2 + 64,
    });
  }

  get(key: string): Entry | undefined {
    const entry = this.#lru.get(key);
    if (entry !== undefined && remaining(entry.staleUntil, Date.now()) <= 0) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry;
  }

  getMany(keys: readonly string[]): Promise<(Entry | undefined)[]> {
    return Promise.resolve(keys.map((key) => this.get(key)));
  }

  set(key: string, entry: Entry): undefined {
    const ttl = remaining(entry.staleUntil, Date.now());
    if (ttl <= 0) {
      this.#lru.delete(key);
    } else if (ttl === Number.POSITIVE_INFINITY) {
      this.#lru.set(key, entry);
    } else {
      this.#lru.set(key, entry, { ttl: Math.ceil(ttl) });
    }
    return undefined;
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  clear(prefix: string): undefined {
    if (prefix === '') {
      this.#lru.clear();
      return undefined;
    }
    for (const key of [...this.#lru.keys()]) {
      if (key.startsWith(prefix)) this.#lru.delete(key);
    }
    return undefined;
  }

  /** The entry count, for stats. */
  get size(): number {
    return this.#lru.size;
  }

  close(): Promise<void> {
    this.#lru.clear();
    return Promise.resolve();
  }
}
