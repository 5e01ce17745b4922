/**
 * When a failed attempt is tried again, and after how long. The client's loop asks `retryWait()` after
 * each failed attempt; `undefined` means no retry, and the call fails with that attempt's outcome.
 */
import type { RetrySettings } from './options.ts';

/** Methods whose repetition has the effect of one request (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Statuses that say "not now": the request was not acted on, or is safe to send again. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Whether a call may be sent more than once. */
export function repeatable(method: string, headers: Readonly<Record<string, string>>): boolean {
  if (IDEMPOTENT.has(method)) return true;
  for (const name in headers) if (name.toLowerCase() === 'idempotency-key') return true;
  return false;
}

/** Whether a response status is one a retry may cure. */
export function retryableStatus(status: number): boolean {
  return RETRY_STATUSES.has(status);
}

/**
 * A `Retry-After` value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) in ms from `now`, or
 * `undefined` when it is absent or neither form.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at) || !/[a-z]/i.test(trimmed)) return undefined;
  return Math.max(0, at - now);
}

/** The full-jitter backoff before retry `n` (1 for the first retry). */
export function backoff(n: number, settings: RetrySettings, random: () => number = Math.random): number {
  const cap = Math.min(settings.maxMs, settings.baseMs * 2 ** (n - 1));
  return Math.floor(random() * cap);
}

/** What the loop knows of a failed attempt. */
export interface Failed {
  /** Whether the failure is one a retry may cure (see `RetryOptions`). */
  readonly retryable: boolean;
  /** The `Retry-After` of a response, in ms, if it had one. */
  readonly retryAfterMs: number | undefined;
}

/**
 * The wait before retry `n`, or `undefined` for none: the attempts are spent, the failure is not one a
 * retry cures, the call may not be repeated, `Retry-After` asks for longer than `maxRetryAfterMs`, or the
 * wait would end at or past `endsAt` (the call's deadline).
 */
export function retryWait(
  n: number,
  failed: Failed,
  settings: RetrySettings,
  canRepeat: boolean,
  endsAt: number,
  now: number,
): number | undefined {
  if (n >= settings.attempts || !failed.retryable || !canRepeat) return undefined;
  let wait: number;
  if (failed.retryAfterMs !== undefined) {
    if (failed.retryAfterMs > settings.maxRetryAfterMs) return undefined;
    wait = failed.retryAfterMs;
  } else {
    wait = backoff(n, settings);
  }
  return now + wait < endsAt ? wait : undefined;
}
