import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createUploadQuota, removeStaleUploads, type UploadQuota } from 'weir/upload';
import { serve } from '../helpers/http.ts';
import { emptied, emptiedBut, formBody, freeBytes, PDF, PNG, post, uploadApp } from '../helpers/multipart.ts';

describe('saveUploads(): free space, quotas, stale files', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'weir-upload-disk-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const fresh = (name: string) => join(root, name);

  it('refuses with 507 before writing when the disk would keep less than minFreeBytes', async () => {
    const dir = fresh('full-before');
    const minFreeBytes = freeBytes(root) + 1024 ** 3;
    const { app } = uploadApp(dir, { minFreeBytes });
    const handle = await serve(app);
    try {
      const res = await post(
        handle.port,
        '/upload',
        formBody([{ name: 'a', filename: 'a.png', type: 'image/png', body: PNG }]),
      );
      assert.equal(res.status, 507, res.text);
      assert.equal(res.json.error?.code, 'WEIR_ERR_UPLOAD_NO_SPACE');
      assert.deepEqual(res.json.error?.details, { limit: 'minFreeBytes', limitBytes: minFreeBytes });
      assert.doesNotMatch(res.text, new RegExp(root.replaceAll('/', '\\/')), 'the path is never shown');
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it('refuses with 507 while writing when the free space runs below minFreeBytes, and removes the file', async () => {
    const dir = fresh('full-during');
    // Room for 2 MiB more at the start: a chunked 8 MiB file (no Content-Length to refuse it by) passes
    // the first look, then runs short as it is written.
    const { app } = uploadApp(dir, {
      minFreeBytes: freeBytes(root) - 2 * 1024 * 1024,
      maxFileBytes: 16 * 1024 * 1024,
    });
    const handle = await serve(app);
    try {
      const body = formBody([
        {
          name: 'a',
          filename: 'a.pdf',
          type: 'application/pdf',
          body: Buffer.concat([PDF, Buffer.alloc(8 * 1024 * 1024)]),
        },
      ]);
      const res = await post(handle.port, '/upload', body, { chunked: true });
      assert.equal(res.status, 507, res.text);
      assert.equal(res.json.error?.details?.limit, 'minFreeBytes');
      assert.deepEqual(await emptied(dir), []);
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it('keeps a folder within its quota, counting what it held before and giving back what failed', async () => {
    const dir = fresh('quota');
    mkdirSync(dir);
    writeFileSync(join(dir, 'earlier.bin'), Buffer.alloc(60_000));
    const quota: UploadQuota = await createUploadQuota(dir, { maxBytes: 100_000 });
    assert.equal(quota.usedBytes, 60_000);
    const { app } = uploadApp(dir, { quota });
    const handle = await serve(app);
    try {
      const pdf = (size: number) => Buffer.concat([PDF, Buffer.alloc(size - PDF.length)]);
      const refused = await post(
        handle.port,
        '/upload',
        formBody([
          { name: 'a', filename: 'a.pdf', type: 'application/pdf', body: pdf(30_000) },
          { name: 'b', filename: 'b.pdf', type: 'application/pdf', body: pdf(20_000) },
        ]),
      );
      assert.equal(refused.status, 507, refused.text);
      assert.deepEqual(refused.json.error?.details, { limit: 'quotaBytes', limitBytes: 100_000 });
      assert.deepEqual(await emptiedBut(dir, ['earlier.bin']), ['earlier.bin']);
      assert.equal(quota.usedBytes, 60_000, 'the failed upload gave its bytes back');
      const fits = await post(
        handle.port,
        '/upload',
        formBody([{ name: 'a', filename: 'a.pdf', type: 'application/pdf', body: pdf(40_000) }]),
      );
      assert.equal(fits.status, 201, fits.text);
      assert.equal(quota.usedBytes, 100_000);
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it('removeStaleUploads() removes only the temporary files of interrupted uploads, once they are old', async () => {
    const dir = fresh('stale');
    mkdirSync(dir);
    const old = '.0b5c4c1e-2f6a-4d3b-9a51-6f0e1d2c3b4a.part';
    const recent = '.7d1e2f3a-4b5c-4d6e-8f70-112233445566.part';
    for (const name of [old, recent, 'kept.png', '.other.part']) writeFileSync(join(dir, name), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (const name of [old, 'kept.png', '.other.part'])
      utimesSync(join(dir, name), twoHoursAgo, twoHoursAgo);
    assert.equal(await removeStaleUploads(dir), 1);
    assert.deepEqual(readdirSync(dir).sort(), [recent, '.other.part', 'kept.png'].sort());
    assert.equal(await removeStaleUploads(join(dir, 'missing')), 0);
  });
});
