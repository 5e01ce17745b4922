/**
 * HTTP caching: `etag()` answers a repeated GET with 304 when the body has not changed, and
 * `cacheControl()` says who may keep a response, and for how long (browsers, a CDN).
 */
import { hash } from 'node:crypto';
import { invalidOption } from '../errors.ts';
import type { Middleware } from './compose.ts';
import { plannedEncoding } from './compression/response.ts';
import { variantTag, varyWithEncoding } from './compression/settings.ts';
import { isWeirResponse, type ResponseHeaders, WeirResponse } from './response.ts';
import { bufferedBody, headerOf } from './response-view.ts';

/** An entity-tag in a list: the quotes delimit it, since its opaque part may hold commas and spaces. */
const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** True if an `If-None-Match` header names `etag` (weak comparison, RFC 9110 §13.1.2), or is `*`. */
export function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const target = opaque(etag);
  // A handler's own unquoted (invalid) tag can only be matched the old way, member by member.
  if (!target.startsWith('"')) return header.split(',').some((t) => opaque(t.trim()) === target);
  for (const [tag] of header.matchAll(ENTITY_TAG)) if (opaque(tag) === target) return true;
  return false;
}

/** An IMF-fixdate (RFC 9110 §5.6.7), the only date form weir sends in `Last-Modified`. */
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

/** The validators of the representation a `Range` request asks for, for {@link ifRangeMatches}. */
export interface RangeValidators {
  /** The `ETag` sent with the representation, weak (`W/"…"`) or strong. */
  readonly etag: string | undefined;
  /** The `Last-Modified` value sent with the representation. */
  readonly lastModified: string | undefined;
  /** When the representation last changed, in milliseconds since the epoch (sub-second precision). */
  readonly modifiedMs: number;
  /** The time of the response (its `Date`), in milliseconds since the epoch. */
  readonly nowMs: number;
}

/**
 * True if an `If-Range` header lets its `Range` through (RFC 9110 §13.1.5); false means "send all of it,
 * 200". Splicing bytes of two versions is worse than sending too much, so every doubt answers false:
 * - an entity-tag matches only by strong comparison: both tags strong and identical, so a weak ETag never
 *   matches;
 * - a date matches only when it is a valid IMF-fixdate equal to `Last-Modified` (not merely the same
 *   instant), and that date is strong (§8.8.2.2): the second it names is over by the time of the
 *   response, so no change within that second is still to come. A date in the future is weak too. A copy
 *   fetched during that second, before a second change, is the client's to catch: §8.8.2.2 lets it send
 *   a date only when its copy's `Date` is at least one second after its `Last-Modified`.
 */
export function ifRangeMatches(header: string, validators: RangeValidators): boolean {
  // §13.1.5: an entity-tag starts with DQUOTE or W/, a date never does.
  if (header.startsWith('W/')) return false;
  if (header.startsWith('"')) return header === validators.etag;
  if (header !== validators.lastModified || !IMF_FIXDATE.test(header)) return false;
  return Math.floor(validators.nowMs / 1000) > Math.floor(validators.modifiedMs / 1000);
}

/** Options of {@link etag}. */
export interface EtagOptions {
  /** Bodies larger than this are sent without an ETag (hashing them costs more than it saves). @default 1 MiB */
  maxBytes?: number;
}

/** The headers a 304 repeats from the full response (RFC 9110 §15.4.5). */
const KEPT_ON_304 = ['cache-control', 'content-location', 'expires', 'vary'];

/**
 * Adds a weak `ETag`, computed from the body, to successful GET and HEAD responses whose body is in
 * memory (a string, bytes, JSON or a response helper's body), and answers `304 Not Modified` without a
 * body when the request's `If-None-Match` names it. A handler's own `ETag` header is kept.
 * @example app.use(etag()); app.get('/catalog', () => loadCatalog());
 */
export function etag(options: EtagOptions = {}): Middleware {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  if (typeof maxBytes !== 'number' || !(maxBytes >= 0)) {
    throw invalidOption('etag() maxBytes', 'a number ≥ 0', maxBytes);
  }
  return async (ctx, next) => {
    await next();
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.error !== undefined) return undefined;
    if (ctx.statusCode !== 200) return undefined;
    let result = ctx.result;
    let tag = headerOf(ctx, result, 'etag');
    let size: number | undefined;
    if (tag === undefined) {
      const found = bufferedBody(result);
      if (found === undefined) return undefined;
      size = typeof found.body === 'string' ? Buffer.byteLength(found.body) : found.body.byteLength;
      if (size > maxBytes) return undefined;
      tag = `W/"${size.toString(16)}-${hash('sha1', found.body, 'base64url').slice(0, 27)}"`;
      ctx.set('etag', tag);
      // JSON is serialised once, here, and sent as it is.
      if (found.type !== undefined) {
        result = new WeirResponse(found.body, 200, { 'content-type': found.type });
        ctx.result = result;
      }
    }
    const ifNoneMatch = ctx.headers['if-none-match'];
    if (typeof tag !== 'string' || ifNoneMatch === undefined) return result;
    // The tag of the variant this request would get: a brotli copy's tag answers only a brotli request.
    if (size === undefined) {
      const found = bufferedBody(result);
      if (found !== undefined) {
        size = typeof found.body === 'string' ? Buffer.byteLength(found.body) : found.body.byteLength;
      }
    }
    const encoding = plannedEncoding(ctx, result, size);
    const sent = typeof encoding === 'string' ? variantTag(tag, encoding) : tag;
    if (!etagMatches(ifNoneMatch, sent)) return result;
    const headers: ResponseHeaders = { etag: sent };
    for (const name of KEPT_ON_304) {
      const value = isWeirResponse(result) ? headerOf(ctx, result, name) : undefined;
      if (value !== undefined) headers[name] = value;
    }
    if (encoding !== undefined) headers.vary = varyWithEncoding(headerOf(ctx, result, 'vary'));
    return new WeirResponse(undefined, 304, headers);
  };
}

/** The directives of a `Cache-Control` header. Durations are in seconds, as in HTTP. */
export interface CacheControlOptions {
  /** Any cache may store it, a CDN included, even for an authenticated request. */
  public?: boolean;
  /** Only the browser may store it. */
  private?: boolean;
  /** Fresh for this long. */
  maxAgeSeconds?: number;
  /** Fresh for this long in shared caches (a CDN), overriding `maxAgeSeconds` there. */
  sMaxAgeSeconds?: number;
  /** A cache may serve it stale for this long while it revalidates in the background. */
  staleWhileRevalidateSeconds?: number;
  /** A cache may serve it stale for this long when the origin fails. */
  staleIfErrorSeconds?: number;
  /** Store, but revalidate (with the ETag) before each use. */
  noCache?: boolean;
  /** Never store. */
  noStore?: boolean;
  /** Once stale, never serve it without revalidating. */
  mustRevalidate?: boolean;
  /** It will never change at this URL (fingerprinted assets). */
  immutable?: boolean;
  noTransform?: boolean;
}

const SECONDS: [keyof CacheControlOptions, string][] = [
  ['maxAgeSeconds', 'max-age'],
  ['sMaxAgeSeconds', 's-maxage'],
  ['staleWhileRevalidateSeconds', 'stale-while-revalidate'],
  ['staleIfErrorSeconds', 'stale-if-error'],
];
const FLAGS: [keyof CacheControlOptions, string][] = [
  ['public', 'public'],
  ['private', 'private'],
  ['noCache', 'no-cache'],
  ['noStore', 'no-store'],
  ['mustRevalidate', 'must-revalidate'],
  ['immutable', 'immutable'],
  ['noTransform', 'no-transform'],
];

/** The `Cache-Control` header value for `options`. */
export function formatCacheControl(options: CacheControlOptions): string {
  if (options.public && options.private) {
    throw invalidOption('cacheControl()', 'either public or private, not both', 'both');
  }
  const parts: string[] = [];
  for (const [name, directive] of FLAGS) if (options[name] === true) parts.push(directive);
  for (const [name, directive] of SECONDS) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw invalidOption(`cacheControl() ${name}`, 'a whole number of seconds ≥ 0', value);
    }
    parts.push(`${directive}=${value}`);
  }
  if (parts.length === 0) throw invalidOption('cacheControl()', 'at least one directive', options);
  return parts.join(', ');
}

/**
 * Sets `Cache-Control` on responses below 400 that do not set it themselves; errors are never marked
 * cacheable. Pass the directives, or a header value as it is.
 * @example
 * app.get('/catalog', cacheControl({ public: true, maxAgeSeconds: 60, staleWhileRevalidateSeconds: 300 }), etag(), () => loadCatalog());
 */
export function cacheControl(directives: CacheControlOptions | string): Middleware {
  const value = typeof directives === 'string' ? directives : formatCacheControl(directives);
  if (value.trim() === '' || /[\r\n]/.test(value)) {
    throw invalidOption('cacheControl()', 'a non-empty header value on one line', directives);
  }
  return async (ctx, next) => {
    await next();
    if (ctx.error !== undefined || ctx.statusCode >= 400) return undefined;
    if (headerOf(ctx, ctx.result, 'cache-control') === undefined) ctx.set('cache-control', value);
    return undefined;
  };
}
