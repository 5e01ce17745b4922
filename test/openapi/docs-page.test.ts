import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { App, json } from 'weir';
import { docsPage } from 'weir/openapi';
import { securityHeaders } from 'weir/security';
import { inject } from 'weir/testing';
import { docsPageFrom } from '../../src/openapi/docs-page.ts';
import { raw, serve } from '../helpers/http.ts';

const folder = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const { version } = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { version: string };
const YEAR = 'public, max-age=31536000, immutable';
const FILES: [string, string][] = [
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['index.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
  ['favicon-16x16.png', 'image/png'],
];

function appWithDocs(options?: Parameters<typeof docsPage>[0]): App {
  const app = new App({ logger: false });
  app.get('/openapi.json', () => json({ openapi: '3.1.0', info: { title: 'T', version: '1' }, paths: {} }));
  app.route('/docs', docsPage(options));
  return app;
}

/** The page's own URLs, in the order they appear in `src` and `href` attributes. */
function linksOf(page: string): string[] {
  return [...page.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
}

describe('docsPage()', () => {
  const app = appWithDocs({ title: 'Orders' });

  it('mounts the page and exactly the files it loads, each on a route of its own', () => {
    const routes = app.routes().filter((r) => r.startsWith('GET /docs'));
    assert.equal(routes.length, 1 + FILES.length + 1);
    assert.ok(routes.includes('GET /docs'));
    for (const [name] of FILES) assert.ok(routes.includes(`GET /docs/${version}/${name}`), name);
    assert.equal(routes.filter((r) => /^GET \/docs\/init\.[0-9a-f]{12}\.js$/.test(r)).length, 1);
  });

  it('serves a page with no inline script, linking every file relative to itself', async () => {
    const res = await inject(app, { url: '/docs' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(res.body, /<title>Orders<\/title>/);
    assert.match(res.body, /data-spec-url="\/openapi.json"/);
    for (const script of res.body.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)) {
      assert.match(script[1]!, / src="/);
      assert.equal(script[2], '', 'a script element carries no code of its own');
    }
    assert.doesNotMatch(res.body, /\son\w+=|style=|https?:/);
    const links = linksOf(res.body);
    assert.deepEqual(links.slice(0, 4), [
      `./docs/${version}/swagger-ui.css`,
      `./docs/${version}/index.css`,
      `./docs/${version}/favicon-32x32.png`,
      `./docs/${version}/favicon-16x16.png`,
    ]);
    assert.equal(links[4], `./docs/${version}/swagger-ui-bundle.js`);
    assert.match(links[5]!, /^\.\/docs\/init\.[0-9a-f]{12}\.js$/);
  });

  it('serves each file from the package with its type, length and a year of immutable caching', async () => {
    for (const [name, type] of FILES) {
      const res = await inject(app, { url: `/docs/${version}/${name}` });
      assert.equal(res.status, 200, name);
      assert.equal(res.headers['content-type'], type, name);
      assert.equal(res.headers['cache-control'], YEAR, name);
      const bytes = readFileSync(join(folder, name));
      assert.equal(res.headers['content-length'], String(bytes.length), name);
      assert.ok(res.rawBody.equals(bytes), name);
      assert.match(String(res.headers.etag), new RegExp(`^"${version.replaceAll('.', '\\.')}-[0-9a-f]+"$`));
    }
  });

  it('serves the start-up script, which turns off the online validator and ?url= loading', async () => {
    const page = (await inject(app, { url: '/docs' })).body;
    const script = linksOf(page)[5]!.slice(1);
    const res = await inject(app, { url: script });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(res.headers['cache-control'], YEAR);
    assert.match(res.body, /validatorUrl: null/);
    assert.match(res.body, /queryConfigEnabled: false/);
    assert.doesNotMatch(res.body, /https?:/);
  });

  it('answers 304 to a matching If-None-Match, and HEAD with headers only', async () => {
    const url = `/docs/${version}/swagger-ui-bundle.js`;
    const first = await inject(app, { url });
    const etag = String(first.headers.etag);
    const again = await inject(app, { url, headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers.etag, etag);
    assert.equal(again.headers['cache-control'], YEAR);
    const other = await inject(app, { url, headers: { 'if-none-match': '"something-else"' } });
    assert.equal(other.status, 200);
    const head = await inject(app, { url, method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], first.headers['content-length']);
  });

  it('sends its scripts compressed, and answers 304 for the variant a request would get', async () => {
    const url = `/docs/${version}/swagger-ui-bundle.js`;
    const br = await inject(app, { url, headers: { 'accept-encoding': 'br' } });
    assert.equal(br.headers['content-encoding'], 'br');
    const tag = String(br.headers.etag);
    assert.match(tag, /-br"$/);
    const again = await inject(app, { url, headers: { 'accept-encoding': 'br', 'if-none-match': tag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.etag, tag);
    assert.equal(again.headers.vary, 'accept-encoding');
    const identity = await inject(app, { url, headers: { 'if-none-match': tag } });
    assert.equal(identity.status, 200, 'the brotli tag does not revalidate the identity file');
  });

  it('answers 404 for every other file of the package, and for another version', async () => {
    for (const name of [
      'package.json',
      'index.html',
      'swagger-initializer.js',
      'swagger-ui-standalone-preset.js',
      'swagger-ui-bundle.js.map',
      'oauth2-redirect.html',
      'README.md',
    ]) {
      assert.equal((await inject(app, { url: `/docs/${version}/${name}` })).status, 404, name);
      assert.equal((await inject(app, { url: `/docs/${name}` })).status, 404, name);
    }
    assert.equal((await inject(app, { url: '/docs/0.0.1/swagger-ui.css' })).status, 404);
    assert.equal((await inject(app, { url: '/docs/' })).status, 404);
  });

  it('refuses traversal however it is spelled, over a raw socket', async () => {
    const handle = await serve(app);
    try {
      const attempts = [
        '/docs/../package.json',
        `/docs/${version}/../../package.json`,
        '/docs/%2e%2e/package.json',
        '/docs/%2E%2E%2Fpackage.json',
        `/docs/${version}/..%2fpackage.json`,
        `/docs/${version}%2f..%2f..%2fpackage.json`,
        `/docs/${version}%2Fswagger-ui.css`,
        '/docs/..%5cpackage.json',
        `/docs/${version}/swagger-ui.css%00.map`,
        '/docs//etc/passwd',
        `/docs/${folder}/package.json`,
        `/docs/${encodeURIComponent(join(folder, 'package.json'))}`,
        '/docs/%2fetc%2fpasswd',
      ];
      for (const path of attempts) {
        const response = await raw(
          handle.port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        assert.match(response, /^HTTP\/1\.1 404 /, path);
        assert.equal(response.includes('"name": "swagger-ui-dist"'), false, path);
        assert.equal(response.includes('root:'), false, path);
      }
    } finally {
      await handle.close();
    }
  });

  it('escapes the title and the spec URL it puts in the page', async () => {
    const hostile = appWithDocs({
      title: '</title><script>alert(1)</script>',
      specUrl: '/openapi.json?a=1&b="><script>alert(2)</script>',
    });
    const page = (await inject(hostile, { url: '/docs' })).body;
    assert.equal(page.includes('<script>alert'), false);
    assert.match(page, /<title>&lt;\/title&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/title>/);
    assert.match(page, /data-spec-url="\/openapi\.json\?a=1&amp;b=&quot;&gt;&lt;script&gt;alert\(2\)/);
  });

  it('links its files relative to wherever it is mounted, however deep', async () => {
    const outer = new App({ logger: false });
    const api = new App();
    api.route('/reference', docsPage());
    outer.route('/api', api);
    const page = (await inject(outer, { url: '/api/reference' })).body;
    assert.match(page, /<title>API reference<\/title>/);
    assert.match(page, /data-spec-url="\/openapi\.json"/);
    for (const link of linksOf(page)) {
      assert.match(link, /^\.\/reference\//);
      const res = await inject(outer, { url: new URL(link, 'http://x/api/reference').pathname });
      assert.equal(res.status, 200, link);
    }
  });

  it('works under securityHeaders(): the page gets its CSP, and every file nosniff with its real type', async () => {
    const secured = new App({ logger: false });
    secured.use(securityHeaders());
    secured.route('/docs', docsPage());
    const page = await inject(secured, { url: '/docs' });
    assert.match(String(page.headers['content-security-policy']), /script-src 'self';/);
    for (const link of linksOf(page.body)) {
      const res = await inject(secured, { url: new URL(link, 'http://x/docs').pathname });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', link);
      assert.match(String(res.headers['content-type']), /^(text\/(css|javascript)|image\/png)/, link);
    }
  });

  it('refuses a spec URL with spaces or control characters, a title that is not a string, and bad options', () => {
    for (const specUrl of ['', '/open api.json', '/openapi.json\n', '\u0000', 42]) {
      assert.throws(() => docsPage({ specUrl: specUrl as string }), { code: 'WEIR_ERR_INVALID_OPTION' });
    }
    assert.throws(() => docsPage({ title: 7 as unknown as string }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => docsPage(null as unknown as undefined), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});

describe('docsPage() without its renderer', () => {
  let base: string;

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'weir-docs-page-'));
    mkdirSync(join(base, 'bare'));
    const partial = join(base, 'partial', 'node_modules', 'swagger-ui-dist');
    mkdirSync(partial, { recursive: true });
    writeFileSync(
      join(partial, 'package.json'),
      JSON.stringify({ name: 'swagger-ui-dist', version: '5.0.0' }),
    );
    writeFileSync(join(partial, 'swagger-ui.css'), 'body{}');
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('throws WEIR_ERR_DOCS_RENDERER_MISSING saying how to install it, when it is not installed', () => {
    const from = pathToFileURL(join(base, 'bare', 'entry.js'));
    assert.throws(
      () => docsPageFrom(from, {}),
      (err: Error & { code?: string; cause?: unknown }) => {
        assert.equal(err.code, 'WEIR_ERR_DOCS_RENDERER_MISSING');
        assert.match(err.message, /swagger-ui-dist/);
        assert.match(err.message, /npm install swagger-ui-dist/);
        assert.equal((err.cause as { code?: string }).code, 'MODULE_NOT_FOUND');
        return true;
      },
    );
  });

  it('throws it naming the file, when the installed package lacks one the page loads', () => {
    const from = pathToFileURL(join(base, 'partial', 'entry.js'));
    assert.throws(() => docsPageFrom(from, {}), {
      code: 'WEIR_ERR_DOCS_RENDERER_MISSING',
      message: /without index\.css.*npm install swagger-ui-dist/,
    });
  });

  it('checks its options before looking for the renderer', () => {
    const from = pathToFileURL(join(base, 'bare', 'entry.js'));
    assert.throws(() => docsPageFrom(from, { title: 1 as unknown as string }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
  });
});
