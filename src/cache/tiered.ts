/**
 * Two tiers: an in-process L1 in front of Redis (L2). Every write and delete goes to both and publishes
 * an invalidation on a Redis channel, so other processes and instances drop their L1 copy; they read the
 * new value from L2 on their next get. While the subscription is down, invalidations may be missed, so
 * the L1 is emptied each time it is (re)established.
 */
import { randomUUID } from 'node:crypto';
import { type Codec, MISS } from './codec.ts';
import type { MemoryStore } from './memory.ts';
import type { RedisStore } from './redis.ts';
import type { CacheStatus, Entry, LockResult, Store } from './store.ts';

interface Invalidation {
  /** The instance that sent it, which ignores its own. */
  o: string;
  /** A key, or… */
  k?: string;
  /** …a prefix of keys. */
  p?: string;
}

export class TieredStore implements Store {
  readonly #l1: MemoryStore;
  readonly #l2: RedisStore;
  readonly #channel: string;
  readonly #origin = randomUUID();
  readonly #codec: Codec;
  /** Bumped by each invalidation; an L2 read that saw a bump meanwhile does not fill the L1. */
  #generation = 0;

  private constructor(l1: MemoryStore, l2: RedisStore, channel: string, codec: Codec) {
    this.#l1 = l1;
    this.#codec = codec;
    this.#l2 = l2;
    this.#channel = channel;
  }

  static async open(l1: MemoryStore, l2: RedisStore, channel: string, codec: Codec): Promise<TieredStore> {
    const store = new TieredStore(l1, l2, channel, codec);
    await l2.subscribe(
      channel,
      (message) => store.#receive(message),
      () => store.#resync(),
    );
    return store;
  }

  #receive(message: string): void {
    let note: Invalidation;
    try {
      note = JSON.parse(message) as Invalidation;
    } catch {
      return;
    }
    if (note.o === this.#origin) return;
    this.#generation++;
    if (typeof note.k === 'string') this.#l1.delete(note.k);
    else if (typeof note.p === 'string') this.#l1.clear(note.p);
  }

  #resync(): void {
    this.#generation++;
    this.#l1.clear('');
  }

  #publish(note: Omit<Invalidation, 'o'>): Promise<void> {
    return this.#l2.publish(this.#channel, JSON.stringify({ o: this.#origin, ...note })).then(
      () => undefined,
      () => undefined,
    );
  }

  get status(): CacheStatus {
    return this.#l2.status;
  }

  get(key: string): Entry | undefined | Promise<Entry | undefined> {
    const local = this.#l1.get(key);
    if (local !== undefined) return local;
    if (this.#l2.status !== 'ready') return undefined;
    const generation = this.#generation;
    return this.#l2
      .get(key)
      .then((entry) =>
        entry !== undefined && generation === this.#generation ? this.#fill(key, entry) : entry,
      );
  }

  /**
   * Keeps an entry read from L2 in the L1, with its value read back and frozen once here (when the
   * cache keeps frozen values), and answers the entry as kept.
   */
  #fill(key: string, entry: Entry): Entry {
    let kept = entry;
    if (this.#codec.frozen) {
      const value = this.#codec.thaw(entry.text);
      if (value !== MISS) kept = { ...entry, value };
    }
    this.#l1.set(key, kept);
    return kept;
  }

  getMany(keys: readonly string[]): (Entry | undefined)[] | Promise<(Entry | undefined)[]> {
    const found = this.#l1.getMany(keys);
    const missing: number[] = [];
    for (let i = 0; i < found.length; i++) if (found[i] === undefined) missing.push(i);
    // Every key in the L1: answered at once.
    if (missing.length === 0 || this.#l2.status !== 'ready') return found;
    return this.#getRemote(keys, found, missing);
  }

  async #getRemote(
    keys: readonly string[],
    found: (Entry | undefined)[],
    missing: readonly number[],
  ): Promise<(Entry | undefined)[]> {
    const generation = this.#generation;
    const remote = await this.#l2.getMany(missing.map((i) => keys[i] as string));
    const fill = generation === this.#generation;
    for (let j = 0; j < missing.length; j++) {
      const entry = remote[j];
      const i = missing[j] as number;
      found[i] = entry !== undefined && fill ? this.#fill(keys[i] as string, entry) : entry;
    }
    return found;
  }

  async set(key: string, entry: Entry): Promise<void> {
    this.#l1.set(key, entry);
    await this.#l2.set(key, entry);
    await this.#publish({ k: key });
  }

  /**
   * The claim is Redis's alone: an L1 copy (perhaps stale, of a key another process deleted) never
   * answers it. A claim made drops the key from every L1.
   */
  async add(key: string, entry: Entry): Promise<boolean> {
    const added = await this.#l2.add(key, entry);
    if (added) {
      this.#generation++;
      this.#l1.delete(key);
      await this.#publish({ k: key });
    }
    return added;
  }

  async delete(key: string): Promise<boolean> {
    const local = this.#l1.delete(key);
    const remote = await this.#l2.delete(key);
    await this.#publish({ k: key });
    return local || remote;
  }

  async clear(prefix: string): Promise<void> {
    this.#l1.clear(prefix);
    await this.#l2.clear(prefix);
    await this.#publish({ p: prefix });
  }

  lock(key: string, ttlMs: number): Promise<LockResult> {
    return this.#l2.lock(key, ttlMs);
  }

  unlock(key: string, token: string): Promise<void> {
    return this.#l2.unlock(key, token);
  }

  async close(): Promise<void> {
    await Promise.all([this.#l1.close(), this.#l2.close()]);
  }
}
