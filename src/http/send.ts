import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline, Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { errorBody } from '../errors.ts';
import { kHeaders, kRuntime, kStatus } from './app-runtime.ts';
import type { ErrorResult } from './compose.ts';
import { sendCompressed, streamCompressor } from './compression/response.ts';
import type { Context } from './context.ts';
import { httpDate } from './date.ts';
import { dropInvalidHeaders, findInvalidHeader, invalidHeader } from './headers.ts';
import { isWeirResponse, type ResponseBody, type ResponseHeaders, type WeirResponse } from './response.ts';
import { kStart, SseBody } from './sse.ts';

/**
 * Turns what a handler returned into the HTTP response: one `writeHead` and one `end` for a body that is
 * already in memory.
 *
 * | returned              | status      | Content-Type                 |
 * | --------------------- | ----------- | ---------------------------- |
 * | `string`              | 200         | text/plain; charset=utf-8    |
 * | `Uint8Array`/`Buffer` | 200         | application/octet-stream     |
 * | Readable/ReadableStream | 200       | application/octet-stream, chunked |
 * | `sse()`               | 200         | text/event-stream, written event by event |
 * | `WeirResponse`        | its own     | its own                      |
 * | web `Response`        | its own     | its own                      |
 * | `undefined`           | 204         | none                         |
 * | anything else         | 200         | application/json             |
 *
 * `ctx.status()` overrides the default status of a plain value; `ctx.set()` headers are merged in, and a
 * `WeirResponse`'s own headers win over them.
 */

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';
const OCTET = 'application/octet-stream';
/** The `Server` header every response carries. */
export const SERVER = 'weir';

type Headers = OutgoingHttpHeaders;

/**
 * Sends `value` as the response of `ctx`, unless the response was already taken over or the client left;
 * then a stream or file in `value` is destroyed instead, so its descriptor does not wait for the garbage
 * collector. Throws when `value` cannot be sent (a header `writeHead` refuses, a value with no JSON form).
 */
export function send(ctx: Context, value: unknown): void {
  const res = ctx.res;
  if (res.headersSent || res.destroyed) {
    discard(value);
    return;
  }
  if (typeof value === 'string') {
    sendBuffered(ctx, ctx[kStatus] || 200, TEXT, value);
  } else if (value === undefined) {
    sendEmpty(ctx, ctx[kStatus] || 204, undefined);
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    sendObject(ctx, value);
  } else {
    sendJson(ctx, value);
  }
}

function sendObject(ctx: Context, value: object): void {
  // Plain objects are the common case: straight to JSON, past the five class checks below.
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    sendJson(ctx, value);
  } else if (value instanceof Uint8Array) {
    sendBuffered(ctx, ctx[kStatus] || 200, OCTET, value);
  } else if (isWeirResponse(value)) {
    sendWeirResponse(ctx, value);
  } else if (value instanceof Response) {
    sendWebResponse(ctx, value);
  } else if (value instanceof Readable || value instanceof ReadableStream) {
    sendStream(ctx, ctx[kStatus] || 200, baseHeaders(ctx, OCTET), value);
  } else {
    sendJson(ctx, value);
  }
}

function sendJson(ctx: Context, value: unknown): void {
  sendBuffered(ctx, ctx[kStatus] || 200, JSON_TYPE, jsonText(value));
}

/**
 * `JSON.stringify(value)`, or a TypeError saying why the handler's answer has no JSON form (a BigInt, a
 * cycle, a function).
 */
export function jsonText(value: unknown): string {
  let body: string | undefined;
  try {
    body = JSON.stringify(value);
  } catch (err) {
    throw new TypeError(
      `The handler's return value cannot be serialised as JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (body === undefined) {
    throw new TypeError(`The handler returned a ${typeof value}, which has no JSON form`);
  }
  return body;
}

/** The hot path: a body in memory, headers as one object literal of a fixed shape. */
function sendBuffered(ctx: Context, status: number, type: string, body: string | Uint8Array): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  const headers: Headers = {
    'content-type': type,
    'content-length': length,
    date: httpDate(),
    server: SERVER,
  };
  addRequestId(ctx, headers);
  const extra = ctx[kHeaders];
  if (extra !== undefined) Object.assign(headers, extra);
  endBuffered(ctx, status, headers, body, length);
}

/** Writes a body in memory of `length` bytes with `headers`, compressed when it should be. */
function endBuffered(
  ctx: Context,
  status: number,
  headers: Headers,
  body: string | Uint8Array,
  length: number,
): void {
  const runtime = ctx[kRuntime];
  if (runtime.draining) headers.connection = 'close';
  // The length first: a body below the threshold (the common small response) pays one comparison.
  const compression = runtime.compression;
  if (
    compression !== undefined &&
    length >= compression.thresholdBytes &&
    sendCompressed(ctx, compression, status, headers, body, length)
  ) {
    return;
  }
  ctx.res.writeHead(status, headers);
  ctx.res.end(body);
}

function sendEmpty(ctx: Context, status: number, extraHeaders: ResponseHeaders | undefined): void {
  const headers: Headers = { date: httpDate(), server: SERVER };
  // RFC 9110 §8.6: no Content-Length on 1xx, 204 and 304 responses.
  if (status !== 204 && status !== 304 && status >= 200) headers['content-length'] = 0;
  addRequestId(ctx, headers);
  const extra = ctx[kHeaders];
  if (extra !== undefined) Object.assign(headers, extra);
  if (extraHeaders !== undefined) assignLowercase(headers, extraHeaders);
  if (ctx[kRuntime].draining) headers.connection = 'close';
  ctx.res.writeHead(status, headers);
  ctx.res.end();
}

/** The request's id, in the header the app echoes it in (none with `requestId: { header: false }`). */
function addRequestId(ctx: Context, headers: Headers): void {
  const name = ctx[kRuntime].requestIds.header;
  if (name !== undefined) headers[name] = ctx.requestId;
}

function baseHeaders(ctx: Context, type: string | undefined): Headers {
  const headers: Headers = { date: httpDate(), server: SERVER };
  if (type !== undefined) headers['content-type'] = type;
  addRequestId(ctx, headers);
  const extra = ctx[kHeaders];
  if (extra !== undefined) Object.assign(headers, extra);
  return headers;
}

function assignLowercase(target: Headers, source: ResponseHeaders | Iterable<[string, string]>): void {
  if (Symbol.iterator in source) {
    for (const [name, value] of source as Iterable<[string, string]>) target[name.toLowerCase()] = value;
    return;
  }
  // for…in over a plain object: no entries array per response.
  for (const name in source) {
    target[name.toLowerCase()] = (source as ResponseHeaders)[name] as string | number | string[];
  }
}

function sendWeirResponse(ctx: Context, response: WeirResponse): void {
  const body: ResponseBody = response.body;
  if (body === undefined) {
    sendEmpty(ctx, response.status, response.headers);
    return;
  }
  const headers = baseHeaders(ctx, undefined);
  assignLowercase(headers, response.headers);
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    headers['content-length'] = length;
    endBuffered(ctx, response.status, headers, body, length);
  } else {
    sendStream(ctx, response.status, headers, body);
  }
}

function sendWebResponse(ctx: Context, response: Response): void {
  const headers = baseHeaders(ctx, undefined);
  assignLowercase(headers, response.headers);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  if (response.body === null) {
    if (ctx[kRuntime].draining) headers.connection = 'close';
    ctx.res.writeHead(response.status, headers);
    ctx.res.end();
    return;
  }
  sendStream(ctx, response.status, headers, response.body as ReadableStream<Uint8Array>);
}

/**
 * Sends `value`, and never throws: what cannot be sent becomes the error response (a refused header
 * becomes 500 `WEIR_ERR_INVALID_HEADER`), and if that cannot be sent either, a bare 500 that carries none
 * of the handler's headers. Nothing a handler returns can make an exception escape the request listener.
 */
export function deliver(ctx: Context, value: unknown, errorResult: ErrorResult): void {
  let failure: unknown;
  try {
    send(ctx, value);
    return;
  } catch (err) {
    failure = err;
  }
  discard(value);
  let fallback: unknown;
  try {
    // Recorded and logged in every case; sent only while no status line has gone out. Once one has (a
    // stream that failed to start after writeHead), the response could never end: it is cut below.
    const headersSent = ctx.res.headersSent;
    fallback = errorResult(ctx, headerFailure(ctx, value, failure) ?? failure);
    if (!headersSent) {
      send(ctx, fallback);
      return;
    }
    discard(fallback);
  } catch (err) {
    discard(fallback);
    try {
      ctx.log.error({ err, method: ctx.method, path: ctx.path }, 'the error response could not be sent');
    } catch {
      // A logger that throws must not take the last-resort response with it.
    }
  }
  lastResort(ctx.res);
}

const HEADER_ERRORS = new Set([
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_HTTP_INVALID_HEADER_VALUE',
]);

/**
 * When `writeHead` refused a header: the `WEIR_ERR_INVALID_HEADER` error naming it, after the invalid
 * handler-set headers are dropped so the error response itself can be sent.
 */
function headerFailure(ctx: Context, value: unknown, err: unknown): unknown {
  if (!HEADER_ERRORS.has((err as NodeJS.ErrnoException)?.code ?? '')) return undefined;
  const extra = ctx[kHeaders];
  let name = extra === undefined ? undefined : findInvalidHeader(Object.entries(extra));
  if (extra !== undefined) dropInvalidHeaders(extra);
  if (name === undefined && isWeirResponse(value)) name = findInvalidHeader(Object.entries(value.headers));
  if (name === undefined && value instanceof Response) name = findInvalidHeader(value.headers);
  return invalidHeader(name ?? '', err);
}

/**
 * An error response with no header of the handler's, for when even the error response could not be
 * sent (a bare 500), or for a request the server itself must end (503 at the drain deadline). Closes the
 * connection after it; cuts the connection when a status line has already gone out.
 */
export function lastResort(
  res: ServerResponse,
  status = 500,
  code = 'WEIR_ERR_INTERNAL',
  message = 'Internal Server Error',
): void {
  if (res.headersSent || res.destroyed) {
    // Too late for a status line: cutting the connection is the only honest signal left.
    if (!res.writableEnded) res.destroy();
    return;
  }
  const body = errorBody(code, message);
  try {
    res.writeHead(status, {
      'content-type': JSON_TYPE,
      'content-length': Buffer.byteLength(body),
      date: httpDate(),
      server: SERVER,
      connection: 'close',
    });
    res.end(body);
  } catch {
    res.destroy();
  }
}

/**
 * Releases what a value holds that will not be sent: a Node stream is destroyed (closing a file's
 * descriptor), a web stream or `Response` body cancelled.
 */
export function discard(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  let body: unknown = value;
  if (isWeirResponse(value)) body = value.body;
  else if (value instanceof Response) body = value.body;
  if (body instanceof Readable) {
    if (!body.destroyed) body.destroy();
  } else if (body instanceof ReadableStream) {
    if (!body.locked) body.cancel().catch(() => {});
  }
}

function sendStream(
  ctx: Context,
  status: number,
  headers: Headers,
  body: Readable | ReadableStream<Uint8Array>,
): void {
  const res = ctx.res;
  const runtime = ctx[kRuntime];
  if (runtime.draining) headers.connection = 'close';
  // An SSE stream is written event by event by itself, and is never compressed (text/event-stream).
  const compressor =
    runtime.compression === undefined || body instanceof SseBody
      ? undefined
      : streamCompressor(ctx, runtime.compression, status, headers);
  res.writeHead(status, headers);
  if (ctx.method === 'HEAD' || status === 204 || status === 304) {
    if (body instanceof Readable) body.destroy();
    else void body.cancel();
    res.end();
    return;
  }
  if (body instanceof SseBody) {
    // Written by the stream itself, event by event, to bound what a slow client can make weir hold.
    body[kStart](ctx[kRuntime]);
    return;
  }
  const source = body instanceof Readable ? body : Readable.fromWeb(body);
  const done = (err: Error | null | undefined): void => {
    // The status line is gone already: the only honest signal left is to cut the connection, so the
    // client sees a truncated chunked body rather than a complete-looking one.
    if (err !== undefined && err !== null && !res.destroyed) {
      ctx.log.error({ err, method: ctx.method, path: ctx.path }, 'response stream failed');
      res.destroy(err);
    }
  };
  if (compressor === undefined) pipeline(source, res, done);
  else pipeline(source, compressor, res, done);
}
