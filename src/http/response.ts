import type { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { invalidOption } from '../errors.ts';

/** A response body weir can send. */
export type ResponseBody = string | Uint8Array | Readable | ReadableStream<Uint8Array> | undefined;

/** Headers of a response: lower- or mixed-case names; `set-cookie` may be a list. */
export type ResponseHeaders = Record<string, string | number | readonly string[]>;

/** Status and headers for the response helpers. */
export interface ResponseInit {
  /** @default 200 */
  status?: number;
  headers?: ResponseHeaders;
}

const kResponse = Symbol.for('weir.response');

/**
 * A response built by {@link json}, {@link text}, {@link html}, {@link redirect} or {@link stream}.
 * Handlers return it; middleware may read or replace it through `ctx.result`.
 */
export class WeirResponse {
  readonly status: number;
  readonly headers: ResponseHeaders;
  readonly body: ResponseBody;

  constructor(body: ResponseBody, status: number, headers: ResponseHeaders) {
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      throw invalidOption('Response status', 'an integer from 100 to 599', status);
    }
    this.body = body;
    this.status = status;
    this.headers = headers;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return isWeirResponse(value);
  }
}

// The brand lives on the prototype: set once, not per response (a defineProperty per response showed in
// profiles of the fortunes test), and still recognised across copies of weir through Symbol.for.
Object.defineProperty(WeirResponse.prototype, kResponse, { value: true });

/** True for a {@link WeirResponse} from any copy of weir. */
export function isWeirResponse(value: unknown): value is WeirResponse {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kResponse] === true
  );
}

function build(body: ResponseBody, type: string, init: ResponseInit | number | undefined): WeirResponse {
  const options = typeof init === 'number' ? { status: init } : init;
  return new WeirResponse(body, options?.status ?? 200, { 'content-type': type, ...options?.headers });
}

/**
 * A JSON response (`application/json`).
 * @example app.post('/users', async (ctx) => json(await create(await ctx.json()), 201));
 */
export function json(data: unknown, init?: ResponseInit | number): WeirResponse {
  return build(JSON.stringify(data), 'application/json', init);
}

/** A plain-text response (`text/plain; charset=utf-8`). */
export function text(body: string, init?: ResponseInit | number): WeirResponse {
  return build(body, 'text/plain; charset=utf-8', init);
}

/** An HTML response (`text/html; charset=utf-8`). The caller escapes what it interpolates. */
export function html(body: string, init?: ResponseInit | number): WeirResponse {
  return build(body, 'text/html; charset=utf-8', init);
}

/**
 * A redirect to `location`.
 * @param status 301, 302, 303, 307 or 308. @default 302
 */
export function redirect(location: string, status: 301 | 302 | 303 | 307 | 308 = 302): WeirResponse {
  if (![301, 302, 303, 307, 308].includes(status)) {
    throw invalidOption('redirect() status', 'one of 301, 302, 303, 307, 308', status);
  }
  return new WeirResponse(undefined, status, { location });
}

/**
 * A streamed response from a Node `Readable` or a web `ReadableStream`, sent with chunked encoding.
 * @default content-type application/octet-stream
 */
export function stream(
  body: Readable | ReadableStream<Uint8Array>,
  init?: ResponseInit & { type?: string },
): WeirResponse {
  return build(body, init?.type ?? 'application/octet-stream', init);
}
