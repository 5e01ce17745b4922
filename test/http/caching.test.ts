import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { App, cacheControl, etag, formatCacheControl, HttpError, json, text } from 'weir';
import { inject } from 'weir/testing';
import { ifRangeMatches } from '../../src/http/caching.ts';

function app(): App {
  const a = new App({ logger: false });
  a.use(etag());
  let version = 1;
  a.get('/text', () => `hello v${version}`);
  a.get('/json', () => ({ version, list: [1, 2, 3] }));
  a.get('/array', () => [version]);
  a.get('/bytes', () => new Uint8Array([1, 2, 3, version]));
  a.get('/helper', () =>
    text(`helper v${version}`, { headers: { 'cache-control': 'max-age=60', vary: 'accept' } }),
  );
  a.get('/own', () => json({ a: 1 }, { headers: { etag: '"v-own"' } }));
  a.get('/stream', () => Readable.from(['a', 'b']));
  a.get('/created', (ctx) => ctx.status(201) && { made: true });
  a.get('/fail', () => {
    throw HttpError.notFound('nope');
  });
  a.post('/bump', () => {
    version++;
    return { version };
  });
  return a;
}

describe('etag()', () => {
  it('adds a weak ETag and answers 304, without a body, when If-None-Match names it', async () => {
    const a = app();
    for (const url of ['/text', '/json', '/array', '/bytes']) {
      const first = await inject(a, { url });
      assert.equal(first.status, 200, url);
      const tag = first.headers.etag;
      assert.match(String(tag), /^W\/"[0-9a-f]+-[\w-]+"$/, url);
      const again = await inject(a, { url, headers: { 'if-none-match': String(tag) } });
      assert.equal(again.status, 304, url);
      assert.equal(again.body, '');
      assert.equal(again.headers.etag, tag);
      const other = await inject(a, { url, headers: { 'if-none-match': 'W/"something-else"' } });
      assert.equal(other.status, 200);
    }
  });

  it('the ETag follows the body: a change gives a new tag and a 200', async () => {
    const a = app();
    const before = await inject(a, { url: '/json' });
    assert.deepEqual(before.json(), { version: 1, list: [1, 2, 3] });
    assert.equal(before.headers['content-type'], 'application/json');
    await inject(a, { method: 'POST', url: '/bump' });
    const after = await inject(a, {
      url: '/json',
      headers: { 'if-none-match': String(before.headers.etag) },
    });
    assert.equal(after.status, 200);
    assert.notEqual(after.headers.etag, before.headers.etag);
    assert.deepEqual(after.json(), { version: 2, list: [1, 2, 3] });
  });

  it('matches a strong form, a list and *, and keeps Cache-Control and Vary on the 304', async () => {
    const a = app();
    const first = await inject(a, { url: '/helper' });
    const strong = String(first.headers.etag).slice(2);
    for (const header of [strong, `"x", ${String(first.headers.etag)}`, '*']) {
      const res = await inject(a, { url: '/helper', headers: { 'if-none-match': header } });
      assert.equal(res.status, 304, header);
      assert.equal(res.headers['cache-control'], 'max-age=60');
      assert.equal(res.headers.vary, 'accept');
    }
  });

  it("keeps a handler's own ETag, and leaves streams, errors, non-200 and POST alone", async () => {
    const a = app();
    assert.equal((await inject(a, { url: '/own' })).headers.etag, '"v-own"');
    assert.equal((await inject(a, { url: '/own', headers: { 'if-none-match': '"v-own"' } })).status, 304);
    assert.equal((await inject(a, { url: '/stream' })).headers.etag, undefined);
    const fail = await inject(a, { url: '/fail' });
    assert.equal(fail.status, 404);
    assert.equal(fail.headers.etag, undefined);
    assert.equal((await inject(a, { url: '/created' })).headers.etag, undefined);
    assert.equal((await inject(a, { method: 'POST', url: '/bump' })).headers.etag, undefined);
  });

  it('HEAD gets the same ETag as GET', async () => {
    const a = app();
    const get = await inject(a, { url: '/text' });
    const head = await inject(a, { method: 'HEAD', url: '/text' });
    assert.equal(head.headers.etag, get.headers.etag);
  });
});

describe('cacheControl()', () => {
  it('formats directives in a fixed order, seconds as whole numbers', () => {
    assert.equal(
      formatCacheControl({
        public: true,
        maxAgeSeconds: 60,
        sMaxAgeSeconds: 600,
        staleWhileRevalidateSeconds: 30,
      }),
      'public, max-age=60, s-maxage=600, stale-while-revalidate=30',
    );
    assert.equal(formatCacheControl({ noStore: true }), 'no-store');
    assert.equal(
      formatCacheControl({ private: true, noCache: true, mustRevalidate: true }),
      'private, no-cache, must-revalidate',
    );
    assert.throws(() => formatCacheControl({ public: true, private: true }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
    assert.throws(() => formatCacheControl({ maxAgeSeconds: 1.5 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => formatCacheControl({}), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => cacheControl('max-age=1\r\nx: y'), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it("sets the header on success, never on errors, and never over a handler's own", async () => {
    const a = new App({ logger: false });
    const cc = cacheControl({ public: true, maxAgeSeconds: 60 });
    a.get('/ok', cc, () => 'ok');
    a.get('/own', cc, () => text('own', { headers: { 'Cache-Control': 'no-store' } }));
    a.get('/fail', cc, () => {
      throw HttpError.notFound();
    });
    a.get('/raw', cacheControl('private, max-age=5'), () => 'raw');
    assert.equal((await inject(a, { url: '/ok' })).headers['cache-control'], 'public, max-age=60');
    assert.equal((await inject(a, { url: '/own' })).headers['cache-control'], 'no-store');
    assert.equal((await inject(a, { url: '/fail' })).headers['cache-control'], undefined);
    assert.equal((await inject(a, { url: '/raw' })).headers['cache-control'], 'private, max-age=5');
  });

  it('with etag(), a 304 carries the Cache-Control too', async () => {
    const a = new App({ logger: false });
    a.get('/page', cacheControl({ public: true, maxAgeSeconds: 60 }), etag(), () => 'page');
    const first = await inject(a, { url: '/page' });
    const again = await inject(a, { url: '/page', headers: { 'if-none-match': String(first.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal(again.headers['cache-control'], 'public, max-age=60');
  });
});

describe('ifRangeMatches()', () => {
  const LAST_MODIFIED = 'Tue, 02 Jan 2024 03:04:05 GMT';
  const modifiedMs = Date.parse(LAST_MODIFIED) + 250;
  const later = modifiedMs + 60_000;

  it('matches an entity-tag only by strong comparison: identical, and neither weak', () => {
    const strong = { etag: '"v1"', lastModified: LAST_MODIFIED, modifiedMs, nowMs: later };
    assert.equal(ifRangeMatches('"v1"', strong), true);
    assert.equal(ifRangeMatches('W/"v1"', strong), false);
    assert.equal(ifRangeMatches('"v2"', strong), false);
    assert.equal(ifRangeMatches('"v1", "v1"', strong), false);
    const weak = { ...strong, etag: 'W/"v1"' };
    assert.equal(ifRangeMatches('W/"v1"', weak), false);
    assert.equal(ifRangeMatches('"v1"', weak), false);
    assert.equal(ifRangeMatches('"v1"', { ...strong, etag: undefined }), false);
  });

  it('matches a date only when it equals Last-Modified and that second is over by the response', () => {
    const validators = { etag: 'W/"x"', lastModified: LAST_MODIFIED, modifiedMs, nowMs: later };
    assert.equal(ifRangeMatches(LAST_MODIFIED, validators), true);
    assert.equal(ifRangeMatches('Tuesday, 02-Jan-24 03:04:05 GMT', validators), false);
    assert.equal(ifRangeMatches('Tue, 02 Jan 2024 03:04:06 GMT', validators), false);
    // Within the second Last-Modified names, the file may change again under the same date.
    const sameSecond = Date.parse(LAST_MODIFIED) + 999;
    assert.equal(ifRangeMatches(LAST_MODIFIED, { ...validators, nowMs: sameSecond }), false);
    assert.equal(ifRangeMatches(LAST_MODIFIED, { ...validators, nowMs: sameSecond + 1 }), true);
    assert.equal(ifRangeMatches(LAST_MODIFIED, { ...validators, nowMs: modifiedMs - 5_000 }), false);
    assert.equal(ifRangeMatches(LAST_MODIFIED, { ...validators, lastModified: undefined }), false);
    const invalid = { ...validators, lastModified: 'Invalid Date', modifiedMs: Number.NaN };
    assert.equal(ifRangeMatches('Invalid Date', invalid), false);
  });
});

describe('etagMatches()', () => {
  it('answers 304 for a handler ETag whose opaque part holds a comma, listed among others', async () => {
    const a = new App({ logger: false });
    a.use(etag());
    a.get('/list', () => json({ a: 1 }, { headers: { etag: '"v1, draft"' } }));
    const res = await inject(a, { url: '/list', headers: { 'if-none-match': 'W/"x", "v1, draft"' } });
    assert.equal(res.status, 304);
    const other = await inject(a, { url: '/list', headers: { 'if-none-match': '"v1", "draft"' } });
    assert.equal(other.status, 200);
  });
});
