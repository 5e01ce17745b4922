import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App, type ServerHandle, serveStatic } from 'weir';
import { inject } from 'weir/testing';
import { raw, serve } from '../helpers/http.ts';

const SECRET = 'TOP-SECRET-OUTSIDE-CONTENT';
let base: string;
let root: string;
let app: App;

before(() => {
  base = mkdtempSync(join(tmpdir(), 'weir-static-'));
  root = join(base, 'public');
  mkdirSync(join(root, 'assets'), { recursive: true });
  mkdirSync(join(root, 'docs'));
  writeFileSync(join(root, 'hello.txt'), '0123456789abcdef');
  writeFileSync(join(root, 'assets', 'app.3f9a2b1c.js'), 'console.log(1)');
  writeFileSync(join(root, 'assets', 'index-DiwrgTda.css'), 'body{}');
  writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>');
  mkdirSync(join(root, 'bare'));
  writeFileSync(join(root, '.env'), 'hidden');
  writeFileSync(join(root, 'empty.bin'), '');
  writeFileSync(join(base, 'secret.txt'), SECRET);
  symlinkSync(join(base, 'secret.txt'), join(root, 'link-out.txt'));
  symlinkSync(join(root, 'hello.txt'), join(root, 'link-in.txt'));
  utimesSync(join(root, 'hello.txt'), new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'));
  // Dated an hour ahead: still "modified within the current second" whenever the test runs.
  writeFileSync(join(root, 'fresh.txt'), '0123456789');
  const ahead = new Date(Date.now() + 3_600_000);
  utimesSync(join(root, 'fresh.txt'), ahead, ahead);
  app = new App({ logger: false });
  app.get('/static/*', serveStatic(root));
  app.get('/noindex/*', serveStatic(root, { index: false }));
});
after(() => rmSync(base, { recursive: true, force: true }));

describe('serveStatic', () => {
  it('serves a file with type, length, validators and short caching', async () => {
    const res = await inject(app, { url: '/static/hello.txt' });
    assert.equal(res.status, 200);
    assert.equal(res.body, '0123456789abcdef');
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['content-length'], '16');
    assert.equal(res.headers['last-modified'], 'Tue, 02 Jan 2024 03:04:05 GMT');
    assert.match(String(res.headers.etag), /^W\/"10-[0-9a-f]+"$/);
    assert.equal(res.headers['cache-control'], 'public, max-age=60');
    assert.equal(res.headers['accept-ranges'], 'bytes');
  });

  it('caches fingerprinted names for a year as immutable', async () => {
    for (const name of ['app.3f9a2b1c.js', 'index-DiwrgTda.css']) {
      const res = await inject(app, { url: `/static/assets/${name}` });
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', name);
    }
  });

  it('answers 304 to a matching If-None-Match or a fresh If-Modified-Since', async () => {
    const first = await inject(app, { url: '/static/hello.txt' });
    const etag = String(first.headers.etag);
    const byTag = await inject(app, {
      url: '/static/hello.txt',
      headers: { 'if-none-match': `"other", ${etag}` },
    });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body, '');
    assert.equal(byTag.headers.etag, etag);
    const byDate = await inject(app, {
      url: '/static/hello.txt',
      headers: { 'if-modified-since': 'Tue, 02 Jan 2024 03:04:05 GMT' },
    });
    assert.equal(byDate.status, 304);
    const stale = await inject(app, {
      url: '/static/hello.txt',
      headers: { 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' },
    });
    assert.equal(stale.status, 200);
    const otherTag = await inject(app, { url: '/static/hello.txt', headers: { 'if-none-match': '"nope"' } });
    assert.equal(otherTag.status, 200);
  });

  it('serves single byte ranges with 206 and refuses unsatisfiable ones with 416', async () => {
    const mid = await inject(app, { url: '/static/hello.txt', headers: { range: 'bytes=2-5' } });
    assert.equal(mid.status, 206);
    assert.equal(mid.body, '2345');
    assert.equal(mid.headers['content-range'], 'bytes 2-5/16');
    assert.equal(mid.headers['content-length'], '4');
    const suffix = await inject(app, { url: '/static/hello.txt', headers: { range: 'bytes=-3' } });
    assert.equal(suffix.body, 'def');
    const open = await inject(app, { url: '/static/hello.txt', headers: { range: 'bytes=14-' } });
    assert.equal(open.body, 'ef');
    const beyond = await inject(app, { url: '/static/hello.txt', headers: { range: 'bytes=16-20' } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers['content-range'], 'bytes */16');
    const multi = await inject(app, { url: '/static/hello.txt', headers: { range: 'bytes=0-1,4-5' } });
    assert.equal(multi.status, 200);
    assert.equal(multi.body, '0123456789abcdef');
    const staleIfRange = await inject(app, {
      url: '/static/hello.txt',
      headers: { range: 'bytes=0-1', 'if-range': '"old"' },
    });
    assert.equal(staleIfRange.status, 200);
  });

  it('ignores Range (full 200) when If-Range names the ETag: it is weak, and If-Range needs a strong match', async () => {
    const first = await inject(app, { url: '/static/hello.txt' });
    const etag = String(first.headers.etag);
    for (const ifRange of [etag, etag.slice(2), `${etag}, ${etag}`]) {
      const res = await inject(app, {
        url: '/static/hello.txt',
        headers: { range: 'bytes=0-1', 'if-range': ifRange },
      });
      assert.equal(res.status, 200, ifRange);
      assert.equal(res.body, '0123456789abcdef', ifRange);
      assert.equal(res.headers['content-range'], undefined, ifRange);
    }
  });

  it('honours If-Range only for a date equal to Last-Modified, of a file not modified within the second', async () => {
    const exact = await inject(app, {
      url: '/static/hello.txt',
      headers: { range: 'bytes=0-1', 'if-range': 'Tue, 02 Jan 2024 03:04:05 GMT' },
    });
    assert.equal(exact.status, 206);
    assert.equal(exact.body, '01');
    const others = [
      'Tue, 02 Jan 2024 03:04:06 GMT', // later: the client's copy is not this one
      'Tue, 02 Jan 2024 03:04:04 GMT',
      'Tuesday, 02-Jan-24 03:04:05 GMT', // the same instant, but not the Last-Modified value
      'Tue Jan  2 03:04:05 2024',
      'tue, 02 jan 2024 03:04:05 gmt',
      'Invalid Date',
      '',
    ];
    for (const ifRange of others) {
      const res = await inject(app, {
        url: '/static/hello.txt',
        headers: { range: 'bytes=0-1', 'if-range': ifRange },
      });
      assert.equal(res.status, 200, ifRange);
      assert.equal(res.body, '0123456789abcdef', ifRange);
    }
    // A file whose date is not yet past may change again within the second its Last-Modified names, so
    // that date is weak (RFC 9110 §8.8.2.2) and Range is ignored, even though the value matches.
    const fresh = await inject(app, { url: '/static/fresh.txt' });
    const lastModified = String(fresh.headers['last-modified']);
    assert.ok(Date.parse(lastModified) <= Date.now(), 'Last-Modified is never later than the response');
    const stale = await inject(app, {
      url: '/static/fresh.txt',
      headers: { range: 'bytes=0-1', 'if-range': lastModified },
    });
    assert.equal(stale.status, 200);
    assert.equal(stale.body, '0123456789');
  });

  it('serves index.html for a folder, empty files, and HEAD without a body', async () => {
    assert.equal((await inject(app, { url: '/static/docs/' })).body, '<h1>docs</h1>');
    const empty = await inject(app, { url: '/static/empty.bin' });
    assert.equal(empty.status, 200);
    assert.equal(empty.headers['content-length'], '0');
    const head = await inject(app, { method: 'HEAD', url: '/static/hello.txt' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '16');
    assert.equal(head.body, '');
  });

  it('answers 404 to a file named as a folder: a trailing "/", "/." or "//", spelled out or encoded', async () => {
    const handle: ServerHandle = await serve(app);
    try {
      for (const path of [
        '/static/hello.txt/',
        '/static/hello.txt/.',
        '/static/hello.txt//',
        '/static/hello.txt/./',
        '/static/hello.txt%2f',
        '/static/hello.txt%2F.',
        '/static/assets/app.3f9a2b1c.js/',
      ]) {
        const response = await raw(
          handle.port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        assert.match(response, /^HTTP\/1\.1 404 /, path);
        assert.equal(response.includes('0123456789abcdef'), false, path);
      }
    } finally {
      await handle.close();
    }
  });

  it('redirects (301) a folder named without its trailing "/" to it, keeping the query', async () => {
    const res = await inject(app, { url: '/static/docs?lang=en' });
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, '/static/docs/?lang=en');
    assert.equal(res.body, '');
    const head = await inject(app, { method: 'HEAD', url: '/static/docs' });
    assert.equal(head.status, 301);
    assert.equal(head.headers.location, '/static/docs/');
    const followed = await inject(app, { url: String(res.headers.location) });
    assert.equal(followed.status, 200);
    assert.equal(followed.body, '<h1>docs</h1>');
  });

  it('answers 404, not a redirect, for a folder without an index file or with index: false', async () => {
    for (const url of ['/static/bare', '/static/bare/', '/noindex/docs', '/noindex/docs/']) {
      const res = await inject(app, { url });
      assert.equal(res.status, 404, url);
      assert.equal(res.headers.location, undefined, url);
    }
  });

  it('never redirects to another host: "//" in the Location becomes "/", a backslash %5C', async () => {
    const everywhere = new App({ logger: false });
    everywhere.get('/*', serveStatic(root));
    const perLang = new App({ logger: false });
    perLang.get('/:lang/*', serveStatic(root));
    const cases: [App, string, string][] = [
      [everywhere, '//docs', '/docs/'],
      [everywhere, '///docs?x=1', '/docs/?x=1'],
      // Browsers read a backslash in a Location as "/", so "/\\evil.example/" would leave the site.
      [perLang, '/\\evil.example/docs', '/%5Cevil.example/docs/'],
    ];
    for (const [target, path, location] of cases) {
      const handle: ServerHandle = await serve(target);
      try {
        const response = await raw(
          handle.port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        assert.match(response, /^HTTP\/1\.1 301 /, path);
        assert.ok(response.includes(`\r\nlocation: ${location}\r\n`), `${path}: ${response}`);
      } finally {
        await handle.close();
      }
    }
  });

  it('answers 404 for missing files, dotfiles and symlinks that lead out, and serves symlinks inside', async () => {
    assert.equal((await inject(app, { url: '/static/nope.txt' })).status, 404);
    assert.equal((await inject(app, { url: '/static/.env' })).status, 404);
    const out = await inject(app, { url: '/static/link-out.txt' });
    assert.equal(out.status, 404);
    assert.equal(out.body.includes(SECRET), false);
    assert.equal((await inject(app, { url: '/static/link-in.txt' })).body, '0123456789abcdef');
  });

  it('refuses traversal however it is spelled, over a raw socket', async () => {
    const handle: ServerHandle = await serve(app);
    try {
      const attempts = [
        '/static/../secret.txt',
        '/static/%2e%2e/secret.txt',
        '/static/%2E%2E%2Fsecret.txt',
        '/static/assets/..%2f..%2fsecret.txt',
        '/static/..%5csecret.txt',
        '/static/hello.txt%00.png',
        '/static/....//secret.txt',
        '/static//etc/passwd',
      ];
      for (const path of attempts) {
        const response = await raw(
          handle.port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        assert.match(response, /^HTTP\/1\.1 (403|404) /, path);
        assert.equal(response.includes(SECRET), false, path);
      }
    } finally {
      await handle.close();
    }
  });

  it('refuses a root that does not exist at construction', () => {
    assert.throws(() => serveStatic(join(base, 'missing')), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
