import { App, json } from 'weir';
import { createUploadQuota, saveUploads, type UploadQuota } from 'weir/upload';

/** An app that stores photos and PDFs in `dir`, which may hold 500 MiB in all. */
export function photoApp(dir: string): App {
  const app = new App();
  let quota: UploadQuota | undefined;
  // Counts what the folder holds once, at start; each upload then reserves its bytes as it is written.
  app.onStart(async () => {
    quota = await createUploadQuota(dir, { maxBytes: 500 * 1024 * 1024 });
  });

  app.post('/photos', async (ctx) => {
    const { fields, files } = await saveUploads(ctx, {
      dir,
      // Checked against each file's first bytes, not the Content-Type the client wrote.
      allow: ['image/png', 'image/jpeg', 'application/pdf'],
      maxFiles: 5,
      maxFileBytes: 8 * 1024 * 1024,
      maxTotalBytes: 40 * 1024 * 1024,
      maxFields: 10,
      maxFieldBytes: 1024,
      minFreeBytes: 1024 * 1024 * 1024,
      quota,
    });
    // Stored as <uuid>.<extension>; the client's file name is only data, cleaned.
    const stored = files.map((f) => ({ id: f.id, size: f.size, type: f.contentType, name: f.filename }));
    return json({ album: fields.album ?? null, files: stored }, { status: 201 });
  });
  return app;
}
