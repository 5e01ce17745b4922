/**
 * What a cache tells observers: each call of its methods on the `weir:cache.call` tracing channel
 * (`start`, `end`, `asyncStart`, `asyncEnd`, `error`, as `tracePromise()` publishes them), which
 * weir/observability's tracing subscribes to. With no subscriber a call pays one `hasSubscribers` check.
 * Records name the cache and the operation, never a key or a value.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import type { Cache } from './cache.ts';

/** The cache methods a record names. */
export type CacheOperation = 'get' | 'getMany' | 'set' | 'add' | 'delete' | 'clear' | 'wrap';

/** One call: the context object of the `weir:cache.call` tracing channel. */
export interface CacheRecord {
  /** The cache called: its `backend`, `namespace` and `url` (password masked). */
  readonly cache: Cache;
  readonly operation: CacheOperation;
  /**
   * `wrap()`: true when a value was served from the cache (fresh, or stale while it refreshes), false
   * when the loader ran (or was joined). Other operations: read `result` (`get`: a value or
   * `undefined`; `getMany`: the values; `add`, `delete`: whether it did).
   */
  hit?: boolean;
  /** `wrap()`: a stale value was served while a background load refreshes it. */
  stale?: boolean;
  error?: unknown;
  result?: unknown;
}

/** `weir:cache.call`: a {@link CacheRecord} per call of a cache's methods. */
export const cacheChannel = tracingChannel<object, CacheRecord>('weir:cache.call');

/** Runs `work` as the traced call `operation` of `cache`. Call only while the channel has subscribers. */
export function traceCall<T>(cache: Cache, operation: CacheOperation, work: () => Promise<T>): Promise<T> {
  const record: CacheRecord = { cache, operation };
  return cacheChannel.tracePromise(work, record);
}
