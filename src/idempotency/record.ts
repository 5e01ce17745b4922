/**
 * What `idempotency()` keeps in the cache under one key, and how a request is named and fingerprinted.
 *
 * A key's record goes through three states, each stored under the same cache key:
 * - `running`: claimed with `cache.add()` (so one request wins it, across processes on Redis) for
 *   `lockMs`; it holds the fingerprint, so a different request with the key is told apart at once;
 * - `done`: the response, kept for `windowMs` and replayed to every later duplicate;
 * - `unstored`: the request ran but its response could not be kept (streamed, or too large): kept for
 *   `windowMs` so that the key is not run again, and duplicates are told so.
 * A claim whose request failed is deleted, so the key runs again.
 */
import { createHash } from 'node:crypto';
import type { Context } from '../http/context.ts';
import { type ResponseHeaders, WeirResponse } from '../http/response.ts';
import type { BufferedResponse } from '../http/response-view.ts';

export type IdempotencyRecord =
  | { readonly s: 'running'; readonly f: string }
  | {
      readonly s: 'done';
      readonly f: string;
      /** Status. */
      readonly st: number;
      /** The replayed headers, as [name, value] pairs. */
      readonly h: readonly (readonly [string, string | number | readonly string[]])[];
      /** The body: text as it is, bytes in base64 (`e`); absent when there is none. */
      readonly b?: string;
      readonly e?: 'base64';
    }
  | { readonly s: 'unstored'; readonly f: string; readonly st: number };

/** True for a record this module wrote; anything else under the key is treated as a running claim. */
export function isRecord(value: unknown): value is IdempotencyRecord {
  const r = value as { s?: unknown; f?: unknown } | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.f === 'string' &&
    (r.s === 'running' || r.s === 'done' || r.s === 'unstored')
  );
}

/**
 * The key from the header's value: printable ASCII (a quoted structured-field string, as the IETF draft
 * writes it, is unquoted), at most `maxLength`; `undefined` when it is not one.
 */
export function parseKey(raw: string | string[], maxLength: number): string | undefined {
  if (typeof raw !== 'string') return undefined;
  let key = raw;
  if (key.length >= 2 && key.charCodeAt(0) === 34 && key.charCodeAt(key.length - 1) === 34) {
    key = key.slice(1, -1);
    if (key.includes('"') || key.includes('\\')) return undefined;
  }
  if (key.length === 0 || key.length > maxLength) return undefined;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return undefined;
  }
  return key;
}

/**
 * The name of one request's key in the cache, and the identifier `idempotencyKey()` hands on: a hash of
 * the scope, method, path and key together, so a key sent to another route or by another scope names
 * another request, and the client's text is never stored or passed on as it is.
 */
export function requestId(scope: string, method: string, path: string, key: string): string {
  return createHash('sha256')
    .update(JSON.stringify([scope, method, path, key]))
    .digest('base64url');
}

/**
 * What makes two requests with one key the same request: the query string, the content type and the
 * body's bytes.
 */
export function fingerprint(ctx: Context, body: Buffer): string {
  const url = ctx.req.url ?? '';
  const q = url.indexOf('?');
  const hash = createHash('sha256');
  hash.update(JSON.stringify([q === -1 ? '' : url.slice(q + 1), ctx.headers['content-type'] ?? '']));
  hash.update('\n');
  hash.update(body);
  return hash.digest('base64url');
}

/** The record that keeps `response` for replay: its status, the headers in `kept`, and its body. */
export function doneRecord(
  f: string,
  response: BufferedResponse,
  kept: readonly string[],
): IdempotencyRecord {
  const h: [string, string | number | readonly string[]][] = [];
  for (const name of kept) {
    const value = response.headers[name];
    if (value !== undefined) h.push([name, value]);
  }
  const body = response.body;
  if (body === undefined) return { s: 'done', f, st: response.status, h };
  if (typeof body === 'string') return { s: 'done', f, st: response.status, h, b: body };
  return {
    s: 'done',
    f,
    st: response.status,
    h,
    b: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
    e: 'base64',
  };
}

/** The body size `response` has on the wire. */
export function bodyBytes(response: BufferedResponse): number {
  const body = response.body;
  if (body === undefined) return 0;
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

/** The response a `done` record replays, marked `Idempotent-Replayed: true`. */
export function replay(record: Extract<IdempotencyRecord, { s: 'done' }>): WeirResponse {
  const headers: ResponseHeaders = {};
  for (const [name, value] of record.h) headers[name] = value;
  headers['idempotent-replayed'] = 'true';
  const body =
    record.b === undefined ? undefined : record.e === 'base64' ? Buffer.from(record.b, 'base64') : record.b;
  return new WeirResponse(body, record.st, headers);
}
