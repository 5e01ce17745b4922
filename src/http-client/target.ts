/** Where a call goes and what it carries: its origin and path, headers, body, signal and deadline. */
import type { SignalOptions } from '../concurrency/sleep.ts';
import { invalidOption } from '../errors.ts';
import { callHeaders } from './options.ts';
import type { CallOptions } from './types.ts';

/** Where a call goes. */
export interface Target {
  readonly origin: string;
  readonly path: string;
}

/** The origin and path (query appended) a call goes to. */
export function targetOf(base: URL | undefined, path: string, query: CallOptions['query']): Target {
  if (typeof path !== 'string') throw invalidOption('http-client path', 'a string', path);
  let origin: string;
  let pathname: string;
  if (/^https?:\/\//i.test(path)) {
    const url = new URL(path);
    origin = url.origin;
    pathname = url.pathname + url.search;
  } else {
    if (base === undefined || !path.startsWith('/')) {
      throw invalidOption(
        'http-client path',
        'a path starting with / (with a baseUrl) or an http(s) URL',
        path,
      );
    }
    origin = base.origin;
    pathname = base.pathname.replace(/\/$/, '') + path;
  }
  if (query !== undefined) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) params.append(key, String(value));
    const text = params.toString();
    if (text !== '') pathname += (pathname.includes('?') ? '&' : '?') + text;
  }
  return { origin, path: pathname };
}

/** The headers (the client's, the call's, its idempotency key) and body a call sends. */
export function payloadOf(
  defaults: Readonly<Record<string, string>>,
  options: CallOptions,
): { headers: Record<string, string>; body: string | Uint8Array | undefined } {
  const headers: Record<string, string> = { ...defaults };
  if (options.headers !== undefined) Object.assign(headers, callHeaders(options.headers));
  if (options.idempotencyKey !== undefined) {
    if (typeof options.idempotencyKey !== 'string' || options.idempotencyKey === '') {
      throw invalidOption('http-client idempotencyKey', 'a non-empty string', options.idempotencyKey);
    }
    headers['idempotency-key'] = options.idempotencyKey;
  }
  if (options.json === undefined) return { headers, body: options.body };
  if (options.body !== undefined)
    throw invalidOption('http-client body', 'not given with json', options.body);
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  return { headers, body: JSON.stringify(options.json) };
}

/** The signal and deadline a call runs under: `ctx`'s, or its own `signal` and `deadline`. */
export function scopeOf(options: CallOptions): SignalOptions | undefined {
  const { ctx } = options;
  if (ctx === undefined)
    return options.signal === undefined && options.deadline === undefined ? undefined : options;
  if (options.signal !== undefined || options.deadline !== undefined) {
    throw invalidOption('http-client ctx', 'given without signal and deadline', 'both');
  }
  if (typeof ctx !== 'object' || ctx === null) throw invalidOption('http-client ctx', "a request's ctx", ctx);
  return ctx;
}
