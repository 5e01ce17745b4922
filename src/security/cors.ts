/**
 * Cross-origin resource sharing (the Fetch standard's CORS protocol): which other origins' pages may read
 * the app's responses, with or without the user's cookies. Preflights (`OPTIONS` with
 * `Access-Control-Request-Method`) are answered here with 204 and never reach a handler. Every answer
 * that depends on the request's `Origin` says so with `Vary: Origin`, so that no cache hands one origin's
 * answer to another.
 */
import { invalidOption } from '../errors.ts';
import type { Middleware } from '../http/compose.ts';
import type { Context } from '../http/context.ts';
import { varyOn } from '../http/response-view.ts';

/** Which origins may read responses. */
export type CorsOrigin = '*' | string | readonly string[] | ((origin: string, ctx: Context) => boolean);

/** Options of {@link cors}. */
export interface CorsOptions {
  /**
   * `'*'` (any origin, without credentials), one origin or a list (`https://app.example.com`: exact
   * `scheme://host[:port]`), or a function that decides per request. Required: there is no default.
   */
  origin: CorsOrigin;
  /** Let pages send cookies and read responses to them (`Access-Control-Allow-Credentials`). @default false */
  credentials?: boolean;
  /** Methods a preflight allows. @default ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] */
  methods?: readonly string[];
  /**
   * Request headers a preflight allows (names, case-insensitive). @default the headers the preflight asks
   * for, echoed (any header, for the allowed origins only)
   */
  headers?: readonly string[];
  /** Response headers scripts may read beyond the CORS-safelisted ones. @default [] */
  exposeHeaders?: readonly string[];
  /** How long a browser may cache a preflight's answer (Chromium caps it at 2 hours). @default 600 */
  maxAgeSeconds?: number;
}

const ORIGIN = /^https?:\/\/[^/?#\s*]+$/;
const TOKEN = /^[!#$%&'*+.^`|~\w-]+$/;

function tokenList(name: string, value: readonly string[] | undefined, fallback: readonly string[]): string {
  const list = value ?? fallback;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || !TOKEN.test(v))) {
    throw invalidOption(`cors() ${name}`, 'a list of header or method names', value);
  }
  return list.join(', ');
}

/** The origin check, compiled once. */
function originCheck(origin: unknown): ((value: string, ctx: Context) => boolean) | '*' {
  if (origin === '*') return '*';
  if (typeof origin === 'function') return origin as (value: string, ctx: Context) => boolean;
  const list = typeof origin === 'string' ? [origin] : origin;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalidOption(
      'cors() origin',
      "'*', an origin, a non-empty list of origins, or a function",
      origin,
    );
  }
  const allowed = new Set<string>();
  for (const entry of list) {
    if (typeof entry !== 'string' || !ORIGIN.test(entry)) {
      throw invalidOption(
        'cors() origin entry',
        'an origin such as "https://app.example.com" (no path, no *)',
        entry,
      );
    }
    allowed.add(new URL(entry).origin);
  }
  return (value) => allowed.has(value);
}

/**
 * Middleware that answers CORS preflights and marks the responses of allowed origins.
 * @example
 * app.use(cors({ origin: ['https://app.example.com'], credentials: true }));
 * @throws WeirError `WEIR_ERR_INVALID_OPTION` for `origin: '*'` with `credentials: true`, which browsers
 *   refuse (and which would let any site read a user's data).
 */
export function cors(options: CorsOptions): Middleware {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('cors() options', 'an object', options);
  const check = originCheck(options.origin);
  const credentials = options.credentials ?? false;
  if (typeof credentials !== 'boolean') throw invalidOption('cors() credentials', 'a boolean', credentials);
  if (check === '*' && credentials) {
    throw invalidOption('cors() origin', "a list of origins (not '*') with credentials: true", '*');
  }
  const methods = tokenList('methods', options.methods, ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
  const allowHeaders = options.headers === undefined ? undefined : tokenList('headers', options.headers, []);
  const expose = tokenList('exposeHeaders', options.exposeHeaders, []);
  const maxAge = options.maxAgeSeconds ?? 600;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0) {
    throw invalidOption('cors() maxAgeSeconds', 'a non-negative integer', maxAge);
  }

  return async function cors(ctx, next) {
    const origin = ctx.req.headers.origin;
    const preflight =
      ctx.method === 'OPTIONS' && ctx.req.headers['access-control-request-method'] !== undefined;
    if (check !== '*') varyOn(ctx, 'Origin');
    const allowed = origin !== undefined && (check === '*' || check(origin, ctx));
    if (allowed) {
      ctx.set('access-control-allow-origin', check === '*' ? '*' : origin);
      if (credentials) ctx.set('access-control-allow-credentials', 'true');
    }
    if (preflight) {
      if (allowed) {
        ctx.set('access-control-allow-methods', methods);
        const requested = ctx.req.headers['access-control-request-headers'];
        const headers =
          allowHeaders ?? (typeof requested === 'string' && TOKEN_LIST.test(requested) ? requested : '');
        if (headers !== '') ctx.set('access-control-allow-headers', headers);
        ctx.set('access-control-max-age', maxAge);
      }
      ctx.status(204);
      return undefined;
    }
    if (allowed && expose !== '') ctx.set('access-control-expose-headers', expose);
    await next();
  };
}

/** A request's `Access-Control-Request-Headers`: a comma-separated list of header names, nothing else. */
const TOKEN_LIST = /^[!#$%&'*+.^`|~\w-]+(?: *, *[!#$%&'*+.^`|~\w-]+)*$/;
