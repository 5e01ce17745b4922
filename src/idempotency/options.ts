/**
 * The options of `idempotency()`, checked once when the middleware is made.
 */
import type { Cache } from '../cache/cache.ts';
import { invalidOption, WeirError } from '../errors.ts';
import type { Context } from '../http/context.ts';
import { underWorkers } from '../internal/workers.ts';

/** Options of {@link idempotency}. */
export interface IdempotencyOptions<S extends object = Record<never, never>> {
  /**
   * Where keys, claims and responses are kept: a cache from `openCache()`, or a function that returns
   * one, for a cache opened in `app.onStart()` (then checked on the first request, not at creation).
   * Use Redis (`redis://`, `tiered+redis://`) when more than one process serves the app.
   */
  cache: Cache | (() => Cache);
  /** How long a response is kept and replayed, from when it was stored. @default 86_400_000 (a day) */
  windowMs?: number;
  /** The request header that carries the key (case-insensitive). @default 'idempotency-key' */
  header?: string;
  /**
   * The methods that take a key; requests with other methods pass through untouched. PUT and DELETE
   * are idempotent by definition, but may be added. @default ['POST', 'PATCH']
   */
  methods?: readonly string[];
  /** `true`: a request without a key gets 400 `WEIR_ERR_IDEMPOTENCY_KEY_MISSING`. @default false (passes through) */
  required?: boolean;
  /** The longest key accepted, in characters (printable ASCII). @default 255 */
  maxKeyLength?: number;
  /**
   * Whose key it is: the same key from two scopes (users, tenants) names two requests. Called once per
   * request with a key; return a string such as the user's id. @default every client shares one scope
   */
  scope?: (ctx: Context<string, S>) => string;
  /**
   * How long a claim lasts while its request runs: if the process dies mid-request, the key is free
   * again after this. Keep it above the route's longest run (its `timeoutMs`), or a slow first request's
   * key could be claimed a second time. @default 60_000
   */
  lockMs?: number;
  /**
   * The largest response body kept for replay. A larger (or streamed) response is sent, and its key
   * answers later duplicates with 409 `WEIR_ERR_IDEMPOTENCY_NOT_REPLAYABLE`. Keep it well under the
   * cache's `maxValueBytes` (1 MiB by default). @default 65_536
   */
  maxResponseBytes?: number;
  /**
   * Response headers replayed besides Content-Type, Content-Language, Content-Location, Location, ETag,
   * Last-Modified, Cache-Control, Expires, Vary and Link. `Set-Cookie` is never kept. @default []
   */
  replayHeaders?: readonly string[];
  /** The `Retry-After` of a 409 for a request still running. @default 1 */
  retryAfterSeconds?: number;
  /**
   * An in-process cache (`memory:`) under several worker processes keeps each process's keys to
   * itself, so a duplicate sent to another process runs again: creation then throws
   * `WEIR_ERR_INVALID_OPTION` unless this is `true`. @default false
   */
  allowMemoryWithWorkers?: boolean;
}

/** The checked options. */
export interface Settings {
  readonly cache: () => Cache;
  readonly windowMs: number;
  readonly header: string;
  readonly headerName: string;
  readonly methods: ReadonlySet<string>;
  readonly required: boolean;
  readonly maxKeyLength: number;
  readonly scope: ((ctx: Context) => string) | undefined;
  readonly lockMs: number;
  readonly maxResponseBytes: number;
  readonly replayHeaders: readonly string[];
  readonly retryAfterSeconds: number;
}

const TOKEN = /^[!#$%&'*+.^`|~\w-]+$/;

/** The response headers a replay repeats (RFC 9110 representation and redirection metadata). */
const KEPT = [
  'content-type',
  'content-language',
  'content-location',
  'location',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
  'vary',
  'link',
];

function positiveInteger(name: string, value: unknown, fallback: number): number {
  const n = value ?? fallback;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw invalidOption(`idempotency() ${name}`, 'an integer ≥ 1', n);
  }
  return n;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') {
    throw invalidOption(`idempotency() ${name}`, 'true or false', value);
  }
  return value === true;
}

/** Checks `options`; throws `WEIR_ERR_INVALID_OPTION` naming the first one at fault. */
export function settle<S extends object>(options: IdempotencyOptions<S>): Settings {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('idempotency() options', 'an object with a cache', options);
  }
  const allowMemory = checkBoolean('allowMemoryWithWorkers', options.allowMemoryWithWorkers);
  const header = options.header ?? 'idempotency-key';
  if (typeof header !== 'string' || !TOKEN.test(header)) {
    throw invalidOption('idempotency() header', 'a header name', header);
  }
  const methods = options.methods ?? ['POST', 'PATCH'];
  if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => TOKEN.test(String(m)))) {
    throw invalidOption('idempotency() methods', 'a non-empty list of HTTP methods', methods);
  }
  const scope = options.scope;
  if (scope !== undefined && typeof scope !== 'function') {
    throw invalidOption('idempotency() scope', 'a function (ctx) => string', scope);
  }
  const extra = options.replayHeaders ?? [];
  if (!Array.isArray(extra) || !extra.every((h) => typeof h === 'string' && TOKEN.test(h))) {
    throw invalidOption('idempotency() replayHeaders', 'a list of header names', extra);
  }
  if (extra.some((h) => h.toLowerCase() === 'set-cookie')) {
    throw invalidOption('idempotency() replayHeaders', 'header names other than Set-Cookie', 'set-cookie');
  }
  return {
    cache: cacheOf(options.cache, allowMemory),
    windowMs: positiveInteger('windowMs', options.windowMs, 86_400_000),
    header: header.toLowerCase(),
    headerName: header,
    methods: new Set(methods.map((m) => m.toUpperCase())),
    required: checkBoolean('required', options.required),
    maxKeyLength: positiveInteger('maxKeyLength', options.maxKeyLength, 255),
    scope: scope as ((ctx: Context) => string) | undefined,
    lockMs: positiveInteger('lockMs', options.lockMs, 60_000),
    maxResponseBytes: positiveInteger('maxResponseBytes', options.maxResponseBytes, 65_536),
    replayHeaders: [...new Set([...KEPT, ...extra.map((h) => h.toLowerCase())])],
    retryAfterSeconds: positiveInteger('retryAfterSeconds', options.retryAfterSeconds, 1),
  };
}

/** The cache as a getter; a cache given itself is checked now, one behind a function on first use. */
function cacheOf(given: unknown, allowMemory: boolean): () => Cache {
  if (typeof given === 'function') {
    let checked: Cache | undefined;
    return () => {
      if (checked === undefined) {
        const cache = (given as () => Cache)();
        checkCache(cache, allowMemory);
        checked = cache;
      }
      return checked;
    };
  }
  checkCache(given, allowMemory);
  const cache = given as Cache;
  return () => cache;
}

function checkCache(cache: unknown, allowMemory: boolean): void {
  const c = cache as Partial<Cache> | null;
  if (typeof c !== 'object' || c === null || typeof c.add !== 'function' || typeof c.get !== 'function') {
    throw invalidOption('idempotency() cache', 'a cache from openCache()', cache);
  }
  if (c.backend === 'memory' && !allowMemory && underWorkers()) {
    throw new WeirError(
      'WEIR_ERR_INVALID_OPTION',
      `idempotency() cache is ${c.url ?? 'memory:'}, which each worker process keeps to itself: a duplicate ` +
        'sent to another worker would run again. Use CACHE_URL=redis://… (or tiered+redis://…), or pass ' +
        'allowMemoryWithWorkers: true to accept per-process keys',
    );
  }
}
