import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { inject } from 'weir/testing';
import { serializeCookie, signCookie, unsignCookie } from '../../src/http/cookies.ts';

const SECRET = 'a-secret-of-at-least-16-chars';
const OLD_SECRET = 'the-previous-secret-value';

describe('cookies', () => {
  it('parses request cookies lazily, first value wins', async () => {
    const app = new App({ logger: false });
    app.get('/', (ctx) => ({ ...ctx.cookies }));
    const res = await inject(app, { headers: { cookie: 'a=1; b=hello%20there; a=2' } });
    assert.deepEqual(res.json(), { a: '1', b: 'hello there' });
  });

  it('sets cookies with secure defaults and explicit options', async () => {
    const app = new App({ logger: false });
    app.get('/', (ctx) => {
      ctx.cookie('plain', 'v');
      ctx.cookie('strict', 'w', { sameSite: 'strict', secure: true, maxAgeSeconds: 60, httpOnly: false });
      ctx.clearCookie('gone');
    });
    const res = await inject(app, {});
    const cookies = res.headers['set-cookie'] as string[];
    assert.equal(cookies[0], 'plain=v; Path=/; HttpOnly; SameSite=Lax');
    assert.equal(cookies[1], 'strict=w; Max-Age=60; Path=/; Secure; SameSite=Strict');
    assert.match(
      cookies[2]!,
      /^gone=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/,
    );
  });

  it('signs cookies and reads them back; tampering is detected', async () => {
    const app = new App({ logger: false, cookieSecrets: [SECRET] });
    app.get('/set', (ctx) => {
      ctx.cookie('session', 'user-42', { signed: true });
    });
    app.get('/get', (ctx) => ({ session: ctx.signedCookie('session') ?? null }));
    const set = await inject(app, { url: '/set' });
    const pair = (set.headers['set-cookie'] as string[])[0]!.split(';')[0]!;
    assert.match(pair, /^session=user-42\.[\w-]{43}$/);
    assert.deepEqual((await inject(app, { url: '/get', headers: { cookie: pair } })).json(), {
      session: 'user-42',
    });

    const forged = pair.replace('user-42', 'user-1');
    assert.deepEqual((await inject(app, { url: '/get', headers: { cookie: forged } })).json(), {
      session: null,
    });
    const flipped = `${pair.slice(0, -1)}${pair.endsWith('A') ? 'B' : 'A'}`;
    assert.deepEqual((await inject(app, { url: '/get', headers: { cookie: flipped } })).json(), {
      session: null,
    });
    const unsigned = 'session=user-42';
    assert.deepEqual((await inject(app, { url: '/get', headers: { cookie: unsigned } })).json(), {
      session: null,
    });
  });

  it('binds the signature to the cookie name', () => {
    const signed = signCookie('role', 'admin', SECRET);
    assert.equal(unsignCookie('role', signed, [SECRET]), 'admin');
    assert.equal(unsignCookie('other', signed, [SECRET]), undefined);
  });

  it('rotates keys: signs with the first secret, verifies with any', () => {
    const old = signCookie('s', 'v', OLD_SECRET);
    assert.equal(unsignCookie('s', old, [SECRET, OLD_SECRET]), 'v');
    assert.equal(unsignCookie('s', old, [SECRET]), undefined);
    assert.equal(signCookie('s', 'v', SECRET), `v.${signCookie('s', 'v', SECRET).split('.')[1]}`);
  });

  it('refuses short secrets at construction and signing without secrets at use', async () => {
    assert.throws(() => new App({ cookieSecrets: 'short' }), { code: 'WEIR_ERR_INVALID_OPTION' });
    const app = new App({ logger: false });
    app.get('/', (ctx) => {
      ctx.cookie('s', 'v', { signed: true });
    });
    assert.equal((await inject(app, {})).status, 500);
  });

  it('signs and verifies an empty value', () => {
    const signed = signCookie('flag', '', SECRET);
    assert.match(signed, /^\.[\w-]{43}$/);
    assert.equal(unsignCookie('flag', signed, [SECRET]), '');
  });

  it('never verifies a value with a lone surrogate, which would share the signature of U+FFFD', () => {
    const signed = signCookie('s', 'a\uFFFD', SECRET);
    assert.equal(unsignCookie('s', signed, [SECRET]), 'a\uFFFD');
    assert.equal(unsignCookie('s', `a\uD800${signed.slice(2)}`, [SECRET]), undefined);
    assert.equal(unsignCookie('s', `a\uDC00${signed.slice(2)}`, [SECRET]), undefined);
  });

  it('refuses a bad name, path, domain or unencodable value with WEIR_ERR_INVALID_OPTION, never quoting the value', () => {
    const bad: [string, string, Parameters<typeof serializeCookie>[2]][] = [
      ['a b', 'v', undefined],
      ['', 'v', undefined],
      ['a', 'x', { path: '/a;b' }],
      ['a', 'x', { path: '/a\r\nSet-Cookie: evil=1' }],
      ['a', 'x', { domain: 'ex ample.com' }],
      ['a', 'x', { expires: new Date(Number.NaN) }],
      ['a', 'x', { sameSite: 'bogus' as 'lax' }],
    ];
    for (const [name, value, options] of bad) {
      assert.throws(
        () => serializeCookie(name, value, options, []),
        { code: 'WEIR_ERR_INVALID_OPTION' },
        name,
      );
    }
    assert.throws(
      () => serializeCookie('token', 'secret-\uD800', undefined, []),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'WEIR_ERR_INVALID_OPTION');
        assert.match(err.message, /^Cookie "token" cannot be set: its value has a lone surrogate/);
        assert.equal(err.message.includes('secret'), false);
        return true;
      },
    );
  });
});
