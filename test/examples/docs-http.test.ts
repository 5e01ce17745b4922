/**
 * docs/http.md: each example behaves as the guide says. The examples' own tests (examples/docs/http/
 * testing.ts) register at import and run in this file.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inject } from 'weir/testing';
import { app as bodies } from '../../examples/docs/http/bodies.ts';
import { app as caching } from '../../examples/docs/http/caching.ts';
import { app as cookies } from '../../examples/docs/http/cookies.ts';
import { app as errors } from '../../examples/docs/http/errors.ts';
import { app as middleware } from '../../examples/docs/http/middleware.ts';
import { app as proxy } from '../../examples/docs/http/proxy.ts';
import { app as returns } from '../../examples/docs/http/returns.ts';
import { app as routes } from '../../examples/docs/http/routes.ts';
import { app as statics } from '../../examples/docs/http/static.ts';
import '../../examples/docs/http/testing.ts';
import { request } from '../helpers/http.ts';
import { spawnTs } from '../helpers/process.ts';

type ErrorBody = { error: { code: string; message: string; details?: unknown } };
const codeOf = (res: { json<T>(): T }) => res.json<ErrorBody>().error.code;

describe('docs/http.md', () => {
  it('proxy: ctx.ip and ctx.protocol believe X-Forwarded-* only from the trusted proxies', async () => {
    const headers = { 'x-forwarded-for': '198.51.100.1, 203.0.113.7', 'x-forwarded-proto': 'https' };
    const viaNginx = await inject(proxy, { url: '/whoami', headers, remoteAddress: '127.0.0.1' });
    assert.deepEqual(viaNginx.json(), { ip: '203.0.113.7', protocol: 'https' });
    const direct = await inject(proxy, { url: '/whoami', headers, remoteAddress: '192.0.2.50' });
    assert.deepEqual(direct.json(), { ip: '192.0.2.50', protocol: 'http' });
  });

  it('routes: typed params arrive decoded, optional and wildcard params, query lists, mounted apps', async () => {
    assert.equal((await inject(routes, { url: '/' })).body, 'Hello, World');
    assert.deepEqual((await inject(routes, { url: '/users/a%20b' })).json(), { id: 'a b' });
    assert.equal((await inject(routes, { url: '/docs' })).body, 'page index');
    assert.equal((await inject(routes, { url: '/docs/intro' })).body, 'page intro');
    assert.equal((await inject(routes, { url: '/files/a/b.txt' })).body, 'file a/b.txt');
    assert.deepEqual((await inject(routes, { url: '/search?tag=a&tag=b' })).json(), {
      limit: '20',
      tags: ['a', 'b'],
    });
    assert.deepEqual((await inject(routes, { url: '/admin/stats' })).json(), { users: 3 });
    const missing = await inject(routes, { url: '/nope' });
    assert.equal(missing.status, 404);
    assert.equal(codeOf(missing), 'WEIR_ERR_NOT_FOUND');
    const wrongMethod = await inject(routes, { method: 'DELETE', url: '/users/1' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(codeOf(wrongMethod), 'WEIR_ERR_METHOD_NOT_ALLOWED');
    assert.equal(wrongMethod.headers.allow, 'GET, HEAD, OPTIONS');
    const head = await inject(routes, { method: 'HEAD', url: '/users/1' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    const options = await inject(routes, { method: 'OPTIONS', url: '/users/1' });
    assert.equal(options.status, 204);
    assert.equal(options.headers.allow, 'GET, HEAD, OPTIONS');
  });

  it('returns: each kind of value gets its status and content type', async () => {
    const expect = async (url: string, status: number, type: string | undefined, body: string) => {
      const res = await inject(returns, { url });
      assert.equal(res.status, status, url);
      assert.equal(res.headers['content-type'], type, url);
      assert.equal(res.body, body, url);
      return res;
    };
    await expect('/text', 200, 'text/plain; charset=utf-8', 'plain text');
    await expect('/object', 200, 'application/json', '{"ok":true}');
    await expect('/bytes', 200, 'application/octet-stream', '\x01\x02\x03');
    await expect('/nothing', 204, undefined, '');
    assert.equal(
      (await expect('/teapot', 418, 'text/plain; charset=utf-8', 'short and stout')).headers['x-kind'],
      'teapot',
    );
    assert.equal((await expect('/old', 301, undefined, '')).headers.location, '/text');
    const lines = await expect('/lines', 200, 'text/plain', 'a\nb\n');
    assert.equal(lines.headers['transfer-encoding'], 'chunked');
    assert.equal(
      (await expect('/web', 200, 'text/plain;charset=UTF-8', 'from a web Response')).headers['x-web'],
      'yes',
    );
    const created = await inject(returns, { method: 'POST', url: '/items' });
    assert.equal(created.status, 201);
    assert.deepEqual(created.json(), { id: 1 });
    const queued = await inject(returns, { method: 'PUT', url: '/items/9' });
    assert.equal(queued.status, 202);
    assert.equal(queued.headers['x-queued'], 'yes');
    assert.deepEqual(queued.json(), { queued: '9' });
  });

  it('middleware: the outer one sees every outcome, 404s included; the guard validates and types state', async () => {
    const ok = await inject(middleware, { url: '/tenant', headers: { 'x-tenant': 'acme' } });
    assert.deepEqual(ok.json(), { tenant: 'acme' });
    assert.match(String(ok.headers['server-timing']), /^app;dur=\d+\.\d$/);
    for (const hostile of ['ACME', 'a'.repeat(33), 'acme\u0100', '']) {
      const refused = await inject(middleware, { url: '/tenant', headers: { 'x-tenant': hostile } });
      assert.equal(refused.status, 400, hostile);
      assert.deepEqual(refused.json<ErrorBody>().error.details, { field: 'x-tenant' });
    }
    assert.equal((await inject(middleware, { url: '/tenant' })).status, 400);
    const missing = await inject(middleware, { url: '/nope' });
    assert.equal(missing.status, 404);
    assert.match(String(missing.headers['server-timing']), /^app;dur=/);
  });

  it('errors: HttpErrors answer their status, code and details; anything else a 500 that leaks nothing', async () => {
    const bad = await inject(errors, { url: '/orders/x' });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json(), {
      error: { code: 'BAD_REQUEST', message: 'id must be a number', details: { field: 'id' } },
    });
    const missing = await inject(errors, { url: '/orders/12' });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), { error: { code: 'ORDER_NOT_FOUND', message: 'No order 12' } });
    const down = await inject(errors, { url: '/maintenance' });
    assert.equal(down.status, 503);
    assert.equal(down.headers['retry-after'], '120');
    const bug = await inject(errors, { url: '/bug' });
    assert.equal(bug.status, 500);
    assert.equal(
      bug.body,
      `{"error":{"code":"WEIR_ERR_INTERNAL","message":"Internal Server Error","requestId":"${bug.headers['x-request-id']}"}}`,
    );
  });

  it('bodies: valid JSON is read; hostile bodies get their 4xx', async () => {
    const post = (url: string, body: unknown, type = 'application/json') =>
      inject(bodies, { method: 'POST', url, body, headers: { 'content-type': type } });
    const ok = await post('/greetings', { name: 'Ada' });
    assert.equal(ok.status, 201);
    assert.deepEqual(ok.json(), { greeting: 'Hello, Ada' });
    for (const body of ['null', '[1]', '"Ada"', '{"name":3}', JSON.stringify({ name: 'x'.repeat(101) })]) {
      const res = await post('/greetings', body);
      assert.equal(res.status, 400, body);
      assert.deepEqual(res.json<ErrorBody>().error.details, { field: 'name' }, body);
    }
    assert.equal(codeOf(await post('/greetings', '{"name":')), 'WEIR_ERR_BODY_INVALID_JSON');
    assert.equal(codeOf(await post('/greetings', '{"__proto__":{"x":1}}')), 'WEIR_ERR_BODY_FORBIDDEN_KEY');
    const deep = await post('/greetings', `${'['.repeat(65)}${']'.repeat(65)}`);
    assert.equal(codeOf(deep), 'WEIR_ERR_BODY_TOO_DEEP');
    const wrongType = await post('/greetings', 'Ada', 'text/plain');
    assert.equal(wrongType.status, 415);
    const tooLarge = await post('/greetings', JSON.stringify({ name: 'x'.repeat(64 * 1024) }));
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.headers.connection, 'close');
    assert.equal((await post('/notes', 'x'.repeat(256), 'text/plain')).status, 200);
    assert.equal(codeOf(await post('/notes', 'x'.repeat(257), 'text/plain')), 'WEIR_ERR_BODY_TOO_LARGE');
    const form = await post(
      '/subscribe',
      'topic=a&topic=b&email=ada%40example.com',
      'application/x-www-form-urlencoded',
    );
    assert.deepEqual(form.json(), { topic: ['a', 'b'], email: 'ada@example.com' });
  });

  it('cookies: safe defaults, signed values verify, tampered ones do not, and clearing expires them', async () => {
    const set = await inject(cookies, { method: 'POST', url: '/prefs' });
    const lines = set.headers['set-cookie'] as string[];
    assert.equal(lines[0], 'theme=dark; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax');
    assert.match(lines[1]!, /^account=acct-42\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax$/);
    const jar = lines.map((line) => line.split(';')[0]).join('; ');
    assert.deepEqual((await inject(cookies, { url: '/prefs', headers: { cookie: jar } })).json(), {
      theme: 'dark',
      account: 'acct-42',
    });
    for (const forged of [
      jar.replace('acct-42', 'acct-43'),
      'account=acct-42',
      'account=acct-42.',
      'account=%ZZ',
    ]) {
      const res = await inject(cookies, { url: '/prefs', headers: { cookie: forged } });
      assert.equal(res.json<{ account: unknown }>().account, null, forged);
    }
    const cleared = await inject(cookies, { method: 'DELETE', url: '/prefs' });
    for (const line of cleared.headers['set-cookie'] as string[]) assert.match(line, /=; Max-Age=0; /);
  });

  it('static files: validators and 304, ranges, cache lifetime; no way out of the folder', async () => {
    const file = await inject(statics, { url: '/assets/hello.txt' });
    assert.equal(file.body, 'Hello from a static file.\n');
    assert.equal(file.headers['cache-control'], 'public, max-age=300');
    assert.ok(file.headers['last-modified']);
    const again = await inject(statics, {
      url: '/assets/hello.txt',
      headers: { 'if-none-match': String(file.headers.etag) },
    });
    assert.equal(again.status, 304);
    const range = await inject(statics, { url: '/assets/hello.txt', headers: { range: 'bytes=0-4' } });
    assert.equal(range.status, 206);
    assert.equal(range.body, 'Hello');
    const past = await inject(statics, { url: '/assets/hello.txt', headers: { range: 'bytes=999-' } });
    assert.equal(codeOf(past), 'WEIR_ERR_RANGE_NOT_SATISFIABLE');
    for (const url of ['/assets/..%2fstatic.ts', '/assets/..%5cstatic.ts', '/assets/hello.txt%00']) {
      assert.equal(codeOf(await inject(statics, { url })), 'WEIR_ERR_FORBIDDEN_PATH', url);
    }
    assert.equal((await inject(statics, { url: '/assets/.env' })).status, 404);
  });

  it('caching: Cache-Control as configured, an ETag, and 304 for a matching If-None-Match', async () => {
    const catalog = await inject(caching, { url: '/catalog' });
    assert.equal(catalog.headers['cache-control'], 'public, max-age=60, stale-while-revalidate=300');
    assert.match(String(catalog.headers.etag), /^W\/"/);
    const again = await inject(caching, {
      url: '/catalog',
      headers: { 'if-none-match': String(catalog.headers.etag) },
    });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.equal(again.headers['cache-control'], catalog.headers['cache-control']);
    assert.equal((await inject(caching, { url: '/account' })).headers['cache-control'], 'private, no-cache');
    assert.equal((await inject(caching, { url: '/nope' })).headers['cache-control'], undefined);
  });

  it('server: loaded by an inspector it binds nothing; its route deadline answers 503', async () => {
    const kInspect = Symbol.for('weir.inspect');
    const holder = globalThis as { [kInspect]?: { bind: boolean; apps: unknown[] } };
    holder[kInspect] = { bind: false, apps: [] };
    try {
      const { app } = await import('../../examples/docs/http/server.ts');
      assert.deepEqual(holder[kInspect].apps, [app]);
      const late = await inject(app, { url: '/report' });
      assert.equal(late.status, 503);
      assert.equal(codeOf(late), 'WEIR_ERR_REQUEST_TIMEOUT');
    } finally {
      delete holder[kInspect];
    }
  });

  it('server: serves, and on SIGTERM drains, runs its onStop hook and exits 0', async () => {
    const server = spawnTs(new URL('../../examples/docs/http/server.ts', import.meta.url), {
      PORT: '0',
      LOG_LEVEL: 'info',
    });
    try {
      const [, url] = await server.waitFor(/"url":"(http:\/\/[^"]+)","msg":"listening"/);
      const port = Number(new URL(url!).port);
      assert.equal((await request({ port }, { path: '/' })).body, 'ok');
      server.child.kill('SIGTERM');
      assert.equal(await server.exited(), 0);
      const log = server.output();
      const closing = log.indexOf('closing what the app opened');
      assert.ok(closing !== -1 && closing < log.indexOf('"msg":"stopped"'), log);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
