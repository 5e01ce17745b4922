/**
 * Response compression, as send.ts calls it once a response's headers are final. A body in memory is
 * compressed in one call (synchronously up to {@link SYNC_MAX_BYTES}, on the thread pool above); a
 * stream through a zlib stream that flushes every chunk it is given, so a streamed response reaches the
 * client as promptly as it would uncompressed, with backpressure kept by `pipeline`.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import {
  brotliCompress,
  brotliCompressSync,
  constants,
  createBrotliCompress,
  createGzip,
  gzip,
  gzipSync,
} from 'node:zlib';
import { kNoCompression, kRuntime } from '../app-runtime.ts';
import type { Context } from '../context.ts';
import { isWeirResponse } from '../response.ts';
import { headerOf } from '../response-view.ts';
import { lastResort } from '../send.ts';
import { negotiateEncoding } from './negotiate.ts';
import {
  type CompressionSettings,
  type Encoding,
  forbidsTransform,
  isCompressible,
  SYNC_MAX_BYTES,
  variantTag,
  varyWithEncoding,
} from './settings.ts';

type Headers = OutgoingHttpHeaders;

/**
 * What compression makes of a response: `undefined` when it is not eligible (sent as it is, without
 * `Vary`), `null` when it is but the client accepts none of the encodings offered (identity, with
 * `Vary: accept-encoding`), or the encoding to send. Not eligible: `ctx.noCompression()`, statuses without
 * a body or with a part of one (1xx, 204, 206, 304), a known length below the threshold, a type that is
 * not {@link isCompressible}, a `Content-Encoding` or `Content-Range` already set, `Cache-Control:
 * no-transform`.
 */
export function planEncoding(
  ctx: Context,
  settings: CompressionSettings,
  status: number,
  headers: Headers,
  length: number | undefined,
): Encoding | null | undefined {
  if (length !== undefined && length < settings.thresholdBytes) return undefined;
  if (ctx[kNoCompression] || status < 200 || status === 204 || status === 206 || status === 304) {
    return undefined;
  }
  const type = headers['content-type'];
  if (typeof type !== 'string' || !isCompressible(type)) return undefined;
  if (headers['content-encoding'] !== undefined || headers['content-range'] !== undefined) return undefined;
  if (forbidsTransform(headers['cache-control'])) return undefined;
  const accept = ctx.req.headers['accept-encoding'];
  if (accept === undefined) return null;
  return negotiateEncoding(accept, settings.encodings) ?? null;
}

/** Marks `headers` as those of the `encoding` variant: its coding, its own ETag, no identity length. */
function asVariant(headers: Headers, encoding: Encoding): void {
  headers['content-encoding'] = encoding;
  delete headers['content-length'];
  const tag = headers.etag;
  if (typeof tag === 'string') headers.etag = variantTag(tag, encoding);
}

/**
 * Sends a body in memory compressed when it should be, and answers true; false leaves the sending to the
 * caller, with `Vary` added to `headers` when the response varies on `Accept-Encoding`.
 */
export function sendCompressed(
  ctx: Context,
  settings: CompressionSettings,
  status: number,
  headers: Headers,
  body: string | Uint8Array,
  length: number,
): boolean {
  const encoding = planEncoding(ctx, settings, status, headers, length);
  if (encoding === undefined) return false;
  headers.vary = varyWithEncoding(headers.vary);
  if (encoding === null) return false;
  asVariant(headers, encoding);
  const res = ctx.res;
  if (ctx.method === 'HEAD') {
    // The compressed length is known only by compressing, which a HEAD has no use for.
    res.writeHead(status, headers);
    res.end();
    return true;
  }
  if (length <= SYNC_MAX_BYTES) {
    const out = encoding === 'br' ? brotliCompressSync(body, settings.brotli) : gzipSync(body, settings.gzip);
    headers['content-length'] = out.byteLength;
    res.writeHead(status, headers);
    res.end(out);
    return true;
  }
  const done = (err: Error | null, out: Buffer): void => {
    if (res.headersSent || res.destroyed) return;
    if (err !== null) {
      ctx.log.error({ err, method: ctx.method, path: ctx.path }, 'response compression failed');
      lastResort(res);
      return;
    }
    headers['content-length'] = out.byteLength;
    try {
      res.writeHead(status, headers);
      res.end(out);
    } catch (writeErr) {
      ctx.log.error({ err: writeErr, method: ctx.method, path: ctx.path }, 'the response could not be sent');
      lastResort(res);
    }
  };
  if (encoding === 'br') brotliCompress(body, settings.brotli, done);
  else gzip(body, settings.gzip, done);
  return true;
}

/**
 * For a streamed response about to start: adds `Vary` when it varies, and when it is to be compressed
 * marks its headers as the variant's and returns the compressing stream to pipe it through (none for
 * HEAD, whose headers are all it sends).
 */
export function streamCompressor(
  ctx: Context,
  settings: CompressionSettings,
  status: number,
  headers: Headers,
): Transform | undefined {
  const declared = headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  const encoding = planEncoding(ctx, settings, status, headers, length);
  if (encoding === undefined) return undefined;
  headers.vary = varyWithEncoding(headers.vary);
  if (encoding === null) return undefined;
  asVariant(headers, encoding);
  if (ctx.method === 'HEAD') return undefined;
  // Every chunk is flushed: a stream's chunks are its pace (events, rows), and the client must see each
  // as it comes, not when the compressor's window fills.
  return encoding === 'br'
    ? createBrotliCompress({ params: settings.brotli.params, flush: constants.BROTLI_OPERATION_FLUSH })
    : createGzip({ level: settings.gzip.level, flush: constants.Z_SYNC_FLUSH });
}

/**
 * {@link planEncoding} for `ctx.result` as a middleware sees it after `await next()`, with status 200 and
 * `length` the body's size when it is in memory: what `etag()` needs to answer `If-None-Match` for the
 * variant the request would get, and to give its 304 that variant's ETag and `Vary`.
 */
export function plannedEncoding(
  ctx: Context,
  result: unknown,
  length: number | undefined,
): Encoding | null | undefined {
  const settings = ctx[kRuntime].compression;
  if (settings === undefined) return undefined;
  let type = headerOf(ctx, result, 'content-type');
  if (type === undefined) {
    type =
      typeof result === 'string'
        ? 'text/plain'
        : result instanceof Uint8Array || isWeirResponse(result)
          ? undefined
          : 'application/json';
  }
  const declared = headerOf(ctx, result, 'content-length');
  const headers: Headers = {
    'content-type': typeof type === 'string' ? type : undefined,
    'content-encoding': headerOf(ctx, result, 'content-encoding') as string | undefined,
    'content-range': headerOf(ctx, result, 'content-range') as string | undefined,
    'cache-control': headerOf(ctx, result, 'cache-control') as string | undefined,
  };
  for (const name of ['content-encoding', 'content-range', 'cache-control']) {
    if (headers[name] === undefined) delete headers[name];
  }
  return planEncoding(
    ctx,
    settings,
    200,
    headers,
    length ?? (declared === undefined ? undefined : Number(declared)),
  );
}

/**
 * The ETag of the variant a 200 with `headers` and a body of `length` bytes would be sent as to this
 * request, and whether that response varies on `Accept-Encoding`: what a handler that answers
 * `If-None-Match` itself compares with, and puts on its 304.
 */
export function variantEtag(
  ctx: Context,
  tag: string,
  headers: Headers,
  length: number | undefined,
): { tag: string; varies: boolean } {
  const settings = ctx[kRuntime].compression;
  const encoding = settings === undefined ? undefined : planEncoding(ctx, settings, 200, headers, length);
  return {
    tag: typeof encoding === 'string' ? variantTag(tag, encoding) : tag,
    varies: encoding !== undefined,
  };
}
