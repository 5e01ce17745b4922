import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidOption } from '../errors.ts';
import type { AnyContext } from '../http/context.ts';
import { DEFAULT_MIN_FREE_BYTES, FreeSpaceGuard, noSpace, type UploadQuota } from './disk.ts';
import { DEFAULT_MAX_TOTAL_BYTES } from './limits.ts';
import { type FilePart, type MultipartOptions, multipart, type Part } from './multipart.ts';

/**
 * `saveUploads(ctx, options)`: every file of a multipart body streamed to its own file in `dir`.
 * Wire script: each file is written as it arrives to a temporary file named `.<uuid>.part` (created
 * exclusively, mode 0600), through a meter that counts its bytes against the quota and the free space;
 * once the whole body has been read and every file checked, each is renamed to `<uuid>.<ext>` (the
 * extension of its checked type). On any failure (a limit, a type, a malformed body, the client leaving,
 * a full disk), every file of the upload, temporary or renamed, is removed before the error is thrown.
 * The client's file name never enters a path.
 */

/** Options of {@link saveUploads}. */
export interface SaveUploadsOptions extends MultipartOptions {
  /** The folder to store files in; created when missing. */
  dir: string;
  /**
   * The free space the file system of `dir` must keep: an upload that would leave less is refused with
   * 507 `WEIR_ERR_UPLOAD_NO_SPACE`, before it starts (from its `Content-Length`) or while it is written.
   * @default 268435456 (256 MiB)
   */
  minFreeBytes?: number;
  /** A quota for `dir` (see `createUploadQuota()`): files that would pass it are refused with 507. */
  quota?: UploadQuota;
}

/** A stored file. */
export interface SavedFile {
  /** The name of the form field it came in. */
  readonly field: string;
  /** Its id: a random UUID, the stem of its stored name. */
  readonly id: string;
  /** Its stored path: `dir` joined with `<id>.<extension>`. */
  readonly path: string;
  /** Its size in bytes. */
  readonly size: number;
  /** Its media type: checked from its first bytes with `allow`, else the client's claim. */
  readonly contentType: string;
  /** Whether `contentType` was checked (`allow` was given). */
  readonly verified: boolean;
  /** The client's file name, cleaned: data to show or store, never a path. May be `''`. */
  readonly filename: string;
}

/** What {@link saveUploads} resolves with. */
export interface SavedUploads {
  /** The fields, by name; a repeated name becomes a list. */
  readonly fields: Record<string, string | string[]>;
  /** The files, in the order they came. */
  readonly files: SavedFile[];
}

/**
 * Streams every file of the request's multipart body to a file of its own in `dir`, within the limits of
 * `options`, and resolves with the fields and the stored files. On any failure nothing of the upload
 * is left in `dir`.
 *
 * @throws WEIR_ERR_INVALID_OPTION at once for a bad option.
 * @throws (the promise) what `multipart()` throws, and WEIR_ERR_UPLOAD_NO_SPACE (507).
 * @example
 * app.post('/upload', async (ctx) => {
 *   const { files } = await saveUploads(ctx, { dir: './data/uploads', allow: ['image/png', 'application/pdf'] });
 *   return json({ files: files.map((f) => ({ id: f.id, size: f.size, type: f.contentType })) }, { status: 201 });
 * });
 */
export function saveUploads(ctx: AnyContext, options: SaveUploadsOptions): Promise<SavedUploads> {
  if (typeof options?.dir !== 'string' || options.dir === '') {
    throw invalidOption('saveUploads() dir', 'a folder path', options?.dir);
  }
  const minFreeBytes = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  if (!Number.isSafeInteger(minFreeBytes) || minFreeBytes < 0) {
    throw invalidOption('minFreeBytes', 'a non-negative integer', minFreeBytes);
  }
  const parts = multipart(ctx, options);
  const dir = resolve(options.dir);
  const maxTotalBytes = options.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  return save(ctx, parts, dir, new FreeSpaceGuard(dir, minFreeBytes), options.quota, maxTotalBytes);
}

interface Pending extends SavedFile {
  readonly temp: string;
}

async function save(
  ctx: AnyContext,
  parts: AsyncGenerator<Part, void, undefined>,
  dir: string,
  guard: FreeSpaceGuard,
  quota: UploadQuota | undefined,
  maxTotalBytes: number,
): Promise<SavedUploads> {
  const written: string[] = [];
  const reserved = { bytes: 0 };
  const fields: Record<string, string | string[]> = Object.create(null);
  const pending: Pending[] = [];
  try {
    await mkdir(dir, { recursive: true });
    // Before the first byte is written, the body's Content-Length counts as about to be (up to
    // maxTotalBytes: a longer body is refused with 413 before its first part).
    const declared = Number(ctx.req.headers['content-length']);
    const expected = Number.isSafeInteger(declared) ? Math.min(declared, maxTotalBytes) : 0;
    let looked = false;
    for await (const part of parts) {
      if (part.type === 'field') {
        const previous = fields[part.name];
        if (previous === undefined) fields[part.name] = part.value;
        else if (typeof previous === 'string') fields[part.name] = [previous, part.value];
        else previous.push(part.value);
        continue;
      }
      if (!looked) {
        looked = true;
        await guard.check(expected);
      }
      const id = randomUUID();
      const temp = join(dir, `.${id}.part`);
      written.push(temp);
      const meter = new Meter(guard, quota, reserved);
      await pipeline(part.stream, meter, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
      pending.push(stored(part, id, dir, temp, meter.bytes));
    }
    for (const file of pending) {
      await rename(file.temp, file.path);
      written.push(file.path);
    }
    return { fields, files: pending.map(({ temp: _temp, ...file }) => file) };
  } catch (err) {
    await parts.return(undefined).catch(() => {});
    await Promise.all(written.map((path) => rm(path, { force: true }).catch(() => {})));
    quota?.release(reserved.bytes);
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw noSpace('minFreeBytes', guard.minFreeBytes);
    throw err;
  }
}

function stored(part: FilePart, id: string, dir: string, temp: string, size: number): Pending {
  return {
    field: part.name,
    id,
    path: join(dir, `${id}.${part.extension}`),
    size,
    contentType: part.contentType,
    verified: part.verified,
    filename: part.filename,
    temp,
  };
}

/** Counts a file's bytes, takes them from the quota, and holds the free-space guard to them. */
class Meter extends Transform {
  bytes = 0;
  readonly #guard: FreeSpaceGuard;
  readonly #quota: UploadQuota | undefined;
  readonly #reserved: { bytes: number };

  constructor(guard: FreeSpaceGuard, quota: UploadQuota | undefined, reserved: { bytes: number }) {
    super();
    this.#guard = guard;
    this.#quota = quota;
    this.#reserved = reserved;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const size = chunk.length;
    this.bytes += size;
    const quota = this.#quota;
    if (quota !== undefined) {
      if (!quota.reserve(size)) {
        callback(noSpace('quotaBytes', quota.maxBytes));
        return;
      }
      this.#reserved.bytes += size;
    }
    let check: Promise<void> | undefined;
    try {
      check = this.#guard.wrote(size);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (check === undefined) callback(null, chunk);
    else check.then(() => callback(null, chunk), callback);
  }
}
