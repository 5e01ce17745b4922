/** docs/compression.md: each example behaves as the guide says. */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { App, serveStatic } from 'weir';
import { inject } from 'weir/testing';
import { app as proxied } from '../../examples/docs/compression/behind-proxy.ts';
import { precompress } from '../../examples/docs/compression/precompress.ts';
import { app } from '../../examples/docs/compression/service.ts';

const publicDir = new URL('../../examples/docs/compression/public/', import.meta.url).pathname;

describe('docs/compression.md', () => {
  it('sends /products as brotli to a browser, with Vary, and as it is to a client that takes none', async () => {
    const plain = await inject(app, { url: '/products' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'accept-encoding');
    const br = await inject(app, {
      url: '/products',
      headers: { 'accept-encoding': 'gzip, deflate, br, zstd' },
    });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(brotliDecompressSync(br.rawBody).toString(), plain.body);
    assert.ok(
      br.rawBody.length * 3 < plain.rawBody.length,
      `${br.rawBody.length} of ${plain.rawBody.length}`,
    );
  });

  it('never compresses /search, which mixes a secret with the search term', async () => {
    const res = await inject(app, {
      url: `/search?q=${'csrf='.repeat(300)}`,
      headers: { 'accept-encoding': 'br, gzip', cookie: 'csrf=s3cr3t' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.ok(res.body.includes('s3cr3t'), 'the page shows the token');
  });

  it('reads a gzip upload, and refuses one that inflates past the limit', async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({ type: 'click', at: i }));
    const ok = await inject(app, {
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(events)),
    });
    assert.deepEqual(ok.json(), { received: 1000 });
    const bomb = await inject(app, {
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(Buffer.alloc(8 * 1024 * 1024, 32)),
    });
    assert.equal(bomb.status, 413);
  });

  it('compresses the asset as it streams; behind a proxy, nothing is compressed', async () => {
    const res = await inject(app, { url: '/assets/app.js', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(res.rawBody).toString(), readFileSync(join(publicDir, 'app.js'), 'utf8'));
    const off = await inject(proxied, { url: '/report', headers: { 'accept-encoding': 'br' } });
    assert.equal(off.headers['content-encoding'], undefined);
    assert.equal(off.headers.vary, undefined);
  });

  it('precompresses a build folder, and serveStatic sends the .br as it is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-docs-precompress-'));
    try {
      cpSync(publicDir, dir, { recursive: true });
      const written = await precompress(dir);
      assert.deepEqual(written.sort(), [join(dir, 'app.js.br'), join(dir, 'app.js.gz')]);
      assert.ok(existsSync(join(dir, 'app.js.br')), 'app.js.br written');
      const site = new App({ logger: false });
      site.get('/assets/*', serveStatic(dir));
      const res = await inject(site, { url: '/assets/app.js', headers: { 'accept-encoding': 'br' } });
      assert.equal(res.headers['content-encoding'], 'br');
      assert.deepEqual(res.rawBody, readFileSync(join(dir, 'app.js.br')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
