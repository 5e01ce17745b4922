/**
 * The in-process store: a `Map` bounded by entry count and by bytes, evicting by second chance (CLOCK):
 * a hit only marks its record used, and when the store is full the oldest record goes unless it was used
 * since it was last looked at, in which case it is unmarked and moves to the back. A hit thus costs one
 * `Map` lookup and one write to the record it reads anyway; an LRU list (lru-cache) also relinks the
 * entry on each hit, which under load was most of a memory-cache read. Each read checks the entry's life.
 * An entry that comes with its frozen value keeps that alone (every reader shares it, read-only); one
 * without keeps its text, read back on each hit. Either way its size is its text's, measured once here.
 */
import { invalidOption } from '../errors.ts';
import type { Entry, Store } from './store.ts';

/** Bounds of the in-process store. */
export interface MemoryStoreOptions {
  /**
   * The most entries kept; when full, the oldest entry not read since the store last looked at it goes
   * first (second chance, close to least recently used). @default 10_000
   */
  maxEntries?: number;
  /**
   * The most bytes kept: keys and values, each value counted as its serialised text (UTF-16 code
   * units × 2, measured once when it is set), plus 64 bytes an entry. @default 64 MiB
   */
  maxBytes?: number;
}

/** What the store keeps for a key: the entry itself, its size, and whether it was read since last looked at. */
interface Held extends Entry {
  readonly size: number;
  used: boolean;
}

export class MemoryStore implements Store {
  readonly status = 'ready';
  readonly #map = new Map<string, Held>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(options: MemoryStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw invalidOption('Cache maxEntries', 'an integer ≥ 1', maxEntries);
    }
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
      throw invalidOption('Cache maxBytes', 'a number of bytes > 0', maxBytes);
    }
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  get(key: string, now = Date.now()): Entry | undefined {
    const held = this.#map.get(key);
    if (held === undefined) return undefined;
    if (held.staleUntil !== 0 && held.staleUntil <= now) {
      this.delete(key);
      return undefined;
    }
    // Written only when it changes: a hit on a hot entry leaves its record untouched.
    if (!held.used) held.used = true;
    return held;
  }

  getMany(keys: readonly string[]): (Entry | undefined)[] {
    const now = Date.now();
    const found = new Array<Entry | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) found[i] = this.get(keys[i] as string, now);
    return found;
  }

  set(key: string, entry: Entry): undefined {
    this.delete(key);
    if (entry.staleUntil !== 0 && entry.staleUntil <= Date.now()) return undefined;
    const size = (entry.text.length + key.length) * 2 + 64;
    if (size > this.#maxBytes) return undefined;
    // One shape for every record (value undefined when only the text is kept): reads stay monomorphic.
    const held: Held = {
      text: entry.value === undefined ? entry.text : '',
      value: entry.value,
      freshUntil: entry.freshUntil,
      staleUntil: entry.staleUntil,
      size,
      used: false,
    };
    while (this.#map.size >= this.#maxEntries || this.#bytes + size > this.#maxBytes) this.#evict();
    this.#map.set(key, held);
    this.#bytes += size;
    return undefined;
  }

  /** Drops the oldest record not used since last looked at; used ones met on the way move to the back. */
  #evict(): void {
    const map = this.#map;
    for (const [key, held] of map) {
      if (held.used) {
        held.used = false;
        map.delete(key);
        map.set(key, held);
      } else {
        map.delete(key);
        this.#bytes -= held.size;
        return;
      }
    }
  }

  add(key: string, entry: Entry): boolean {
    // One process, one thread: nothing runs between the look and the write.
    if (this.get(key) !== undefined) return false;
    this.set(key, entry);
    return true;
  }

  delete(key: string): boolean {
    const held = this.#map.get(key);
    if (held === undefined) return false;
    this.#map.delete(key);
    this.#bytes -= held.size;
    return true;
  }

  clear(prefix: string): undefined {
    if (prefix === '') {
      this.#map.clear();
      this.#bytes = 0;
      return undefined;
    }
    for (const key of [...this.#map.keys()]) {
      if (key.startsWith(prefix)) this.delete(key);
    }
    return undefined;
  }

  /** The entry count, for stats. */
  get size(): number {
    return this.#map.size;
  }

  close(): Promise<void> {
    this.clear('');
    return Promise.resolve();
  }
}
