/**
 * weir/upload: multipart uploads, streamed. `multipart(ctx)` yields a body's fields and files one at a
 * time; `saveUploads(ctx, { dir })` streams every file to disk. Limits on every count and size, file
 * types checked from their first bytes, a free-space guard and a folder quota. See docs/uploads.md.
 */
export {
  createUploadQuota,
  DEFAULT_MIN_FREE_BYTES,
  removeStaleUploads,
  UploadQuota,
  type UploadQuotaOptions,
} from './disk.ts';
export {
  DEFAULT_MAX_FIELD_BYTES,
  DEFAULT_MAX_FIELD_NAME_BYTES,
  DEFAULT_MAX_FIELDS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_FILES,
  DEFAULT_MAX_TOTAL_BYTES,
  type MultipartLimits,
} from './limits.ts';
export {
  type FieldPart,
  type FilePart,
  type MultipartOptions,
  multipart,
  type Part,
} from './multipart.ts';
export { cleanFilename } from './names.ts';
export { type SavedFile, type SavedUploads, type SaveUploadsOptions, saveUploads } from './save.ts';
export { SNIFF_BYTES } from './sniff.ts';
