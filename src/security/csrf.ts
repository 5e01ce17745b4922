/**
 * Cross-site request forgery protection for cookie-authenticated requests, the way browsers now allow it:
 * `Sec-Fetch-Site` (sent by every current browser) says whether a request comes from the app's own origin,
 * and `Origin` says it for browsers that predate `Sec-Fetch-Site`. For the few browsers that send neither, a
 * token kept in the session is the fallback. Requests that carry no cookie are not CSRF-able (no ambient
 * credential rides along) and pass, as do safe methods (GET, HEAD, OPTIONS), which must not change state.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { httpError, invalidOption } from '../errors.ts';
import type { Middleware } from '../http/compose.ts';
import type { AnyContext, Context } from '../http/context.ts';
import { sessionOf } from './session.ts';

/** Options of {@link csrf}. */
export interface CsrfOptions {
  /**
   * Other origins allowed to send unsafe requests with the app's cookies (`https://admin.example.com`):
   * exact `scheme://host[:port]`, no paths, no wildcards. @default [] (the app's own origin only)
   */
  trustedOrigins?: readonly string[];
  /**
   * For a request with cookies but neither `Sec-Fetch-Site` nor `Origin` (a browser from before 2020, or
   * a script), require the session's CSRF token (see {@link csrfToken}) in the `X-CSRF-Token` header or a
   * `_csrf` form field. `false` lets such requests through, as Go's `CrossOriginProtection` does.
   * @default true
   */
  tokenFallback?: boolean;
  /** The methods that pass unchecked. @default ['GET', 'HEAD', 'OPTIONS'] */
  safeMethods?: readonly string[];
}

const TOKEN_KEY = 'csrf';
const ORIGIN = /^https?:\/\/[^/?#\s]+$/;
/** The session's secret: 32 random bytes, base64url. */
const TOKEN_SHAPE = /^[\w-]{43}$/;
/** What {@link csrfToken} hands out: a fresh 32-byte mask, then the secret XOR the mask, base64url. */
const MASKED_SHAPE = /^[\w-]{86}$/;
const TOKEN_BYTES = 32;

/**
 * A CSRF token for this response, for forms (`<input type="hidden" name="_csrf">`) and scripts
 * (`X-CSRF-Token`) in browsers that send neither `Sec-Fetch-Site` nor `Origin`. The secret behind it is
 * kept in the session (made on first use); each call returns it under a new random mask, so the bytes on
 * the page differ on every response and a compressed page cannot leak them to a BREACH attacker, who
 * guesses a secret by how the size of responses mixing it with reflected text changes. Any token handed
 * out during the session is accepted.
 * @throws WeirError `WEIR_ERR_NO_SESSION` on a route without `session()`.
 */
export function csrfToken(ctx: AnyContext): string {
  let secret = ctx.session.get(TOKEN_KEY);
  if (typeof secret !== 'string' || !TOKEN_SHAPE.test(secret)) {
    secret = randomBytes(TOKEN_BYTES).toString('base64url');
    ctx.session.set(TOKEN_KEY, secret);
  }
  const plain = Buffer.from(secret as string, 'base64url');
  const masked = randomBytes(2 * TOKEN_BYTES);
  for (let i = 0; i < TOKEN_BYTES; i++) masked[TOKEN_BYTES + i] = masked[i]! ^ plain[i]!;
  return masked.toString('base64url');
}

/** Whether `given` (a masked token, or the bare secret of an older page) carries the session's secret. */
function sameToken(given: unknown, expected: unknown): boolean {
  if (typeof given !== 'string' || typeof expected !== 'string' || !TOKEN_SHAPE.test(expected)) return false;
  const secret = Buffer.from(expected, 'base64url');
  let plain: Buffer;
  if (MASKED_SHAPE.test(given)) {
    const masked = Buffer.from(given, 'base64url');
    plain = Buffer.alloc(TOKEN_BYTES);
    for (let i = 0; i < TOKEN_BYTES; i++) plain[i] = masked[i]! ^ masked[TOKEN_BYTES + i]!;
  } else if (TOKEN_SHAPE.test(given)) {
    plain = Buffer.from(given, 'base64url');
  } else {
    return false;
  }
  return plain.length === secret.length && timingSafeEqual(plain, secret);
}

function refuse(reason: 'cross-site' | 'origin' | 'token'): Error {
  const message =
    reason === 'token'
      ? 'This request needs a CSRF token (X-CSRF-Token header or _csrf field): it came with cookies but without Sec-Fetch-Site or Origin'
      : 'Cross-site request refused: unsafe methods with cookies must come from this site';
  return httpError('WEIR_ERR_CSRF', message, { reason });
}

/**
 * Whether `origin` names the host the request was sent to. The scheme is not compared (as Go's
 * CrossOriginProtection does not): behind a proxy that ends TLS the app may not know it, and a page on
 * the same host is the same site either way.
 */
function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * Middleware that refuses cross-site unsafe requests that carry cookies with 403 `WEIR_ERR_CSRF`.
 * @example
 * app.use(session({ store }), csrf());
 */
export function csrf(options: CsrfOptions = {}): Middleware {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('csrf() options', 'an object', options);
  const trusted = new Set<string>();
  for (const origin of options.trustedOrigins ?? []) {
    if (typeof origin !== 'string' || !ORIGIN.test(origin)) {
      throw invalidOption(
        'csrf() trustedOrigins entry',
        'an origin such as "https://app.example.com"',
        origin,
      );
    }
    trusted.add(new URL(origin).origin);
  }
  const safe = new Set(
    (options.safeMethods ?? ['GET', 'HEAD', 'OPTIONS']).map((m) => String(m).toUpperCase()),
  );
  const tokenFallback = options.tokenFallback ?? true;
  if (typeof tokenFallback !== 'boolean')
    throw invalidOption('csrf() tokenFallback', 'a boolean', tokenFallback);

  const check = async (ctx: Context): Promise<void> => {
    if (safe.has(ctx.method)) return;
    const headers = ctx.req.headers;
    if (headers.cookie === undefined || headers.cookie === '') return;
    const origin = headers.origin;
    const fetchSite = headers['sec-fetch-site'];
    if (fetchSite !== undefined) {
      if (fetchSite === 'same-origin' || fetchSite === 'none') return;
      if (origin !== undefined && trusted.has(origin)) return;
      throw refuse('cross-site');
    }
    if (origin !== undefined) {
      if (trusted.has(origin) || (origin !== 'null' && sameHost(origin, headers.host))) return;
      throw refuse('origin');
    }
    if (!tokenFallback) return;
    const current = sessionOf(ctx);
    let given: unknown = headers['x-csrf-token'];
    if (given === undefined && /^application\/x-www-form-urlencoded\b/i.test(headers['content-type'] ?? '')) {
      given = (await ctx.form())._csrf;
    }
    if (current === undefined || !sameToken(given, current.get(TOKEN_KEY))) throw refuse('token');
  };

  return async function csrf(ctx, next) {
    await check(ctx);
    await next();
  };
}
