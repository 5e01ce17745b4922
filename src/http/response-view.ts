/**
 * Middleware that reads the response after `await next()` (`etag()`, `idempotency()`) sees it here as
 * `send()` will write it: its status, its headers and, when the body is in memory, its bytes.
 */

import { kHeaders } from './app-runtime.ts';
import type { Context } from './context.ts';
import { isWeirResponse, type ResponseHeaders } from './response.ts';

/** The body that `send()` would write for `result`, and its content type, when it is in memory. */
export function bufferedBody(result: unknown): { body: string | Uint8Array; type?: string } | undefined {
  if (typeof result === 'string') return { body: result };
  if (result instanceof Uint8Array) return { body: result };
  if (isWeirResponse(result)) {
    const body = result.body;
    return typeof body === 'string' || body instanceof Uint8Array ? { body } : undefined;
  }
  if (result === undefined || typeof result === 'function' || typeof result === 'symbol') return undefined;
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
    const proto = Object.getPrototypeOf(result);
    if (proto !== Object.prototype && proto !== null) return undefined;
  }
  const body = JSON.stringify(result);
  return body === undefined ? undefined : { body, type: 'application/json' };
}

/** A response header as it will be sent: a `WeirResponse`'s own wins over one set with `ctx.set()`. */
export function headerOf(
  ctx: Context,
  result: unknown,
  name: string,
): string | number | readonly string[] | undefined {
  const own = isWeirResponse(result) ? result.headers : undefined;
  if (own !== undefined) {
    for (const key of Object.keys(own)) if (key.toLowerCase() === name) return own[key];
  }
  const set = ctx[kHeaders];
  return set !== undefined && Object.hasOwn(set, name) ? set[name] : undefined;
}

/** A whole response held in memory. */
export interface BufferedResponse {
  readonly status: number;
  /** Lower-case names; what `ctx.set()` and the response itself set (no Date, Server or Content-Length). */
  readonly headers: ResponseHeaders;
  /** `undefined` for a response without a body (204, a redirect). */
  readonly body: string | Uint8Array | undefined;
  /** True when the body is the JSON form of a plain value, serialised here. */
  readonly serialised: boolean;
}

const TYPES = { text: 'text/plain; charset=utf-8', bytes: 'application/octet-stream' };

/**
 * The response `ctx.result` will be sent as, or `undefined` when its body is not in memory (a stream, a
 * web `Response`) or it has no JSON form.
 */
export function bufferedResponse(ctx: Context): BufferedResponse | undefined {
  const result = ctx.result;
  if (result instanceof Response) return undefined;
  const status = ctx.statusCode;
  const headers: ResponseHeaders = {};
  if (result === undefined || (isWeirResponse(result) && result.body === undefined)) {
    assign(headers, ctx[kHeaders]);
    if (result !== undefined) assign(headers, result.headers);
    return { status, headers, body: undefined, serialised: false };
  }
  let found: ReturnType<typeof bufferedBody>;
  try {
    found = bufferedBody(result);
  } catch {
    return undefined;
  }
  if (found === undefined) return undefined;
  if (isWeirResponse(result)) {
    assign(headers, ctx[kHeaders]);
    assign(headers, result.headers);
  } else {
    headers['content-type'] = found.type ?? (typeof found.body === 'string' ? TYPES.text : TYPES.bytes);
    assign(headers, ctx[kHeaders]);
  }
  return { status, headers, body: found.body, serialised: found.type !== undefined };
}

function assign(target: ResponseHeaders, source: ResponseHeaders | undefined): void {
  if (source === undefined) return;
  for (const name in source) target[name.toLowerCase()] = source[name] as string | number | readonly string[];
}

/** Adds `name` to the response's `Vary` (set with `ctx.set()`), keeping what is there, once. */
export function varyOn(ctx: Context, name: string): void {
  const set = ctx[kHeaders];
  const current = set !== undefined && Object.hasOwn(set, 'vary') ? set.vary : undefined;
  if (current === undefined || current === '') {
    ctx.set('vary', name);
    return;
  }
  const text = String(current);
  if (text === '*') return;
  const lower = name.toLowerCase();
  if (text.split(',').some((part) => part.trim().toLowerCase() === lower)) return;
  ctx.set('vary', `${text}, ${name}`);
}
