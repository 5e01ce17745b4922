/**
 * The in-process store: an LRU (lru-cache) bounded by entry count and by bytes; each read checks the
 * entry's own life (lru-cache tracks no TTL).
 * An entry that comes with its frozen value keeps that alone (every reader shares it, read-only); one
 * without keeps its text, read back on each hit. Either way its size is its text's, measured once here.
 */
import { LRUCache } from 'lru-cache';
import { type Entry, remaining, type Store } from './store.ts';

/** Bounds of the in-process store. */
export interface MemoryStoreOptions {
  /** The most entries kept; the least recently used go first. @default 10_000 */
  maxEntries?: number;
  /**
   * The most bytes kept: keys and values, each value counted as its serialised text (UTF-16 code
   * units × 2, measured once when it is set), plus 64 bytes an entry. @default 64 MiB
   */
  maxBytes?: number;
}

export class MemoryStore implements Store {
  readonly status = 'ready';
  readonly #lru: LRUCache<string, Entry>;

  constructor(options: MemoryStoreOptions = {}) {
    this.#lru = new LRUCache<string, Entry>({
      max: options.maxEntries ?? 10_000,
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
    });
  }

  get(key: string, now = Date.now()): Entry | undefined {
    const entry = this.#lru.get(key);
    if (entry !== undefined && remaining(entry.staleUntil, now) <= 0) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry;
  }

  getMany(keys: readonly string[]): (Entry | undefined)[] {
    const now = Date.now();
    const lru = this.#lru;
    const found = new Array<Entry | undefined>(keys.length);
    // get() inlined: this loop runs once per key of every getMany().
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const entry = lru.get(key);
      if (entry !== undefined && entry.staleUntil !== 0 && entry.staleUntil <= now) {
        lru.delete(key);
        found[i] = undefined;
      } else {
        found[i] = entry;
      }
    }
    return found;
  }

  set(key: string, entry: Entry): undefined {
    const ttl = remaining(entry.staleUntil, Date.now());
    if (ttl <= 0) {
      this.#lru.delete(key);
      return undefined;
    }
    const size = (entry.text.length + key.length) * 2 + 64;
    const kept =
      entry.value === undefined
        ? entry
        : { text: '', value: entry.value, freshUntil: entry.freshUntil, staleUntil: entry.staleUntil };
    // No ttl for lru-cache: get() checks staleUntil itself, and an lru-cache that tracks TTLs reads a
    // clock, two typed arrays and, each millisecond, arms a timer on every hit.
    this.#lru.set(key, kept, { size });
    return undefined;
  }

  add(key: string, entry: Entry): boolean {
    // One process, one thread: nothing runs between the look and the write.
    if (this.get(key) !== undefined) return false;
    this.set(key, entry);
    return true;
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
