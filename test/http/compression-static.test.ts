import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { App, serveStatic } from 'weir';
import { inject } from 'weir/testing';

const SCRIPT = `export const rows = [${Array.from({ length: 2000 }, (_, i) => i).join(', ')}];\n`;
const STYLE = `${'body { margin: 0; padding: 0; }\n'.repeat(400)}`;
let root: string;
let app: App;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'weir-precompressed-'));
  mkdirSync(join(root, 'public'));
  writeFileSync(join(root, 'public', 'app.js'), SCRIPT);
  writeFileSync(join(root, 'public', 'app.js.br'), brotliCompressSync(SCRIPT));
  writeFileSync(join(root, 'public', 'app.js.gz'), gzipSync(SCRIPT));
  writeFileSync(join(root, 'public', 'style.css'), STYLE);
  writeFileSync(join(root, 'public', 'style.css.gz'), gzipSync(STYLE));
  writeFileSync(join(root, 'public', 'photo.png'), Buffer.alloc(20_000, 1));
  // A folder where a sibling would be: passed over for the .gz beside it.
  writeFileSync(join(root, 'public', 'odd.css'), STYLE);
  mkdirSync(join(root, 'public', 'odd.css.br'));
  writeFileSync(join(root, 'public', 'odd.css.gz'), gzipSync(STYLE));
  writeFileSync(join(root, 'public', 'photo.png.br'), 'not served');
  // A sibling outside the folder, reached only by a symlink: never served.
  writeFileSync(join(root, 'outside.br'), 'secret');
  app = new App({ logger: false });
  app.get('/static/*', serveStatic(join(root, 'public')));
  app.get('/plain/*', serveStatic(join(root, 'public'), { precompressed: false }));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('serveStatic and compression', () => {
  it('serves the .br or .gz sibling the client takes, with the original type, Vary and an ETag of its own', async () => {
    const identity = await inject(app, { url: '/static/app.js' });
    assert.equal(identity.body, SCRIPT);
    assert.equal(identity.headers.vary, 'accept-encoding');
    const br = await inject(app, { url: '/static/app.js', headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['content-type'], identity.headers['content-type']);
    assert.equal(br.headers.vary, 'accept-encoding');
    assert.deepEqual(br.rawBody, brotliCompressSync(SCRIPT), 'the file on disk, as it is');
    assert.equal(Number(br.headers['content-length']), br.rawBody.length);
    assert.notEqual(br.headers.etag, identity.headers.etag);
    assert.match(String(br.headers.etag), /-br"$/);
    const gz = await inject(app, { url: '/static/app.js', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.rawBody).toString(), SCRIPT);
    // Brotli preferred, but only a .gz exists: the .gz.
    const css = await inject(app, { url: '/static/style.css', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(css.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(css.rawBody).toString(), STYLE);
    const odd = await inject(app, { url: '/static/odd.css', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(odd.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(odd.rawBody).toString(), STYLE);
  });

  it("answers 304 for the sibling's ETag, and 200 when the client's encoding changed", async () => {
    const br = await inject(app, { url: '/static/app.js', headers: { 'accept-encoding': 'br' } });
    const tag = String(br.headers.etag);
    const again = await inject(app, {
      url: '/static/app.js',
      headers: { 'accept-encoding': 'br', 'if-none-match': tag },
    });
    assert.equal(again.status, 304);
    assert.equal(again.headers.etag, tag);
    assert.equal(again.headers.vary, 'accept-encoding');
    const other = await inject(app, {
      url: '/static/app.js',
      headers: { 'accept-encoding': 'gzip', 'if-none-match': tag },
    });
    assert.equal(other.status, 200);
    assert.equal(other.headers['content-encoding'], 'gzip');
  });

  it('answers a Range request from the identity file, never compressed (206)', async () => {
    const res = await inject(app, {
      url: '/static/app.js',
      headers: { 'accept-encoding': 'br, gzip', range: 'bytes=0-99' },
    });
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.body, SCRIPT.slice(0, 100));
    assert.equal(res.headers['content-range'], `bytes 0-99/${SCRIPT.length}`);
  });

  it('compresses a file as it streams when no sibling is used, with the variant ETag and its 304', async () => {
    const identity = await inject(app, { url: '/plain/app.js' });
    const res = await inject(app, { url: '/plain/app.js', headers: { 'accept-encoding': 'br' } });
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(res.headers.vary, 'accept-encoding');
    assert.equal(brotliDecompressSync(res.rawBody).toString(), SCRIPT);
    assert.equal(res.headers.etag, `${String(identity.headers.etag).slice(0, -1)}-br"`);
    const again = await inject(app, {
      url: '/plain/app.js',
      headers: { 'accept-encoding': 'br', 'if-none-match': String(res.headers.etag) },
    });
    assert.equal(again.status, 304);
    assert.equal(again.headers.etag, res.headers.etag);
    const stale = await inject(app, {
      url: '/plain/app.js',
      headers: { 'accept-encoding': 'br', 'if-none-match': String(identity.headers.etag) },
    });
    assert.equal(stale.status, 200, "identity's tag does not revalidate the brotli variant");
  });

  it('answers HEAD with the headers of the compressed GET: coding, variant ETag, Vary, no length', async () => {
    const get = await inject(app, { url: '/plain/app.js', headers: { 'accept-encoding': 'gzip' } });
    const head = await inject(app, {
      method: 'HEAD',
      url: '/plain/app.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-encoding'], 'gzip');
    assert.equal(head.headers.etag, get.headers.etag);
    assert.equal(head.headers.vary, 'accept-encoding');
    assert.equal(head.headers['content-length'], undefined);
    assert.equal(head.headers['transfer-encoding'], undefined);
    assert.equal(head.rawBody.length, 0);
    const sibling = await inject(app, {
      method: 'HEAD',
      url: '/static/app.js',
      headers: { 'accept-encoding': 'br' },
    });
    assert.equal(sibling.headers['content-encoding'], 'br');
    assert.equal(Number(sibling.headers['content-length']), brotliCompressSync(SCRIPT).length);
  });

  it('never looks for a sibling of a type not worth compressing, nor compresses it', async () => {
    const res = await inject(app, { url: '/static/photo.png', headers: { 'accept-encoding': 'br' } });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, undefined);
    assert.equal(res.rawBody.length, 20_000);
  });
});
