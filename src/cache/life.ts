/**
 * The life of a cached value: fresh for `ttl`, then servable stale for `staleWhileRevalidate` more. Both
 * are kept on the entry as instants (epoch ms, 0 = forever), so every store and every process reads an
 * entry's age the same way.
 */
import { invalidOption } from '../errors.ts';
import type { SetOptions } from './cache.ts';
import type { Encoded } from './codec.ts';
import type { Entry } from './store.ts';

/** `value` as a duration option: a number of ms ≥ 0 (> 0 unless `allowZero`), or `Infinity`. */
export function checkDuration(name: string, value: unknown, allowZero: boolean): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (value === 0 && !allowZero)) {
    throw invalidOption(
      name,
      allowZero ? 'a number of ms ≥ 0 or Infinity' : 'a number of ms > 0 or Infinity',
      value,
    );
  }
  return value;
}

function ttlOf(options: SetOptions | undefined, defaultTtl: number): number {
  return options?.ttl === undefined ? defaultTtl : checkDuration('Cache ttl', options.ttl, false);
}

function staleOf(options: SetOptions | undefined): number {
  return options?.staleWhileRevalidate === undefined
    ? 0
    : checkDuration('Cache staleWhileRevalidate', options.staleWhileRevalidate, true);
}

/** Throws `WEIR_ERR_INVALID_OPTION` for a `ttl` or `staleWhileRevalidate` that is not a valid duration. */
export function checkLife(options: SetOptions): void {
  ttlOf(options, 0);
  staleOf(options);
}

/** The entry that keeps an encoded value for the life `options` give, from now. */
export function entryOf(encoded: Encoded, options: SetOptions | undefined, defaultTtl: number): Entry {
  const ttl = ttlOf(options, defaultTtl);
  const swr = staleOf(options);
  const freshUntil = ttl === Number.POSITIVE_INFINITY ? 0 : Date.now() + ttl;
  const staleUntil = freshUntil === 0 || swr === Number.POSITIVE_INFINITY ? 0 : freshUntil + swr;
  return { text: encoded.text, value: encoded.value, freshUntil, staleUntil };
}

/** Whether `entry` may be served as it is at `now`. */
export function fresh(entry: Entry, now: number): boolean {
  return entry.freshUntil === 0 || entry.freshUntil > now;
}

/** Whether a stale `entry` may still be served while it is refreshed. */
export function withinStale(entry: Entry, now: number): boolean {
  return entry.staleUntil === 0 || entry.staleUntil > now;
}
