/**
 * The layer under {@link Cache}: a store keeps entries and knows nothing of loaders or namespaces. Memory, Redis and tiered are stores; degradation, single-flight and stale-while-revalidate
 * live once above them, in `store-cache.ts` and `single-flight.ts`.
 */

/** One stored value: its serialised form (and/or the value itself) and the two instants that bound its life. */
export interface Entry {
  /** The serialised value; its length is the entry's size. */
  readonly text: string;
  /**
   * The value read back from `text` and deep-frozen, kept by in-process stores so that a hit costs no
   * parse (see `codec.ts`); absent where only the text is kept (Redis, or a cache opened `frozen: false`).
   */
  readonly value?: unknown;
  /** Epoch ms until which the value is fresh; 0 = forever. */
  readonly freshUntil: number;
  /** Epoch ms until which a stale value may still be served while it is refreshed; 0 = forever. */
  readonly staleUntil: number;
}

/** `ready`: the backend answers. `degraded`: it does not; the cache runs its loaders (and its L1) alone. */
export type CacheStatus = 'ready' | 'degraded';

/** What a lock attempt found: ours (with the token to release it), someone else's, or no backend to ask. */
export type LockResult = { readonly token: string } | 'held' | 'unavailable';

export interface Store {
  readonly status: CacheStatus;
  /** In-process stores answer synchronously, so that a hit costs no promise. */
  get(key: string): Entry | undefined | Promise<Entry | undefined>;
  getMany(keys: readonly string[]): (Entry | undefined)[] | Promise<(Entry | undefined)[]>;
  set(key: string, entry: Entry): Promise<void> | undefined;
  /**
   * Stores `entry` only if `key` holds nothing (a stale entry kept for stale-while-revalidate counts as
   * something), atomically for every process that shares the store; true if it was stored. A store that
   * cannot answer throws: unlike a read, a claim cannot be treated as a miss.
   */
  add(key: string, entry: Entry): Promise<boolean> | boolean;
  delete(key: string): Promise<boolean> | boolean;
  /** Deletes every key that starts with `prefix`. */
  clear(prefix: string): Promise<void> | undefined;
  /** A short cross-process lock; stores that live in one process have none. */
  lock?(key: string, ttlMs: number): Promise<LockResult>;
  unlock?(key: string, token: string): Promise<void>;
  close(): Promise<void>;
}

/** Milliseconds until `until` (an epoch ms, 0 = forever), or `Infinity`. */
export function remaining(until: number, now: number): number {
  return until === 0 ? Number.POSITIVE_INFINITY : until - now;
}

/** Encodes an entry as one Redis string: `freshUntil|staleUntil|data`, the instants in base 36. */
export function encodeEntry(entry: Entry): string {
  return `${entry.freshUntil.toString(36)}|${entry.staleUntil.toString(36)}|${entry.text}`;
}

/** The inverse of {@link encodeEntry}; `undefined` for anything weir did not write. */
export function decodeEntry(text: string | null | undefined): Entry | undefined {
  if (text === null || text === undefined) return undefined;
  const first = text.indexOf('|');
  const second = first < 0 ? -1 : text.indexOf('|', first + 1);
  if (second < 0) return undefined;
  const freshUntil = Number.parseInt(text.slice(0, first), 36);
  const staleUntil = Number.parseInt(text.slice(first + 1, second), 36);
  if (!Number.isFinite(freshUntil) || !Number.isFinite(staleUntil)) return undefined;
  return { text: text.slice(second + 1), freshUntil, staleUntil };
}
