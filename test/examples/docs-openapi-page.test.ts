/** docs/openapi.md, the docs page: mounted under securityHeaders(), it serves the page and its files. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inject } from 'weir/testing';
import { app } from '../../examples/docs/openapi/docs-page.ts';

describe('docs/openapi.md docs page', () => {
  it('serves the page under the CSP, every file it links, and the document it fetches', async () => {
    const page = await inject(app, { url: '/docs' });
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>Orders API<\/title>/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    const links = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(links.length, 6);
    for (const link of links) {
      const res = await inject(app, { url: new URL(link, 'http://localhost/docs').pathname });
      assert.equal(res.status, 200, link);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', link);
    }
    const spec = await inject(app, { url: '/openapi.json' });
    const doc = spec.json<{ openapi: string; paths: object }>();
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths), ['/orders/{id}'], 'the page and its files are hidden');
  });
});
