import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from 'weir';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import type { UploadedFile } from '../../examples/service/uploads.ts';
import { serve } from '../helpers/http.ts';
import { formBody, PDF, PNG, post } from '../helpers/multipart.ts';

let handle: ServerHandle;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weir-service-uploads-'));
  // 30 KB already there, of a 100 KB quota.
  writeFileSync(join(dir, 'earlier.bin'), Buffer.alloc(30_000));
  const app = createServiceApp({
    logger: false,
    db: await openServiceDatabase('sqlite::memory:'),
    uploads: { dir, quotaBytes: 100_000 },
  });
  handle = await serve(app);
});
after(async () => {
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reference service: POST /upload', () => {
  it('stores images and PDFs under random names and answers 201 with their ids, sizes and types', async () => {
    const res = await post(
      handle.port,
      '/upload',
      formBody([
        { name: 'photo', filename: '../../../etc/cron.d/x.png', type: 'image/png', body: PNG },
        { name: 'doc', filename: 'cv.pdf', type: 'application/pdf', body: PDF },
      ]),
    );
    assert.equal(res.status, 201, res.text);
    const files = res.json.files as UploadedFile[];
    assert.deepEqual(
      files.map((f) => [f.field, f.filename, f.size, f.type, f.name]),
      [
        ['photo', 'x.png', PNG.length, 'image/png', `${files[0]?.id}.png`],
        ['doc', 'cv.pdf', PDF.length, 'application/pdf', `${files[1]?.id}.pdf`],
      ],
    );
    assert.deepEqual(readFileSync(join(dir, files[0]!.name)), PNG);
    assert.deepEqual(readdirSync(dir).sort(), ['earlier.bin', files[0]!.name, files[1]!.name].sort());
  });

  it('refuses a script sent as an image (415) and a file past the quota (507), keeping nothing of either', async () => {
    const before = readdirSync(dir).sort();
    const forged = await post(
      handle.port,
      '/upload',
      formBody([{ name: 'photo', filename: 'x.png', type: 'image/png', body: '<script>alert(1)</script>' }]),
    );
    assert.equal(forged.status, 415, forged.text);
    assert.equal(forged.json.error?.code, 'WEIR_ERR_UPLOAD_TYPE');
    const big = await post(
      handle.port,
      '/upload',
      formBody([
        {
          name: 'doc',
          filename: 'big.pdf',
          type: 'application/pdf',
          body: Buffer.concat([PDF, Buffer.alloc(80_000)]),
        },
      ]),
    );
    assert.equal(big.status, 507, big.text);
    assert.deepEqual(big.json.error?.details, { limit: 'quotaBytes', limitBytes: 100_000 });
    assert.deepEqual(readdirSync(dir).sort(), before);
  });

  it('documents the route in its OpenAPI document', async () => {
    const res = await fetch(`${handle.url}/openapi.json`);
    const doc = (await res.json()) as { paths: Record<string, { post?: { summary?: string } }> };
    assert.equal(doc.paths['/upload']?.post?.summary, 'Upload images and PDFs');
  });
});
