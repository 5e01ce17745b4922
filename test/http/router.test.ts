import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { inject } from 'weir/testing';
import { Router } from '../../src/http/router.ts';
import { raw } from '../helpers/http.ts';

function quiet(): App {
  return new App({ logger: false });
}

describe('Router', () => {
  it('finds static paths and shares one match object across lookups', () => {
    const router = new Router<string>();
    router.add('GET', '/a/b', 'ab');
    router.seal();
    const first = router.find('/a/b');
    assert.equal(first?.entry.methods.get('GET'), 'ab');
    assert.equal(router.find('/a/b'), first);
    assert.equal(router.find('/a'), undefined);
    assert.equal(router.find('/a/b/'), undefined);
  });

  it('matches params, prefers static segments and backtracks', () => {
    const router = new Router<string>();
    router.add('GET', '/users/me', 'me');
    router.add('GET', '/users/:id', 'user');
    router.add('GET', '/users/:id/posts/:post', 'post');
    router.add('GET', '/users/me/posts/:post', 'mypost');
    router.add('GET', '/files/*', 'files');
    router.seal();
    assert.equal(router.find('/users/me')?.entry.methods.get('GET'), 'me');
    assert.deepEqual({ ...router.find('/users/42')?.params }, { id: '42' });
    assert.deepEqual({ ...router.find('/users/42/posts/7')?.params }, { id: '42', post: '7' });
    assert.equal(router.find('/users/me/posts/7')?.entry.methods.get('GET'), 'mypost');
    assert.deepEqual({ ...router.find('/files/a/b.txt')?.params }, { '*': 'a/b.txt' });
    assert.deepEqual({ ...router.find('/files/')?.params }, { '*': '' });
    assert.equal(router.find('/files'), undefined);
    assert.equal(router.find('/users/'), undefined);
  });

  it('registers an optional last param as two paths', () => {
    const router = new Router<string>();
    router.add('GET', '/posts/:id?', 'posts');
    router.seal();
    assert.equal(router.find('/posts')?.entry.methods.get('GET'), 'posts');
    assert.deepEqual({ ...router.find('/posts/9')?.params }, { id: '9' });
  });

  it('refuses malformed and conflicting paths with a typed error', () => {
    const router = new Router<string>();
    assert.throws(() => router.add('GET', 'no-slash', 'x'), { code: 'WEIR_ERR_ROUTE_INVALID' });
    assert.throws(() => router.add('GET', '/a/*/b', 'x'), { code: 'WEIR_ERR_ROUTE_INVALID' });
    assert.throws(() => router.add('GET', '/a/:x/:x', 'x'), { code: 'WEIR_ERR_ROUTE_INVALID' });
    assert.throws(() => router.add('GET', '/a/:1bad', 'x'), { code: 'WEIR_ERR_ROUTE_INVALID' });
    assert.throws(() => router.add('GET', '/a/:__proto__', 'x'), { code: 'WEIR_ERR_ROUTE_INVALID' });
    router.add('GET', '/a/:id', 'x');
    assert.throws(() => router.add('GET', '/a/:id', 'y'), { code: 'WEIR_ERR_ROUTE_CONFLICT' });
    assert.throws(() => router.add('GET', '/a/:other/x', 'y'), { code: 'WEIR_ERR_ROUTE_INVALID' });
  });
});

describe('App routing', () => {
  it('answers 404 with a JSON error for an unknown path', async () => {
    const app = quiet();
    app.get('/here', () => 'here');
    const res = await inject(app, { url: '/there' });
    assert.equal(res.status, 404);
    assert.deepEqual(res.json(), {
      error: { code: 'WEIR_ERR_NOT_FOUND', message: 'No route for GET /there' },
    });
  });

  it('answers 405 with Allow for a known path and the wrong method', async () => {
    const app = quiet();
    app.get('/thing', () => 'got');
    app.put('/thing', () => 'put');
    const res = await inject(app, { method: 'DELETE', url: '/thing' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, 'GET, PUT, HEAD, OPTIONS');
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_METHOD_NOT_ALLOWED');
  });

  it('serves HEAD from GET routes with headers and no body', async () => {
    const app = quiet();
    app.get('/doc', () => 'twelve bytes');
    const res = await inject(app, { method: 'HEAD', url: '/doc' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '12');
    assert.equal(res.body, '');
  });

  it('answers OPTIONS with 204 and Allow when no OPTIONS route exists', async () => {
    const app = quiet();
    app.post('/form', () => 'ok');
    const res = await inject(app, { method: 'OPTIONS', url: '/form' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.allow, 'POST, OPTIONS');
  });

  it('routes all() for every method, after the specific ones', async () => {
    const app = quiet();
    app.get('/any', () => 'get');
    app.all('/any', (ctx) => `all ${ctx.method}`);
    assert.equal((await inject(app, { url: '/any' })).body, 'get');
    assert.equal((await inject(app, { method: 'PATCH', url: '/any' })).body, 'all PATCH');
  });

  it('decodes params and answers 400 for malformed percent-encoding', async () => {
    const app = quiet();
    app.get('/hello/:name', (ctx) => ctx.params.name);
    assert.equal((await inject(app, { url: '/hello/J%C3%BCrgen%20K' })).body, 'Jürgen K');
    const bad = await inject(app, { url: '/hello/%E0%A4%A' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_BAD_REQUEST');
  });

  it('mounts sub-apps under a prefix with both apps’ middleware in order', async () => {
    const order: string[] = [];
    const api = quiet();
    api.use(async (_ctx, next) => {
      order.push('api');
      await next();
    });
    api.get('/', () => 'api root');
    api.get('/users/:id', (ctx) => ({ id: ctx.params.id }));
    const app = quiet();
    app.use(async (_ctx, next) => {
      order.push('root');
      await next();
    });
    app.route('/api', api);
    assert.deepEqual((await inject(app, { url: '/api/users/7' })).json(), { id: '7' });
    assert.equal((await inject(app, { url: '/api' })).body, 'api root');
    assert.deepEqual(order, ['root', 'api', 'root', 'api']);
    assert.deepEqual(app.routes(), ['GET /api', 'GET /api/users/:id']);
  });

  it('freezes at start: adding a route afterwards throws WEIR_ERR_APP_FROZEN', async () => {
    const app = quiet();
    app.get('/', () => 'x');
    await inject(app, { url: '/' });
    assert.throws(() => app.get('/late', () => 'late'), { code: 'WEIR_ERR_APP_FROZEN' });
    assert.throws(() => app.use(async (_c, n) => n()), { code: 'WEIR_ERR_APP_FROZEN' });
  });

  it('validates route arguments when they are registered', () => {
    const app = quiet();
    assert.throws(() => app.get('/x', { timeoutMs: -1 }, () => 'x'), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => app.get('/x', { bodyLimitBytes: 1.5 }, () => 'x'), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
    assert.throws(() => app.route('/api/', quiet()), { code: 'WEIR_ERR_INVALID_OPTION' });
    // @ts-expect-error a handler is required
    assert.throws(() => app.get('/x'), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('accepts absolute-form request targets; OPTIONS * gets the Allow of the whole app, other targets 400', async () => {
    const app = quiet();
    app.get('/a/:id', (ctx) => ({ id: ctx.params.id, q: ctx.query.q ?? null }));
    const handle = await app.listen({ port: 0, signals: false });
    try {
      const response = await raw(
        handle.port,
        'GET http://example.test/a/7?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n',
      );
      assert.match(response, /^HTTP\/1\.1 200 /);
      assert.match(response, /\{"id":"7","q":"1"\}/);
      const star = await raw(handle.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(star, /^HTTP\/1\.1 204 /);
      assert.match(star, /\r\nallow: GET, HEAD, OPTIONS\r\n/i);
      const getStar = await raw(handle.port, 'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(getStar, /^HTTP\/1\.1 400 /);
      assert.match(getStar, /"code":"WEIR_ERR_BAD_REQUEST".*only valid with OPTIONS/);
      assert.doesNotMatch(getStar, /\\u0000/);
      const odd = await raw(handle.port, 'GET ftp:x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(odd, /^HTTP\/1\.1 400 /);
    } finally {
      await handle.close();
    }
  });
});
