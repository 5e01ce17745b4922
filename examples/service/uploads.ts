/**
 * POST /upload: images and PDFs, streamed to disk with weir/upload's `saveUploads()`. Each file goes to a
 * random name in the upload folder (UPLOAD_DIR, default ./data/uploads); its type is read from its first
 * bytes, and must be one of {@link UPLOADS}.allow and what the client declared; the folder keeps within
 * a quota (UPLOAD_QUOTA_BYTES, default 1 GiB) and the disk keeps 256 MiB free. Any failure (a limit, a
 * forged type, the client leaving) leaves nothing of the upload behind.
 *
 * Like POST /jobs, the route is open: no login. What bounds it is its limits, the quota and the
 * minimum data rate of a body; behind a login, add `requireAuth()` before the handler.
 */
import { basename } from 'node:path';
import { type App, json } from 'weir';
import { createUploadQuota, removeStaleUploads, saveUploads, type UploadQuota } from 'weir/upload';

export const UPLOADS = {
  allow: ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf'],
  maxFileBytes: 10 * 1024 * 1024,
  maxFiles: 10,
  maxFields: 20,
  maxFieldBytes: 4 * 1024,
  maxTotalBytes: 50 * 1024 * 1024,
};

/** The default quota of the upload folder: 1 GiB. */
export const DEFAULT_UPLOAD_QUOTA_BYTES = 1024 ** 3;

/** Where the service stores uploads, and how much the folder may hold. */
export interface UploadSettings {
  dir: string;
  /** @default DEFAULT_UPLOAD_QUOTA_BYTES (1 GiB) */
  quotaBytes?: number;
  /** The processes that share the folder (WEB_CONCURRENCY), each given a share of the quota. @default 1 */
  shares?: number;
}

/** One stored file, as POST /upload answers it. */
export interface UploadedFile {
  id: string;
  /** The stored file's name in the folder: `<id>.<extension>`. */
  name: string;
  size: number;
  type: string;
  field: string;
  /** The client's file name, cleaned: data only. */
  filename: string;
}

/** Adds POST /upload, storing into `settings.dir` within its quota (counted once the app starts). */
export function addUploadRoute(app: App, settings: UploadSettings): void {
  let quota: UploadQuota | undefined;
  app.onStart(async () => {
    // What a process stopped mid-upload (a crash) left: temporary files not written to for an hour.
    const stale = await removeStaleUploads(settings.dir);
    if (stale > 0) app.log.info({ stale }, 'removed the temporary files of interrupted uploads');
    quota = await createUploadQuota(settings.dir, {
      maxBytes: settings.quotaBytes ?? DEFAULT_UPLOAD_QUOTA_BYTES,
      shares: settings.shares,
    });
  });
  app.post(
    '/upload',
    {
      summary: 'Upload images and PDFs',
      description:
        'A `multipart/form-data` body of up to 10 files (PNG, JPEG, GIF, WebP or PDF, 10 MiB each, 50 MiB in ' +
        'all). Each file’s type is read from its first bytes. Answers 201 with each stored file’s id, size ' +
        'and type; 413 past a limit, 415 for a type not allowed or not what it claims, 507 when the ' +
        'folder’s quota or the disk is full.',
      tags: ['uploads'],
    },
    async (ctx) => {
      const { files } = await saveUploads(ctx, { ...UPLOADS, dir: settings.dir, quota });
      const stored: UploadedFile[] = files.map((file) => ({
        id: file.id,
        name: basename(file.path),
        size: file.size,
        type: file.contentType,
        field: file.field,
        filename: file.filename,
      }));
      return json({ files: stored }, { status: 201 });
    },
  );
}
