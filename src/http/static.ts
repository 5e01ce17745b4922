import { constants, realpathSync } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { httpError, invalidOption } from '../errors.ts';
import { kRuntime } from './app-runtime.ts';
import { etagMatches, ifRangeMatches } from './caching.ts';
import { negotiateEncoding } from './compression/negotiate.ts';
import { planEncoding } from './compression/response.ts';
import { type Encoding, isCompressible, variantTag } from './compression/settings.ts';
import type { Context } from './context.ts';
import { redirect, WeirResponse } from './response.ts';

/** Options of {@link serveStatic}. */
export interface StaticOptions {
  /** File served for a directory, or `false` for none. @default 'index.html' */
  index?: string | false;
  /** `max-age` for files whose name is not fingerprinted. @default 60 */
  maxAgeSeconds?: number;
  /**
   * Which files are fingerprinted (their name changes when their content does) and so are cached for a
   * year as `immutable`. @default names with a hash of 8+ hex or base64url chars, like `app.3f9a2b1c.js`
   */
  immutable?: (relativePath: string) => boolean;
  /** Serve names starting with a dot. @default false (answers 404) */
  dotfiles?: boolean;
  /**
   * Serve `app.js.br` or `app.js.gz`, when it lies beside `app.js` and the request's `Accept-Encoding`
   * takes it, in place of compressing `app.js` on each request: with `app.js`'s type, its own ETag and
   * `Vary: Accept-Encoding`. A `Range` request always gets `app.js` itself. Only for types worth
   * compressing (text, JSON, JavaScript, SVG…). @default true
   */
  precompressed?: boolean;
}

const YEAR = 'public, max-age=31536000, immutable';

/** `app.3f9a2b1c.js` (a hex hash of 8+) or `index-DiwrgTda.js` (an 8-char base64url hash, mixed case). */
function defaultImmutable(relative: string): boolean {
  const match = /[.-]([0-9a-f]{8,}|[A-Za-z0-9_]{8})\.\w+$/.exec(
    relative.slice(relative.lastIndexOf('/') + 1),
  );
  if (match === null) return false;
  const hash = match[1]!;
  return /^[0-9a-f]+$/.test(hash) ? /\d/.test(hash) : /[A-Z]/.test(hash) && /[a-z]/.test(hash);
}

function forbidden(): never {
  throw httpError('WEIR_ERR_FORBIDDEN_PATH', 'The path leaves the static folder');
}

function notFound(ctx: Context): never {
  throw httpError('WEIR_ERR_NOT_FOUND', `No file for ${ctx.path}`);
}

/** Checks a `*` param for every way out of the folder; returns its segments. */
function safeSegments(relative: string, dotfiles: boolean, ctx: Context): string[] {
  // Params arrive decoded, so %2e%2e has become ".." and %00 a NUL by now.
  if (relative.includes('\0') || relative.includes('\\')) forbidden();
  const segments = relative.split('/').filter((s) => s !== '' && s !== '.');
  for (const s of segments) {
    if (s === '..') forbidden();
    if (!dotfiles && s.startsWith('.')) notFound(ctx);
  }
  return segments;
}

/** Parses a single `bytes=` range against `size`; `undefined` to ignore the header, `null` if unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | null | undefined {
  // RFC 9110 §14.1: range unit names are case-insensitive.
  const match = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (match === null) return undefined; // multiple ranges or another unit: RFC 9110 lets us send it all
  const [, from, to] = match as unknown as [string, string, string];
  if (from === '' && to === '') return undefined;
  let start: number;
  let end: number;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(from);
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
    if (to !== '' && Number(to) < start) return undefined;
  }
  if (start >= size || size === 0) return null;
  return { start, end };
}

/**
 * Serves files under `root` from a wildcard route, with validators and caching a CDN can use:
 * weak `ETag` and `Last-Modified`, 304 for `If-None-Match`/`If-Modified-Since`, single `Range` requests
 * (206/416), `Content-Type` by extension, and `Cache-Control` (a year, `immutable`, for fingerprinted
 * names; `maxAgeSeconds` otherwise). `If-Range` needs a strong validator (RFC 9110 §13.1.5): the weak ETag
 * never matches, and a date only when it equals `Last-Modified` and the file did not change within the
 * last second; otherwise the whole file is sent (200).
 *
 * A path ending in `/` (or `/.`) names a folder: for a file it answers 404. A folder named without the
 * `/` is redirected (301) to it, so the relative links of its index file resolve inside it; a folder
 * with no index file answers 404. `.` and empty segments inside a path are skipped.
 *
 * No request gets out of `root`: `..` (however encoded), backslashes and NUL answer 403, dotfiles 404, and a
 * symlink whose target lies outside `root` 404.
 * @example app.get('/static/*', serveStatic(new URL('./public', import.meta.url).pathname));
 */
export function serveStatic(
  root: string,
  options: StaticOptions = {},
): (ctx: Context<string, object>) => Promise<WeirResponse> {
  if (typeof root !== 'string' || root === '') throw invalidOption('serveStatic root', 'a folder path', root);
  let rootReal: string;
  try {
    rootReal = realpathSync(root);
  } catch (err) {
    throw invalidOption('serveStatic root', 'an existing folder', `${root} (${(err as Error).message})`);
  }
  const maxAge = options.maxAgeSeconds ?? 60;
  if (!Number.isInteger(maxAge) || maxAge < 0)
    throw invalidOption('serveStatic maxAgeSeconds', 'a non-negative integer', maxAge);
  const index = options.index ?? 'index.html';
  const isImmutable = options.immutable ?? defaultImmutable;
  const dotfiles = options.dotfiles ?? false;
  const precompressed = options.precompressed ?? true;
  if (typeof precompressed !== 'boolean') {
    throw invalidOption('serveStatic precompressed', 'a boolean', precompressed);
  }

  return async function serveStaticFile(ctx: Context<string, object>): Promise<WeirResponse> {
    const contentType = await contentTypes();
    const relative = (ctx.params as Record<string, string | undefined>)['*'] ?? '';
    const segments = safeSegments(relative, dotfiles, ctx);
    let file = await openInside(rootReal, join(rootReal, ...segments));
    if (file === undefined) notFound(ctx);
    let stat = await file.handle.stat();
    let served = segments.join('/');
    if (stat.isDirectory()) {
      await file.handle.close();
      if (index === false) notFound(ctx);
      file = await openInside(rootReal, join(file.path, index));
      if (file === undefined) notFound(ctx);
      stat = await file.handle.stat();
      if (stat.isFile() && !namesFolder(relative)) {
        // Served at `docs`, the index's relative links would resolve against the parent folder.
        await file.handle.close();
        return redirect(folderLocation(ctx), 301);
      }
      served = served === '' ? index : `${served}/${index}`;
    } else if (namesFolder(relative)) {
      // `file.txt/` names a folder, and a file is not one.
      await file.handle.close();
      notFound(ctx);
    }
    if (!stat.isFile()) {
      await file.handle.close();
      notFound(ctx);
    }
    const type = contentType(extname(served)) || 'application/octet-stream';
    const sibling = precompressed ? await siblingFor(ctx, rootReal, file.path, type) : undefined;
    if (sibling !== undefined) {
      await file.handle.close();
      return respond(ctx, sibling, type, isImmutable(served) ? YEAR : `public, max-age=${maxAge}`);
    }
    return respond(
      ctx,
      { handle: file.handle, size: stat.size, mtime: stat.mtime, encoding: undefined },
      type,
      isImmutable(served) ? YEAR : `public, max-age=${maxAge}`,
    );
  };
}

/** True when a path ends in `/` or `/.` (or is empty): it names a folder. */
function namesFolder(relative: string): boolean {
  const last = relative.slice(relative.lastIndexOf('/') + 1);
  return last === '' || last === '.';
}

/** Percent-encodes a character a `Location` value must not carry as it is. */
function percentEncode(char: string): string {
  const code = char.charCodeAt(0);
  // Node hands over the request target as latin1, one char per byte; only inject() can pass more.
  const bytes = code <= 0xff ? [code] : [...Buffer.from(char, 'utf8')];
  return bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/**
 * The request's own path and query with a `/` after the path. Runs of `/` become one, since a
 * `Location` starting `//` would send the client to another host; anything outside printable ASCII is
 * percent-encoded, so the header is always valid.
 */
function folderLocation(ctx: Context<string, object>): string {
  const url = ctx.req.url ?? '';
  const q = url.indexOf('?');
  const location = `${ctx.path.replace(/\/{2,}/g, '/')}/${q === -1 ? '' : url.slice(q)}`;
  return location.replace(/[^\x21-\x5b\x5d-\x7e]/gu, percentEncode);
}

/** Opens `path` only if its real location is inside `rootReal`; `undefined` when missing or outside. */
async function openInside(
  rootReal: string,
  path: string,
): Promise<{ handle: FileHandle; path: string } | undefined> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return undefined;
  }
  if (real !== rootReal && !real.startsWith(rootReal + sep)) return undefined;
  try {
    // O_NOFOLLOW: the path was resolved above; refuse a symlink swapped in since.
    return { handle: await open(real, constants.O_RDONLY | constants.O_NOFOLLOW), path: real };
  } catch {
    return undefined;
  }
}

/**
 * mime-types, loaded on the first file served: its table is a fifth of what importing weir would cost at
 * start-up, for routes that may never serve a file.
 */
let mimeTypes: Promise<(extension: string) => string | false> | undefined;
function contentTypes(): Promise<(extension: string) => string | false> {
  mimeTypes ??= import('mime-types').then((module) => module.contentType);
  return mimeTypes;
}

/** A file to send: the one asked for, or its precompressed sibling (`encoding` says which). */
interface Served {
  readonly handle: FileHandle;
  readonly size: number;
  readonly mtime: Date;
  readonly encoding: Encoding | undefined;
}

const SIBLINGS: Record<Encoding, string> = { br: '.br', gzip: '.gz' };

/**
 * The precompressed sibling of `path` the request takes, opened, when there is one: the encoding the
 * client prefers first, then the other. None for a `Range` request or a type not worth compressing.
 */
async function siblingFor(
  ctx: Context<string, object>,
  rootReal: string,
  path: string,
  type: string,
): Promise<Served | undefined> {
  const accept = ctx.headers['accept-encoding'];
  if (accept === undefined || ctx.headers.range !== undefined || !isCompressible(type)) return undefined;
  let offered: Encoding[] = ['br', 'gzip'];
  for (let i = 0; i < 2; i++) {
    const encoding = negotiateEncoding(accept, offered);
    if (encoding === undefined) return undefined;
    const file = await openInside(rootReal, path + SIBLINGS[encoding]);
    if (file !== undefined) {
      const stat = await file.handle.stat();
      if (stat.isFile()) return { handle: file.handle, size: stat.size, mtime: stat.mtime, encoding };
      await file.handle.close();
    }
    offered = offered.filter((e) => e !== encoding);
  }
  return undefined;
}

async function respond(
  ctx: Context<string, object>,
  file: Served,
  type: string,
  cacheControl: string,
): Promise<WeirResponse> {
  const { handle, size, mtime, encoding } = file;
  let etag = `W/"${size.toString(16)}-${Math.floor(mtime.getTime()).toString(16)}"`;
  const now = Date.now();
  // RFC 9110 §8.8.2.1: a modification time in the future is sent as the time of the response.
  const lastModified = (mtime.getTime() > now ? new Date(now) : mtime).toUTCString();
  const headers: Record<string, string | number> = {
    etag,
    'last-modified': lastModified,
    'cache-control': cacheControl,
    'accept-ranges': 'bytes',
  };
  // The tag If-None-Match must name: that of the variant this request gets, compressed here or in send.
  let variant = etag;
  let planned: Encoding | null | undefined;
  if (encoding !== undefined) {
    etag = variantTag(etag, encoding);
    variant = etag;
    headers.etag = etag;
    headers['content-encoding'] = encoding;
    headers.vary = 'accept-encoding';
  } else {
    const settings = (ctx as Context)[kRuntime].compression;
    planned =
      settings === undefined
        ? undefined
        : planEncoding(
            ctx as Context,
            settings,
            200,
            { 'content-type': type, 'cache-control': cacheControl },
            size,
          );
    // A type worth compressing varies on Accept-Encoding, by a sibling or by compression in send.
    if (isCompressible(type)) headers.vary = 'accept-encoding';
    if (typeof planned === 'string') variant = variantTag(etag, planned);
  }
  const ifNoneMatch = ctx.headers['if-none-match'];
  const ifModifiedSince = ctx.headers['if-modified-since'];
  const notModified =
    ifNoneMatch !== undefined
      ? etagMatches(ifNoneMatch, variant)
      : ifModifiedSince !== undefined &&
        Math.floor(mtime.getTime() / 1000) <= Date.parse(ifModifiedSince) / 1000;
  if (notModified) {
    await handle.close();
    return new WeirResponse(undefined, 304, { ...headers, etag: variant });
  }
  headers['content-type'] = type;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = ctx.headers.range;
  const ifRange = ctx.headers['if-range'];
  if (
    range !== undefined &&
    (ifRange === undefined ||
      (typeof ifRange === 'string' &&
        ifRangeMatches(ifRange, { etag, lastModified, modifiedMs: mtime.getTime(), nowMs: now })))
  ) {
    const parsed = parseRange(range, size);
    if (parsed === null) {
      await handle.close();
      throw httpError(
        'WEIR_ERR_RANGE_NOT_SATISFIABLE',
        `Range ${range} is outside the file's ${size} bytes`,
        undefined,
        {
          headers: { 'content-range': `bytes */${size}` },
        },
      );
    }
    if (parsed !== undefined) {
      ({ start, end } = parsed);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  headers['content-length'] = size === 0 ? 0 : end - start + 1;
  if (ctx.method === 'HEAD' || size === 0) {
    await handle.close();
    // A GET would be compressed in send: an empty stream goes the same way, which for a HEAD sends the
    // headers of the compressed GET (its coding and tag, no length) and nothing else.
    if (status === 200 && typeof planned === 'string') {
      return new WeirResponse(Readable.from([]), status, headers);
    }
    return new WeirResponse(undefined, status, headers);
  }
  return new WeirResponse(handle.createReadStream({ start, end }), status, headers);
}
