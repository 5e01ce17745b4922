import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { cors } from 'weir/security';
import { inject } from 'weir/testing';

const APP_ORIGIN = 'https://app.example';

function build(options: Parameters<typeof cors>[0]) {
  const app = new App();
  app.use(cors(options));
  let ran = 0;
  app.get('/items', () => {
    ran++;
    return [1];
  });
  app.delete('/items', () => undefined);
  return { app, ran: () => ran };
}

const preflight = (app: App, origin: string | undefined, method = 'DELETE', headers?: string) =>
  inject(app, {
    method: 'OPTIONS',
    url: '/items',
    headers: {
      ...(origin === undefined ? {} : { origin }),
      'access-control-request-method': method,
      ...(headers === undefined ? {} : { 'access-control-request-headers': headers }),
    },
  });

describe('cors()', () => {
  it('answers a preflight from an allowed origin with 204 and what it may send, without running a handler', async () => {
    const { app, ran } = build({ origin: [APP_ORIGIN], credentials: true, maxAgeSeconds: 300 });
    const res = await preflight(app, APP_ORIGIN, 'DELETE', 'content-type, x-trace-id');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP_ORIGIN);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, HEAD, POST, PUT, PATCH, DELETE');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-trace-id');
    assert.equal(res.headers['access-control-max-age'], '300');
    assert.equal(res.headers.vary, 'Origin');
    assert.equal(ran(), 0);
  });

  it('gives other origins no CORS headers at all, preflight or not, and still says Vary: Origin', async () => {
    const { app } = build({ origin: [APP_ORIGIN], credentials: true });
    for (const origin of ['https://evil.example', 'null', 'https://app.example.evil', 'http://app.example']) {
      const pre = await preflight(app, origin);
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], undefined, origin);
      assert.equal(pre.headers['access-control-allow-methods'], undefined);
      assert.equal(pre.headers.vary, 'Origin');
      const get = await inject(app, { url: '/items', headers: { origin } });
      assert.equal(get.status, 200);
      assert.equal(get.headers['access-control-allow-origin'], undefined);
      assert.equal(get.headers['access-control-allow-credentials'], undefined);
    }
    const sameOrigin = await inject(app, { url: '/items' });
    assert.equal(sameOrigin.headers.vary, 'Origin', 'a cache must not reuse it for a cross-origin request');
  });

  it('marks simple requests from allowed origins, exposing the listed headers', async () => {
    const { app } = build({ origin: (o) => o.endsWith('.app.example'), exposeHeaders: ['x-request-id'] });
    const res = await inject(app, { url: '/items', headers: { origin: 'https://eu.app.example' } });
    assert.equal(res.headers['access-control-allow-origin'], 'https://eu.app.example');
    assert.equal(res.headers['access-control-expose-headers'], 'x-request-id');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
  });

  it("answers '*' for any origin without credentials, and an explicit header list is not echoed", async () => {
    const { app } = build({ origin: '*', headers: ['content-type'] });
    const res = await preflight(app, 'https://anyone.example', 'POST', 'x-evil\r\nset-cookie: a=b');
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type');
    assert.equal(res.headers.vary, undefined);
    // Without a list, a malformed request header list is not echoed.
    const echo = build({ origin: '*' });
    const bad = await preflight(echo.app, 'https://anyone.example', 'POST', 'a b, <c>');
    assert.equal(bad.headers['access-control-allow-headers'], undefined);
  });

  it('keeps a Vary set before it, and lets OPTIONS without a preflight through', async () => {
    const app = new App();
    app.use(async (ctx, next) => {
      ctx.set('vary', 'Accept-Encoding');
      await next();
    });
    app.use(cors({ origin: APP_ORIGIN }));
    app.options('/x', () => ({ custom: true }));
    const res = await inject(app, { method: 'OPTIONS', url: '/x', headers: { origin: APP_ORIGIN } });
    assert.deepEqual(res.json(), { custom: true });
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
  });

  it('on a mounted app only: answers the preflights of its paths, and leaves the rest of the app alone', async () => {
    const app = new App();
    const api = new App();
    api.use(cors({ origin: APP_ORIGIN }));
    api.get('/me', () => ({ id: 1 }));
    app.route('/api', api);
    app.get('/page', () => 'page');
    const pre = await inject(app, {
      method: 'OPTIONS',
      url: '/api/me',
      headers: { origin: APP_ORIGIN, 'access-control-request-method': 'GET' },
    });
    assert.equal(pre.headers['access-control-allow-origin'], APP_ORIGIN);
    const wrongMethod = await inject(app, {
      method: 'POST',
      url: '/api/me',
      headers: { origin: APP_ORIGIN },
    });
    assert.equal(wrongMethod.status, 405);
    assert.equal(
      wrongMethod.headers['access-control-allow-origin'],
      APP_ORIGIN,
      'the 405 is readable by the page',
    );
    const page = await inject(app, { url: '/page', headers: { origin: APP_ORIGIN } });
    assert.equal(page.headers['access-control-allow-origin'], undefined);
    assert.equal(page.headers.vary, undefined);
  });

  it("refuses '*' with credentials and malformed options", () => {
    for (const bad of [
      { origin: '*', credentials: true },
      { origin: [] },
      { origin: ['https://a.example/'] },
      { origin: ['https://*.example'] },
      { origin: 'app.example' },
      { origin: APP_ORIGIN, methods: ['GET, POST'] },
      { origin: APP_ORIGIN, maxAgeSeconds: -1 },
    ]) {
      assert.throws(() => cors(bad as never), { code: 'WEIR_ERR_INVALID_OPTION' }, JSON.stringify(bad));
    }
  });
});
