/** docs/uploads.md: each example behaves as the guide says, on a real socket. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from 'weir';
import { app as digestApp } from '../../examples/docs/uploads/digest.ts';
import { photoApp } from '../../examples/docs/uploads/save.ts';
import { serve } from '../helpers/http.ts';
import { formBody, PDF, PNG, post } from '../helpers/multipart.ts';

describe('docs/uploads.md', () => {
  let dir: string;
  let photos: ServerHandle;
  let digests: ServerHandle;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weir-docs-uploads-'));
    photos = await serve(photoApp(dir));
    digests = await serve(digestApp);
  });
  after(async () => {
    await photos.close({ timeoutMs: 1000 });
    await digests.close({ timeoutMs: 1000 });
    rmSync(dir, { recursive: true, force: true });
  });

  it('save: stores a photo and a PDF under random names, and answers their ids, sizes and types', async () => {
    const res = await post(
      photos.port,
      '/photos',
      formBody([
        { name: 'album', body: 'Summer' },
        { name: 'a', filename: 'beach.png', type: 'image/png', body: PNG },
        { name: 'b', filename: 'tickets.pdf', type: 'application/pdf', body: PDF },
      ]),
    );
    assert.equal(res.status, 201, res.text);
    const files = res.json.files as { id: string; size: number; type: string; name: string }[];
    assert.equal(res.json.album, 'Summer');
    assert.deepEqual(
      files.map((f) => [f.size, f.type, f.name]),
      [
        [PNG.length, 'image/png', 'beach.png'],
        [PDF.length, 'application/pdf', 'tickets.pdf'],
      ],
    );
    assert.deepEqual(readFileSync(join(dir, `${files[0]?.id}.png`)), PNG);
  });

  it('save: refuses an HTML page sent as a photo, and a sixth file, keeping nothing of either', async () => {
    const before = readdirSync(dir).sort();
    const forged = await post(
      photos.port,
      '/photos',
      formBody([
        { name: 'a', filename: 'a.png', type: 'image/png', body: '<!doctype html><script>x</script>' },
      ]),
    );
    assert.equal(forged.status, 415, forged.text);
    const six = await post(
      photos.port,
      '/photos',
      formBody(
        Array.from({ length: 6 }, (_, i) => ({
          name: `f${i}`,
          filename: 'p.png',
          type: 'image/png',
          body: PNG,
        })),
      ),
    );
    assert.equal(six.status, 413, six.text);
    assert.equal(six.json.error?.code, 'WEIR_ERR_UPLOAD_TOO_MANY');
    assert.deepEqual(readdirSync(dir).sort(), before);
  });

  it('digest: hashes each file as it streams, and answers the fields', async () => {
    const big = Buffer.alloc(3_000_000, 9);
    const res = await post(
      digests.port,
      '/digest',
      formBody([
        { name: 'note', body: 'two files' },
        { name: 'one', filename: 'big.bin', type: 'application/octet-stream', body: big },
        { name: 'two', filename: 'p.png', type: 'image/png', body: PNG },
      ]),
    );
    assert.equal(res.status, 200, res.text);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    assert.deepEqual(res.json, {
      fields: { note: 'two files' },
      digests: [
        { field: 'one', sha256: sha(big), bytes: big.length },
        { field: 'two', sha256: sha(PNG), bytes: PNG.length },
      ],
    });
  });
});
