/**
 * The in-process session store: an LRU (lru-cache) bounded by `maxSessions`. Sessions live only as long
 * as the process and are not shared between workers, so it suits one process and tests; behind
 * `weir serve --workers N`, use Redis or the SQL database.
 */
import { LRUCache } from 'lru-cache';
import { checkRecord, checkTime, closedError, integerOption } from './errors.ts';
import type { SessionRecord, SessionStore } from './store.ts';

/** Bounds of the in-process store. */
export interface MemorySessionStoreOptions {
  /**
   * The most sessions kept. When full, setting a new one drops the least recently used (read, written or
   * touched), so a flood of new sessions logs out the idlest users first, and memory stays bounded.
   * @default 100_000
   */
  maxSessions?: number;
  /** The most session data kept, in bytes (about: JSON text length); past it, the same eviction. @default 134_217_728 (128 MiB) */
  maxBytes?: number;
}

const STORE = 'the memory session store';

/**
 * Sessions in this process's memory. A record is dropped when read, touched or counted after its
 * `expiresAt`, or earlier when the store is full and it is the least recently used.
 */
export class MemorySessionStore implements SessionStore {
  readonly backend = 'memory';
  readonly url = 'memory:';
  // No lru-cache TTL: expiry is each record's own `expiresAt` on the `Date.now()` clock, checked on use;
  // one clock for every backend, and no per-entry timer arrays.
  readonly #records: LRUCache<string, SessionRecord>;
  #closed = false;

  /** @throws `WEIR_ERR_INVALID_OPTION` when `maxSessions` is not an integer ≥ 1. */
  constructor(options: MemorySessionStoreOptions = {}) {
    const max = integerOption('Session store maxSessions', options.maxSessions, 100_000, 1);
    const maxSize = integerOption('Session store maxBytes', options.maxBytes, 128 * 2 ** 20, 1024);
    // Bounded in count and in bytes (each record's data, as UTF-16 code units ≈ bytes for JSON text):
    // 100,000 sessions of 64 KiB would otherwise be 6.5 GB.
    this.#records = new LRUCache({ max, maxSize, sizeCalculation: (record) => record.data.length + 64 });
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    this.#check('read a session');
    const record = this.#records.get(key);
    if (record === undefined) return undefined;
    if (record.expiresAt <= Date.now()) {
      this.#records.delete(key);
      return undefined;
    }
    return record;
  }

  async set(key: string, record: SessionRecord): Promise<void> {
    this.#check('write a session');
    checkRecord(record);
    if (record.expiresAt <= Date.now()) {
      this.#records.delete(key);
      return;
    }
    // A copy of the three fields, frozen: what a caller does to its object later changes nothing here.
    const { data, createdAt, expiresAt } = record;
    this.#records.set(key, Object.freeze({ data, createdAt, expiresAt }));
  }

  async replace(key: string, record: SessionRecord): Promise<boolean> {
    this.#check('write a session');
    checkRecord(record);
    const current = this.#records.get(key);
    if (current === undefined || current.expiresAt <= Date.now()) return false;
    await this.set(key, record);
    return true;
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    this.#check('touch a session');
    checkTime('Session expiresAt', expiresAt);
    const record = this.#records.get(key);
    if (record === undefined) return;
    const now = Date.now();
    if (record.expiresAt <= now || expiresAt <= now) this.#records.delete(key);
    else this.#records.set(key, Object.freeze({ ...record, expiresAt }));
  }

  async delete(key: string): Promise<void> {
    this.#check('delete a session');
    this.#records.delete(key);
  }

  /** Exact: drops the expired records it meets (a walk over every record, O(n)). */
  async size(): Promise<number> {
    this.#check('count sessions');
    const now = Date.now();
    const expired: string[] = [];
    for (const [key, record] of this.#records.entries()) {
      if (record.expiresAt <= now) expired.push(key);
    }
    for (const key of expired) this.#records.delete(key);
    return this.#records.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#records.clear();
  }

  #check(operation: string): void {
    if (this.#closed) throw closedError(STORE, operation);
  }
}
