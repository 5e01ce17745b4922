/**
 * `rateLimit()`: a limiter in front of routes. Each request spends one of its key's allowance (the
 * client's address by default); past it, 429 `WEIR_ERR_RATE_LIMITED` with `Retry-After`. Every answer
 * carries the IETF httpapi fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy:
 * "name";q=limit;w=window` and `RateLimit: "name";r=remaining;t=seconds-to-whole`; several limiters on
 * one route each add their own member to both.
 */
import { isIPv6 } from 'node:net';
import { httpError, invalidOption } from '../../errors.ts';
import type { Middleware } from '../../http/compose.ts';
import type { AnyContext, Context } from '../../http/context.ts';
import { headerOf } from '../../http/response-view.ts';
import { describeMiddleware } from '../../internal/describe.ts';
import {
  createRateLimiter,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitResult,
} from './limiter.ts';

/** Options of {@link rateLimit}: a limiter's own (or a limiter), and whose allowance a request spends. */
export interface RateLimitOptions extends Partial<RateLimiterOptions> {
  /** A limiter made with `createRateLimiter()`, instead of `limit`, `windowMs` and the rest. */
  limiter?: RateLimiter;
  /**
   * Whose allowance: a string per request, or `undefined` to let the request through uncounted.
   * @default the client's address (`ctx.ip`, proxy-aware), IPv6 addresses by their /64
   */
  key?: (ctx: Context) => string | undefined | Promise<string | undefined>;
  /** What a request costs. @default 1 */
  cost?: (ctx: Context) => number;
  /** Send the `RateLimit` and `RateLimit-Policy` fields. @default true */
  headers?: boolean;
}

/** The client's address as a rate-limit key: an IPv6 client owns a /64, so it is counted as one. */
export function clientKey(ctx: AnyContext): string {
  const ip = ctx.ip;
  if (!isIPv6(ip) || ip.startsWith('::ffff:')) return ip;
  const groups = expandV6(ip).slice(0, 4);
  return `${groups.join(':')}::/64`;
}

function expandV6(ip: string): string[] {
  const [head = '', tail] = ip.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array.from({ length: missing }, () => '0'), ...right].map((g) => g.toLowerCase());
}

function appendField(ctx: Context, name: string, member: string): void {
  const current = headerOf(ctx, undefined, name);
  ctx.set(name, current === undefined || current === '' ? member : `${String(current)}, ${member}`);
}

/** Seconds for a header: whole, rounded up, never negative. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/** Adds the IETF fields for one decision. */
export function rateLimitFields(ctx: AnyContext, result: RateLimitResult): void {
  const { limiter } = result;
  appendField(ctx, 'ratelimit-policy', `"${limiter.name}";q=${limiter.limit};w=${seconds(limiter.windowMs)}`);
  appendField(ctx, 'ratelimit', `"${limiter.name}";r=${result.remaining};t=${seconds(result.resetMs)}`);
}

/** The 429 (or, for a store failing closed, 503) for a refused decision. */
export function refusal(result: RateLimitResult): Error {
  const retry = String(Math.max(1, seconds(result.retryAfterMs)));
  if (result.degraded) {
    return httpError(
      'WEIR_ERR_RATE_LIMIT_UNAVAILABLE',
      'The rate limit cannot be checked right now; try again shortly',
      undefined,
      { headers: { 'retry-after': retry } },
    );
  }
  return httpError(
    'WEIR_ERR_RATE_LIMITED',
    `Too many requests: try again in ${retry} s`,
    { retryAfterSeconds: Number(retry) },
    {
      headers: { 'retry-after': retry },
    },
  );
}

/**
 * Middleware that lets each key through at most `limit` times per `windowMs`.
 * @example
 * app.use(rateLimit({ limit: 100, windowMs: 60_000, store: await openRateLimitStore(process.env.REDIS_URL) }));
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('rateLimit() options', 'an object', options);
  const limiter = options.limiter ?? createRateLimiter(options as RateLimiterOptions);
  const key = options.key ?? clientKey;
  if (typeof key !== 'function')
    throw invalidOption('rateLimit() key', 'a function (ctx) => string | undefined', key);
  const cost = options.cost;
  if (cost !== undefined && typeof cost !== 'function')
    throw invalidOption('rateLimit() cost', 'a function (ctx) => number', cost);
  const headers = options.headers ?? true;

  return describeMiddleware(
    async function rateLimit(ctx: Context, next: () => Promise<void>) {
      const id = await key(ctx);
      if (id !== undefined) {
        const result = await limiter.take(id, cost === undefined ? 1 : cost(ctx));
        if (headers && !result.degraded) rateLimitFields(ctx, result);
        if (!result.allowed) throw refusal(result);
      }
      await next();
    },
    { responses: { 429: 'Too many requests (WEIR_ERR_RATE_LIMITED); Retry-After says when to retry' } },
  );
}
