import { readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { type HttpError, httpError, invalidOption } from '../errors.ts';

/**
 * The two guards of the disk an upload is written to: the free space of its file system, which must stay
 * above `minFreeBytes` (checked before the first byte is written, then again every
 * {@link FREE_CHECK_BYTES} written), and an optional quota of bytes for the folder (an {@link UploadQuota}).
 * Both refuse with 507 `WEIR_ERR_UPLOAD_NO_SPACE`, which names the limit and never the folder's path.
 */

/** 256 MiB: the default free space an upload must leave on its file system. */
export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024;

/** How many bytes are written between two looks at the file system's free space. */
export const FREE_CHECK_BYTES = 4 * 1024 * 1024;

export function noSpace(limit: 'minFreeBytes' | 'quotaBytes', bytes: number): HttpError {
  return httpError(
    'WEIR_ERR_UPLOAD_NO_SPACE',
    limit === 'minFreeBytes'
      ? 'The server has not enough free disk space to store the upload'
      : 'The upload folder has not enough of its quota left to store the upload',
    { limit, limitBytes: bytes },
    { headers: { connection: 'close' } },
  );
}

/** The bytes free to an unprivileged process on the file system of `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/**
 * Tracks the free space of a file system as an upload is written: `wrote(n)` after each write resolves
 * once the space left is known to be enough, or rejects with 507. Between two looks, the space the
 * upload itself took is subtracted, so a file system that reports writes late still counts them.
 */
export class FreeSpaceGuard {
  readonly #dir: string;
  readonly #minFreeBytes: number;
  #free = 0;
  #sinceCheck = 0;

  constructor(dir: string, minFreeBytes: number) {
    this.#dir = dir;
    this.#minFreeBytes = minFreeBytes;
  }

  /** The free space the file system must keep. */
  get minFreeBytes(): number {
    return this.#minFreeBytes;
  }

  /** Looks at the file system: rejects with 507 unless `expected` more bytes would leave enough. */
  async check(expected = 0): Promise<void> {
    this.#free = await freeBytes(this.#dir);
    this.#sinceCheck = 0;
    if (this.#free - expected < this.#minFreeBytes) throw noSpace('minFreeBytes', this.#minFreeBytes);
  }

  /**
   * Counts `bytes` written. Throws 507 when the space left is known to be short; returns a promise when
   * it is time to look at the file system again (once {@link FREE_CHECK_BYTES} have been written), else
   * `undefined`: no promise per chunk.
   */
  wrote(bytes: number): Promise<void> | undefined {
    this.#sinceCheck += bytes;
    this.#free -= bytes;
    if (this.#free < this.#minFreeBytes) throw noSpace('minFreeBytes', this.#minFreeBytes);
    if (this.#sinceCheck < FREE_CHECK_BYTES) return undefined;
    const before = this.#free;
    return this.check().then(() => {
      // The lower of what the file system says and what it said minus what was written since.
      this.#free = Math.min(this.#free, before);
      if (this.#free < this.#minFreeBytes) throw noSpace('minFreeBytes', this.#minFreeBytes);
    });
  }
}

/**
 * A quota of bytes for an upload folder, kept in this process: `saveUploads({ quota })` reserves each
 * file's bytes as they are written and gives them back when the upload fails, so that concurrent uploads
 * cannot pass it together. Made by {@link createUploadQuota}, which counts what the folder holds. With
 * several processes (`weir serve --workers`), each keeps its own count: give each its share.
 */
export class UploadQuota {
  /** The quota, in bytes. */
  readonly maxBytes: number;
  #used: number;

  /** @throws WEIR_ERR_INVALID_OPTION unless `maxBytes` is a non-negative integer. */
  constructor(maxBytes: number, usedBytes = 0) {
    checkQuotaBytes(maxBytes);
    this.maxBytes = maxBytes;
    this.#used = usedBytes;
  }

  /** The bytes in use: stored, and reserved by uploads being written. */
  get usedBytes(): number {
    return this.#used;
  }

  /** Takes `bytes` of the quota; false, taking nothing, when that would pass it. */
  reserve(bytes: number): boolean {
    if (this.#used + bytes > this.maxBytes) return false;
    this.#used += bytes;
    return true;
  }

  /** Gives back `bytes` (a failed upload, a deleted file). */
  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

/** Options of {@link createUploadQuota}. */
export interface UploadQuotaOptions {
  /** The most bytes the folder may hold. */
  maxBytes: number;
  /**
   * How many processes share the folder (`weir serve --workers N`): each gets an equal share of the bytes
   * still free when it starts, so that together they cannot pass `maxBytes`. @default 1
   */
  shares?: number;
}

/**
 * A {@link UploadQuota} of `maxBytes` for `dir`, starting from the bytes of the files it holds now (one
 * level, no subfolders; a missing folder holds none).
 * @throws WEIR_ERR_INVALID_OPTION for a bad `maxBytes` or `shares`.
 */
export async function createUploadQuota(dir: string, options: UploadQuotaOptions): Promise<UploadQuota> {
  checkQuotaBytes(options.maxBytes);
  const shares = options.shares ?? 1;
  if (!Number.isSafeInteger(shares) || shares < 1)
    throw invalidOption('quota shares', 'an integer ≥ 1', shares);
  let used = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    used += (await stat(join(dir, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  const free = Math.max(0, options.maxBytes - used);
  return new UploadQuota(used + Math.floor(free / shares), used);
}

function checkQuotaBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw invalidOption('quota maxBytes', 'a non-negative integer', maxBytes);
  }
}

/** The name `saveUploads()` gives a file while it is written. */
const TEMP_NAME = /^\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part$/;

/**
 * Removes the temporary files (`.<uuid>.part`) of uploads that a process which stopped mid-upload (a
 * crash, `kill -9`) left in `dir`, when they were last written more than `olderThanMs` ago: an upload in
 * progress writes its file all the time, so it is never one of them. Resolves with how many it removed.
 * Call it at start, before `createUploadQuota()`. @default olderThanMs 3_600_000 (an hour)
 */
export async function removeStaleUploads(
  dir: string,
  options: { olderThanMs?: number } = {},
): Promise<number> {
  const olderThanMs = options.olderThanMs ?? 3_600_000;
  if (!Number.isSafeInteger(olderThanMs) || olderThanMs < 0) {
    throw invalidOption('olderThanMs', 'a non-negative integer', olderThanMs);
  }
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const before = Date.now() - olderThanMs;
  let removed = 0;
  for (const name of names) {
    if (!TEMP_NAME.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile() || info.mtimeMs > before) continue;
    await rm(path, { force: true });
    removed++;
  }
  return removed;
}
