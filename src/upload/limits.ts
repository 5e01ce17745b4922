import { invalidOption } from '../errors.ts';

/**
 * The limits of a multipart body, with their defaults. A multipart body is streamed, never held whole, so
 * it has its own size limit (`maxTotalBytes`) rather than the app's `bodyLimitBytes`, which bounds the
 * bodies `ctx.json()`, `text()`, `form()` and `buffer()` hold in memory.
 */

/** 16 MiB: the default largest file of a multipart body. */
export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;
/** 32 MiB: the default largest multipart body, every part and its framing counted. */
export const DEFAULT_MAX_TOTAL_BYTES = 32 * 1024 * 1024;
/** The default most files of a multipart body. */
export const DEFAULT_MAX_FILES = 10;
/** The default most fields (parts that are not files) of a multipart body. */
export const DEFAULT_MAX_FIELDS = 100;
/** 64 KiB: the default largest value of a field. */
export const DEFAULT_MAX_FIELD_BYTES = 64 * 1024;
/** The default longest field name, in bytes. */
export const DEFAULT_MAX_FIELD_NAME_BYTES = 200;

/** The limits of a multipart body: each one passed answers 413 and closes the connection. */
export interface MultipartLimits {
  /** Largest file, in bytes. @default 16777216 (16 MiB) */
  maxFileBytes?: number;
  /**
   * Largest body, in bytes: every part, field and file, with its headers and boundaries. It replaces the
   * app's `bodyLimitBytes` for this body. @default 33554432 (32 MiB)
   */
  maxTotalBytes?: number;
  /** Most files. @default 10 */
  maxFiles?: number;
  /** Most fields (parts without a `filename`). @default 100 */
  maxFields?: number;
  /** Largest field value, in bytes; fields are held in memory. @default 65536 (64 KiB) */
  maxFieldBytes?: number;
  /** Longest field name (of a field or a file), in bytes. @default 200 */
  maxFieldNameBytes?: number;
  /**
   * Most parts of any kind, parts without a `Content-Disposition` (which are skipped) included.
   * @default maxFiles + maxFields
   */
  maxParts?: number;
}

/** {@link MultipartLimits} with every default filled in. Internal. */
export type ResolvedLimits = Required<MultipartLimits>;

/** Part headers: at most this many lines and bytes each (browsers send two or three lines). */
export const MAX_PART_HEADER_PAIRS = 16;
export const MAX_PART_HEADER_BYTES = 16 * 1024;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidOption(name, 'a non-negative integer', value);
  }
  return value;
}

/**
 * Fills in the defaults and checks every limit.
 * @throws WEIR_ERR_INVALID_OPTION when a limit is not a non-negative integer.
 */
export function resolveLimits(limits: MultipartLimits = {}): ResolvedLimits {
  const maxFiles = positive('maxFiles', limits.maxFiles, DEFAULT_MAX_FILES);
  const maxFields = positive('maxFields', limits.maxFields, DEFAULT_MAX_FIELDS);
  return {
    maxFileBytes: positive('maxFileBytes', limits.maxFileBytes, DEFAULT_MAX_FILE_BYTES),
    maxTotalBytes: positive('maxTotalBytes', limits.maxTotalBytes, DEFAULT_MAX_TOTAL_BYTES),
    maxFiles,
    maxFields,
    maxFieldBytes: positive('maxFieldBytes', limits.maxFieldBytes, DEFAULT_MAX_FIELD_BYTES),
    maxFieldNameBytes: positive('maxFieldNameBytes', limits.maxFieldNameBytes, DEFAULT_MAX_FIELD_NAME_BYTES),
    maxParts: positive('maxParts', limits.maxParts, maxFiles + maxFields),
  };
}
