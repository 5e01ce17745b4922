/**
 * The options of `createHttpClient()`, their defaults, and their checking: every limit has a default, and
 * a bad value throws `WEIR_ERR_INVALID_OPTION` when the client is made, never on its first call.
 */
import { invalidOption } from '../errors.ts';

/** Time limits of a call, in ms. `Infinity` sets none. */
export interface TimeoutOptions {
  /** Opening a connection (TCP, and TLS for https). Set per client only. @default 5_000 */
  connectMs?: number;
  /** From sending the request until the response's headers have all arrived. @default 10_000 */
  headersMs?: number;
  /** The longest silence between two chunks of the response body. @default 10_000 */
  bodyMs?: number;
  /**
   * The whole call, every retry and its wait included, from its start until its body has been read.
   * A caller's `deadline` (or its `ctx`'s) shortens it. @default 30_000
   */
  totalMs?: number;
}

/**
 * Retries of failed attempts: only for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) or a call
 * with an idempotency key, only when the attempt failed to connect, lost its connection before any byte
 * of the response, or got 429, 502, 503 or 504; never past the call's deadline.
 */
export interface RetryOptions {
  /** Attempts in all, the first one included: `1` makes no retry. @default 3 */
  attempts?: number;
  /** The backoff before retry n is a random wait in 0…min(maxMs, baseMs × 2^(n-1)) (full jitter). @default 100 */
  baseMs?: number;
  /** The longest backoff. @default 2_000 */
  maxMs?: number;
  /**
   * A `Retry-After` (seconds or an HTTP date) is waited for exactly; one that asks for longer than this
   * is not retried at all (the upstream said not before then). @default 10_000
   */
  maxRetryAfterMs?: number;
}

/**
 * The circuit breaker of each origin. Closed, it counts the outcomes of the last `windowMs`; once at least
 * `minRequests` were counted and `failureRatio` of them failed (a timeout, a connection error, a 5xx),
 * it opens: calls then fail at once with `WEIR_ERR_UPSTREAM_UNAVAILABLE`, without a connection attempt.
 * After `openMs` it lets one probe through (half-open): its success closes the breaker, its failure opens
 * it again.
 */
export interface BreakerOptions {
  /** @default 0.5 */
  failureRatio?: number;
  /** @default 20 */
  minRequests?: number;
  /** @default 10_000 */
  windowMs?: number;
  /** @default 5_000 */
  openMs?: number;
}

/** Options of `createHttpClient()`. */
export interface HttpClientOptions {
  /**
   * The origin (and an optional path prefix) that relative paths are resolved against:
   * `http://127.0.0.1:3000`, `https://api.example.com/v2`. Without it every call gives an absolute URL.
   */
  baseUrl?: string | URL;
  /** Connections open at once to each origin; further calls wait for one. @default 64 */
  connections?: number;
  /** An idle kept-alive connection is closed after this long (ms), unless the server says less. @default 4_000 */
  keepAliveMs?: number;
  timeouts?: TimeoutOptions;
  /** `false` makes no retry. */
  retry?: RetryOptions | false;
  /** `false` turns the circuit breakers off. */
  breaker?: BreakerOptions | false;
  /**
   * The largest response body read (bytes): a larger one rejects with `WEIR_ERR_UPSTREAM_TOO_LARGE` and
   * its connection is closed. @default 10_485_760 (10 MiB)
   */
  maxBodyBytes?: number;
  /** Headers sent with every call; a call's own headers win. */
  headers?: Readonly<Record<string, string>>;
}

export interface TimeoutSettings {
  connectMs: number;
  headersMs: number;
  bodyMs: number;
  totalMs: number;
}
export type RetrySettings = Required<RetryOptions>;
export type BreakerSettings = Required<BreakerOptions>;

export interface HttpClientSettings {
  base: URL | undefined;
  connections: number;
  keepAliveMs: number;
  timeouts: TimeoutSettings;
  retry: RetrySettings;
  breaker: BreakerSettings | false;
  maxBodyBytes: number;
  headers: Readonly<Record<string, string>>;
}

export const TIMEOUT_DEFAULTS: TimeoutSettings = {
  connectMs: 5_000,
  headersMs: 10_000,
  bodyMs: 10_000,
  totalMs: 30_000,
};
export const RETRY_DEFAULTS: RetrySettings = {
  attempts: 3,
  baseMs: 100,
  maxMs: 2_000,
  maxRetryAfterMs: 10_000,
};
export const BREAKER_DEFAULTS: BreakerSettings = {
  failureRatio: 0.5,
  minRequests: 20,
  windowMs: 10_000,
  openMs: 5_000,
};
/** The default of `maxBodyBytes`: 10 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** A number of ms > 0 (or `Infinity` where allowed). */
function ms(name: string, value: unknown, infinite: boolean): number {
  if (typeof value !== 'number' || !(value > 0) || (!infinite && !Number.isFinite(value))) {
    throw invalidOption(name, `a number of ms > 0${infinite ? ' (or Infinity)' : ''}`, value);
  }
  return value;
}

function integer(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidOption(name, `an integer ≥ ${min}`, value);
  }
  return value;
}

function object(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw invalidOption(name, 'an object', value);
  return value as Record<string, unknown>;
}

/** `timeouts` over `base`, checked. */
export function timeoutSettings(value: unknown, base: TimeoutSettings, name: string): TimeoutSettings {
  if (value === undefined) return base;
  const o = object(name, value);
  const s = { ...base };
  for (const key of ['connectMs', 'headersMs', 'bodyMs', 'totalMs'] as const) {
    if (o[key] !== undefined) s[key] = ms(`${name}.${key}`, o[key], true);
  }
  return s;
}

/** `retry` over `base`, checked; `false` is one attempt. */
export function retrySettings(value: unknown, base: RetrySettings, name: string): RetrySettings {
  if (value === undefined) return base;
  if (value === false) return { ...base, attempts: 1 };
  const o = object(name, value);
  const s = { ...base };
  if (o.attempts !== undefined) s.attempts = integer(`${name}.attempts`, o.attempts, 1);
  if (o.baseMs !== undefined) s.baseMs = ms(`${name}.baseMs`, o.baseMs, false);
  if (o.maxMs !== undefined) s.maxMs = ms(`${name}.maxMs`, o.maxMs, false);
  if (o.maxRetryAfterMs !== undefined) {
    s.maxRetryAfterMs = ms(`${name}.maxRetryAfterMs`, o.maxRetryAfterMs, true);
  }
  return s;
}

function breakerSettings(value: unknown): BreakerSettings | false {
  if (value === false) return false;
  if (value === undefined) return BREAKER_DEFAULTS;
  const o = object('createHttpClient() breaker', value);
  const s = { ...BREAKER_DEFAULTS };
  if (o.failureRatio !== undefined) {
    const r = o.failureRatio;
    if (typeof r !== 'number' || !(r > 0 && r <= 1)) {
      throw invalidOption('createHttpClient() breaker.failureRatio', 'a number in (0, 1]', r);
    }
    s.failureRatio = r;
  }
  if (o.minRequests !== undefined) {
    s.minRequests = integer('createHttpClient() breaker.minRequests', o.minRequests, 1);
  }
  if (o.windowMs !== undefined) s.windowMs = ms('createHttpClient() breaker.windowMs', o.windowMs, false);
  if (o.openMs !== undefined) s.openMs = ms('createHttpClient() breaker.openMs', o.openMs, false);
  return s;
}

/** The URL relative paths resolve against, checked: http(s), no query, no fragment. */
function baseOf(value: unknown): URL | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw invalidOption('createHttpClient() baseUrl', 'an http(s) URL', value);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw invalidOption('createHttpClient() baseUrl', 'an http(s) URL with no query or fragment', value);
  }
  return url;
}

function headersOf(value: unknown, name: string): Readonly<Record<string, string>> {
  if (value === undefined) return {};
  const o = object(name, value);
  for (const [key, v] of Object.entries(o)) {
    if (typeof v !== 'string') throw invalidOption(`${name}[${JSON.stringify(key)}]`, 'a string', v);
  }
  return o as Record<string, string>;
}

/** `options` over the defaults, checked. @throws `WEIR_ERR_INVALID_OPTION` naming the first bad one. */
export function httpClientSettings(options: HttpClientOptions = {}): HttpClientSettings {
  object('createHttpClient() options', options);
  return {
    base: baseOf(options.baseUrl),
    connections: integer('createHttpClient() connections', options.connections ?? 64, 1),
    keepAliveMs: ms('createHttpClient() keepAliveMs', options.keepAliveMs ?? 4_000, false),
    timeouts: timeoutSettings(options.timeouts, TIMEOUT_DEFAULTS, 'createHttpClient() timeouts'),
    retry: retrySettings(options.retry, RETRY_DEFAULTS, 'createHttpClient() retry'),
    breaker: breakerSettings(options.breaker),
    maxBodyBytes: integer(
      'createHttpClient() maxBodyBytes',
      options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      0,
    ),
    headers: headersOf(options.headers, 'createHttpClient() headers'),
  };
}

/** Checks a per-call `headers` object. */
export function callHeaders(value: unknown): Readonly<Record<string, string>> {
  return headersOf(value, 'http-client call headers');
}
