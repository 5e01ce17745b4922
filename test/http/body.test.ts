import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, type ServerHandle } from 'weir';
import { inject } from 'weir/testing';
import { raw, request, serve } from '../helpers/http.ts';

function bodyApp(): App {
  const app = new App({ logger: false, bodyLimitBytes: 1024 });
  app.post('/json', async (ctx) => ({ got: await ctx.json() }));
  app.post('/text', (ctx) => ctx.text());
  app.post('/form', (ctx) => ctx.form());
  app.post('/big', { bodyLimitBytes: 4096 }, async (ctx) => ({ bytes: (await ctx.buffer()).length }));
  app.post('/twice', async (ctx) => {
    const a = await ctx.json();
    const b = await ctx.json();
    return { same: a === b, text: await ctx.text() };
  });
  app.post('/proto', async (ctx) => {
    await ctx.json();
    return { polluted: ({} as Record<string, unknown>).polluted === true };
  });
  return app;
}

type ErrorBody = { error: { code: string; message: string } };

describe('body parsing (in-process)', () => {
  it('parses JSON, text and urlencoded forms', async () => {
    const app = bodyApp();
    assert.deepEqual((await inject(app, { method: 'POST', url: '/json', body: { a: [1] } })).json(), {
      got: { a: [1] },
    });
    const text = await inject(app, { method: 'POST', url: '/text', body: 'plain words' });
    assert.equal(text.body, 'plain words');
    const form = await inject(app, {
      method: 'POST',
      url: '/form',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=x+y&a=2&__proto__=z',
    });
    assert.deepEqual(form.json(), { a: ['1', '2'], b: 'x y', ['__proto__']: 'z' });
  });

  it('accepts +json media types and returns the same parsed value on a second read', async () => {
    const app = bodyApp();
    const res = await inject(app, {
      method: 'POST',
      url: '/twice',
      headers: { 'content-type': 'application/merge-patch+json; charset=utf-8' },
      body: '{"x":1}',
    });
    assert.deepEqual(res.json(), { same: true, text: '{"x":1}' });
  });

  it('answers 400 WEIR_ERR_BODY_INVALID_JSON for malformed JSON, saying where, without echoing the body', async () => {
    const res = await inject(bodyApp(), {
      method: 'POST',
      url: '/json',
      headers: { 'content-type': 'application/json' },
      body: '{"password": "hunter2-secret" oops}',
    });
    assert.equal(res.status, 400);
    const body = res.json<ErrorBody>();
    assert.equal(body.error.code, 'WEIR_ERR_BODY_INVALID_JSON');
    assert.match(body.error.message, /not valid JSON \(at character \d+\)/);
    assert.doesNotMatch(res.body, /hunter2|oops/);
  });

  it('answers 400 WEIR_ERR_BODY_EMPTY for an empty JSON body', async () => {
    const res = await inject(bodyApp(), {
      method: 'POST',
      url: '/json',
      headers: { 'content-type': 'application/json' },
      body: '',
    });
    assert.equal(res.status, 400);
    assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_BODY_EMPTY');
  });

  it('refuses prototype-poisoning keys and leaves Object.prototype untouched', async () => {
    for (const payload of [
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
    ]) {
      const res = await inject(bodyApp(), {
        method: 'POST',
        url: '/proto',
        headers: { 'content-type': 'application/json' },
        body: payload,
      });
      assert.equal(res.status, 400, payload);
      assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_BODY_FORBIDDEN_KEY');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }
  });

  it('answers 415 for a wrong or missing Content-Type, and for a non-UTF-8 charset', async () => {
    const app = bodyApp();
    const cases: Record<string, string>[] = [
      { 'content-type': 'text/plain' },
      {},
      { 'content-type': 'application/json; charset=latin1' },
    ];
    for (const headers of cases) {
      const res = await inject(app, { method: 'POST', url: '/json', headers, body: '{}' });
      assert.equal(res.status, 415, JSON.stringify(headers));
      assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE');
    }
    const form = await inject(app, {
      method: 'POST',
      url: '/form',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(form.status, 415);
  });

  it('answers 415 for a compressed body', async () => {
    const res = await inject(bodyApp(), {
      method: 'POST',
      url: '/json',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: '{}',
    });
    assert.equal(res.status, 415);
  });

  it('answers 413 past the app limit, and honours a per-route limit', async () => {
    const app = bodyApp();
    const big = 'x'.repeat(2000);
    const res = await inject(app, { method: 'POST', url: '/text', body: big });
    assert.equal(res.status, 413);
    assert.equal(res.headers.connection, 'close');
    assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_BODY_TOO_LARGE');
    assert.deepEqual((await inject(app, { method: 'POST', url: '/big', body: big })).json(), { bytes: 2000 });
    assert.equal((await inject(app, { method: 'POST', url: '/big', body: 'x'.repeat(5000) })).status, 413);
  });
});

describe('body limits over a real socket', () => {
  let handle: ServerHandle;
  before(async () => {
    handle = await serve(bodyApp());
  });
  after(() => handle.close());

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    // The head announces 10 MB and no body follows: the answer must come without waiting for it.
    const response = await raw(
      handle.port,
      'POST /text HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10000000\r\n\r\n',
    );
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /WEIR_ERR_BODY_TOO_LARGE/);
  });

  it('refuses a chunked body once it passes the limit while streaming', async () => {
    const chunk = `${(600).toString(16)}\r\n${'y'.repeat(600)}\r\n`;
    // Two 600-byte chunks pass 1024; the terminating chunk is never sent.
    const response = await raw(
      handle.port,
      `POST /text HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}`,
    );
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /connection: close/i);
  });

  it('accepts a body at the limit over the wire', async () => {
    const res = await request(handle, {
      method: 'POST',
      path: '/text',
      headers: { 'content-type': 'text/plain' },
      body: 'z'.repeat(1024),
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 1024);
  });
});

describe('JSON nesting limit and serialisation failures', () => {
  const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const echo = (options: ConstructorParameters<typeof App>[0] = {}): App => {
    const app = new App({ logger: false, ...options });
    app.post('/echo', async (ctx) => ctx.json());
    app.post('/deep', { maxJsonDepth: 200 }, async (ctx) => ({ ok: Array.isArray(await ctx.json()) }));
    return app;
  };
  const post = (app: App, url: string, body: string) =>
    inject(app, { method: 'POST', url, headers: { 'content-type': 'application/json' }, body });

  it('answers 400 WEIR_ERR_BODY_TOO_DEEP to a 5,000-deep array instead of a 500 on the way out', async () => {
    const res = await post(echo(), '/echo', nested(5000));
    assert.equal(res.status, 400);
    assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_BODY_TOO_DEEP');
  });

  it('accepts exactly 64 levels by default, refuses 65, and counts no bracket inside a string', async () => {
    assert.equal((await post(echo(), '/echo', nested(64))).status, 200);
    assert.equal((await post(echo(), '/echo', nested(65))).status, 400);
    const inString = JSON.stringify({ s: '['.repeat(500) });
    assert.equal((await post(echo(), '/echo', inString)).status, 200);
    const escaped = JSON.stringify({ s: `\\"${'['.repeat(100)}` });
    assert.equal((await post(echo(), '/echo', escaped)).status, 200);
  });

  it('takes maxJsonDepth per app and per route', async () => {
    assert.equal((await post(echo({ maxJsonDepth: 3 }), '/echo', nested(4))).status, 400);
    assert.equal((await post(echo(), '/deep', nested(150))).status, 200);
    assert.throws(() => new App({ maxJsonDepth: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('makes a response that cannot be serialised a logged 500, and the server keeps answering', async () => {
    const errors: unknown[] = [];
    const log = { error: (o: unknown) => errors.push(o), warn() {}, info() {}, debug() {} };
    const app = new App({ logger: log });
    // A getter that reads itself overflows the stack inside JSON.stringify on every Node line. (A deeply
    // nested array no longer does: Node 26 serialises 200,000 levels.)
    const recursive = {
      get self(): unknown {
        return recursive.self;
      },
    };
    app.get('/recursive', () => recursive);
    app.get('/bigint', () => ({ n: 1n }));
    app.get('/ok', () => 'ok');
    const handle = await serve(app);
    try {
      for (const path of ['/recursive', '/bigint']) {
        const res = await request(handle, { path });
        assert.equal(res.status, 500, path);
        assert.equal(JSON.parse(res.body).error.code, 'WEIR_ERR_INTERNAL');
      }
      assert.equal(errors.length, 2);
      assert.equal((await request(handle, { path: '/ok' })).body, 'ok');
    } finally {
      await handle.close();
    }
  });
});
