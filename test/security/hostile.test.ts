/**
 * requireAuth() and session() against request-controlled and app-supplied values of the wrong shape: users,
 * roles and scopes that are not what the types say, session keys that name Object.prototype members.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { App } from 'weir';
import {
  type AuthUser,
  MemorySessionStore,
  requireAuth,
  type SessionCookieOptions,
  session,
  signJwt,
} from 'weir/security';
import { inject } from 'weir/testing';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';

type ErrorBody = { error: { code: string } };

const bearer = (app: App, url: string, token = 't') =>
  inject(app, { url, headers: { authorization: `Bearer ${token}` } });

describe('requireAuth() with users of the wrong shape', () => {
  it('grants a role or scope only by an exact entry of a list, never a substring of a string', async () => {
    // A string where a list belongs: what a token function passes on from an OAuth `scope` or a
    // hand-made claim. String.prototype.includes would find "admin" in "superadmin" and "read" in "unread".
    const loose = { id: 1, roles: 'superadmin', scopes: 'unread' } as unknown as AuthUser;
    const app = new App();
    app.get('/admin', requireAuth({ token: () => loose, roles: ['admin'] }), () => 'in');
    app.get('/read', requireAuth({ token: () => loose, scopes: ['read'] }), () => 'in');
    assert.equal((await bearer(app, '/admin')).status, 403);
    assert.equal((await bearer(app, '/read')).status, 403);
  });

  it('takes only the string entries of a JWT roles or scp list', async () => {
    const app = new App();
    app.get(
      '/admin',
      requireAuth({ jwt: { key: SECRET, algorithms: ['HS256'] }, roles: ['admin'] }),
      (ctx) => ctx.state.user,
    );
    const sign = (claims: Record<string, unknown>) => signJwt(claims, { key: SECRET, algorithm: 'HS256' });
    // [["admin"]] would become "admin" through String().
    assert.equal((await bearer(app, '/admin', await sign({ sub: 'a', roles: [['admin']] }))).status, 403);
    assert.equal((await bearer(app, '/admin', await sign({ sub: 'a', roles: 'admin' }))).status, 403);
    const ok = await bearer(app, '/admin', await sign({ sub: 'a', roles: ['admin', 7], scp: ['r', {}] }));
    assert.deepEqual(ok.json(), { id: 'a', scopes: ['r'], roles: ['admin'] });
    assert.equal((await bearer(app, '/admin', 'x')).json<ErrorBody>().error.code, 'WEIR_ERR_INVALID_TOKEN');
  });
});

describe('requireAuth() with what is not a user', () => {
  it('refuses false, null, 0, "", an array or an object without an id from a token function', async () => {
    // `return valid && user` and `rows[0] ?? {}` are common ways to write a lookup.
    for (const returned of [false, null, 0, '', [], {}, { id: null }, { name: 'no id' }]) {
      const app = new App();
      app.get('/me', requireAuth({ token: () => returned as unknown as AuthUser }), (ctx) => ({
        user: ctx.state.user,
      }));
      const res = await bearer(app, '/me');
      assert.equal(res.status, 401, JSON.stringify(returned));
      assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_INVALID_TOKEN');
    }
  });

  it('refuses a verified JWT whose user function answers null, and a session whose user is not one', async () => {
    const app = new App();
    app.use(session());
    app.post('/login', (ctx) => {
      ctx.session.set('user', false as unknown as AuthUser);
      return null;
    });
    app.get('/me', requireAuth(), (ctx) => ({ user: ctx.state.user }));
    const jwt = { key: SECRET, algorithms: ['HS256' as const], user: () => null as unknown as AuthUser };
    app.get('/api/me', requireAuth({ jwt, session: false }), (ctx) => ({ user: ctx.state.user }));
    const token = await signJwt({ sub: 'a' }, { key: SECRET, algorithm: 'HS256' });
    assert.equal((await bearer(app, '/api/me', token)).status, 401);
    const login = await inject(app, { method: 'POST', url: '/login' });
    const cookie = String((login.headers['set-cookie'] as string[])[0]).split(';')[0] as string;
    const me = await inject(app, { url: '/me', headers: { cookie } });
    assert.equal(me.status, 401);
    assert.equal(me.json<ErrorBody>().error.code, 'WEIR_ERR_UNAUTHENTICATED');
  });
});

describe('requireAuth() with a JWKS endpoint that cannot answer', () => {
  it('answers 503 with Retry-After, not 401 invalid_token, and checks tokens again once it answers', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' };
    let answer: 'error' | 'garbage' | 'keys' = 'error';
    const server = createServer((_req, res) => {
      if (answer === 'error') res.writeHead(502).end('bad gateway');
      else
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(answer === 'keys' ? JSON.stringify({ keys: [jwk] }) : '<html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const key = new URL(`http://127.0.0.1:${port}/jwks.json`);
    const app = new App();
    app.get('/api/me', requireAuth({ jwt: { key, algorithms: ['ES256'] } }), (ctx) => ctx.state.user);
    const token = await signJwt({ sub: 'carol' }, { key: privateKey, algorithm: 'ES256', keyId: 'k1' });
    try {
      for (const state of ['error', 'garbage'] as const) {
        answer = state;
        const res = await bearer(app, '/api/me', token);
        assert.equal(res.status, 503, state);
        assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_JWKS_UNAVAILABLE');
        assert.equal(res.headers['retry-after'], '1');
        assert.doesNotMatch(res.body, /127\.0\.0\.1|bad gateway/);
      }
      answer = 'keys';
      assert.deepEqual((await bearer(app, '/api/me', token)).json(), { id: 'carol' });
    } finally {
      server.close();
    }
    // Nothing listens there any more: the fetch itself fails.
    const gone = new App();
    gone.get('/api/me', requireAuth({ jwt: { key, algorithms: ['ES256'] } }), () => 'in');
    assert.equal((await bearer(gone, '/api/me', token)).status, 503);
  });
});

describe('requireAuth() challenges', () => {
  it('is a 500 naming the mistake, not a 401 with an empty challenge, when nothing could authenticate', async () => {
    // requireAuth() accepts the session by default, but session() does not wrap this route: no request
    // could ever pass, and a 401 would send clients to log in again and again.
    const app = new App();
    app.get('/me', requireAuth(), () => 'in');
    const res = await inject(app, { url: '/me' });
    assert.equal(res.status, 500);
    assert.equal(res.headers['www-authenticate'], undefined);
  });

  it('sends a Bearer insufficient_scope challenge only where bearer tokens are accepted', async () => {
    const app = new App();
    app.use(session());
    app.post('/login', async (ctx) => {
      await ctx.session.logIn({ id: 1, scopes: ['read'] });
      return null;
    });
    app.get('/write', requireAuth({ scopes: ['write'] }), () => 'in');
    const login = await inject(app, { method: 'POST', url: '/login' });
    const cookie = String((login.headers['set-cookie'] as string[])[0]).split(';')[0] as string;
    const res = await inject(app, { url: '/write', headers: { cookie } });
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
  });
});

describe('session data under keys that name Object.prototype members', () => {
  function prefsApp() {
    const store = new MemorySessionStore();
    const app = new App();
    app.use(session({ store }));
    // An app that stores a preference under a name the client picks.
    app.post('/prefs', (ctx) => {
      ctx.session.set(ctx.query.name as string, JSON.parse(ctx.query.value as string));
      return { user: ctx.session.user ?? null };
    });
    app.get('/prefs', (ctx) => ({ value: String(ctx.session.get(ctx.query.name as string) ?? 'unset') }));
    app.get('/me', requireAuth(), (ctx) => ctx.state.user);
    return { app, store };
  }

  it('stores __proto__ as a plain key: it never becomes the session prototype, nor its user', async () => {
    const { app } = prefsApp();
    const value = encodeURIComponent(JSON.stringify({ user: { id: 'admin', roles: ['admin'] } }));
    const res = await inject(app, { method: 'POST', url: `/prefs?name=__proto__&value=${value}` });
    assert.deepEqual(res.json(), { user: null });
    const cookie = String((res.headers['set-cookie'] as string[])[0]).split(';')[0] as string;
    assert.equal((await inject(app, { url: '/me', headers: { cookie } })).status, 401);
    const back = await inject(app, { url: '/prefs?name=__proto__', headers: { cookie } });
    assert.deepEqual(back.json(), { value: '[object Object]' });
    assert.equal(({} as { user?: unknown }).user, undefined, 'Object.prototype is untouched');
  });

  it('reads a stored __proto__ key back as data, not as the prototype', async () => {
    const { app, store } = prefsApp();
    const id = 'A'.repeat(43);
    await store.set(createHash('sha256').update(id).digest('base64url'), {
      data: '{"__proto__":{"user":{"id":"admin"}},"theme":"dark"}',
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
    });
    const cookie = `weir_session=${id}`;
    assert.equal((await inject(app, { url: '/me', headers: { cookie } })).status, 401);
    assert.deepEqual((await inject(app, { url: '/prefs?name=theme', headers: { cookie } })).json(), {
      value: 'dark',
    });
  });

  it('answers undefined for constructor, toString and hasOwnProperty, which no one set', async () => {
    const { app } = prefsApp();
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      assert.deepEqual((await inject(app, { url: `/prefs?name=${name}` })).json(), { value: 'unset' }, name);
    }
  });
});

describe('the session cookie as a client sends it', () => {
  it('reads the first of duplicate cookies, looks up only well-formed ids, and costs no read without one', async () => {
    let reads = 0;
    const store = new (class extends MemorySessionStore {
      override get(key: string) {
        reads++;
        return super.get(key);
      }
    })();
    const app = new App();
    app.use(session({ store }));
    app.post('/login', async (ctx) => {
      await ctx.session.logIn({ id: 1 });
      return null;
    });
    app.get('/me', requireAuth(), (ctx) => ctx.state.user);
    const login = await inject(app, { method: 'POST', url: '/login' });
    const id = String((login.headers['set-cookie'] as string[])[0])
      .split(';')[0]!
      .split('=')[1] as string;
    const me = (cookie?: string) =>
      inject(app, { url: '/me', headers: cookie === undefined ? {} : { cookie } });
    reads = 0;
    assert.equal((await me(`weir_session=${id}; weir_session=${'B'.repeat(43)}`)).status, 200);
    assert.equal((await me(`other=1; weir_session=${id}`)).status, 200);
    // The cookie library decodes %XX: the same id, spelled otherwise, is the same id.
    assert.equal((await me(`weir_session=%${id.charCodeAt(0).toString(16)}${id.slice(1)}`)).status, 200);
    assert.equal(reads, 3);
    reads = 0;
    for (const cookie of [
      undefined,
      '',
      'weir_session=',
      'weir_session',
      '=weir_session',
      `weir_session="${id}"`,
      `weir_session=${encodeURIComponent('é'.repeat(43))}`,
      `weir_session=${'\u00e9'.repeat(43)}`,
      `weir_session=${'A'.repeat(8000)}`,
      `WEIR_SESSION=${id}`,
      `weir_session =${id}x`,
      `__proto__=${id}; constructor=${id}`,
    ]) {
      assert.equal((await me(cookie)).status, 401, String(cookie).slice(0, 40));
    }
    assert.equal(reads, 0, 'no malformed id reached the store');
  });
});

describe('the cookie that clears a session', () => {
  function loginApp(cookie?: SessionCookieOptions) {
    const app = new App({ trustProxy: 1 });
    app.use(session({ cookie }));
    app.post('/login', async (ctx) => {
      await ctx.session.logIn({ id: 1 });
      return null;
    });
    app.post('/logout', async (ctx) => {
      await ctx.session.logOut();
      return null;
    });
    return app;
  }
  const lineOf = (res: { headers: Record<string, unknown> }) =>
    String((res.headers['set-cookie'] as string[] | undefined)?.[0]);

  it('has the attributes of the cookie it clears: no Secure over plain HTTP, where a browser would drop it', async () => {
    const app = loginApp();
    const login = await inject(app, { method: 'POST', url: '/login' });
    const cookie = lineOf(login).split(';')[0] as string;
    assert.doesNotMatch(lineOf(login), /Secure/);
    const out = await inject(app, { method: 'POST', url: '/logout', headers: { cookie } });
    assert.match(lineOf(out), /^weir_session=; Max-Age=0;/);
    assert.doesNotMatch(lineOf(out), /Secure/);
    const stale = await inject(app, { url: '/x', headers: { cookie } });
    assert.match(lineOf(stale), /^weir_session=; Max-Age=0;/);
    assert.doesNotMatch(lineOf(stale), /Secure/);
    // Over HTTPS (as a trusted proxy reports it) both carry Secure.
    const https = { 'x-forwarded-proto': 'https' };
    const secureLogin = await inject(app, { method: 'POST', url: '/login', headers: https });
    assert.match(lineOf(secureLogin), /; Secure/);
    const secureCookie = lineOf(secureLogin).split(';')[0] as string;
    const secureOut = await inject(app, {
      method: 'POST',
      url: '/logout',
      headers: { ...https, cookie: secureCookie },
    });
    assert.match(lineOf(secureOut), /Max-Age=0;.*; Secure/);
  });

  it('keeps Partitioned, SameSite and Domain, so that it names the same cookie', async () => {
    const app = loginApp({ secure: true, sameSite: 'none', partitioned: true, domain: 'example.com' });
    const login = await inject(app, { method: 'POST', url: '/login' });
    const cookie = lineOf(login).split(';')[0] as string;
    const out = await inject(app, { method: 'POST', url: '/logout', headers: { cookie } });
    const attributes = (line: string) =>
      line
        .split('; ')
        .slice(1)
        .filter((a) => !/^(Max-Age|Expires)=/.test(a))
        .sort();
    assert.deepEqual(attributes(lineOf(out)), attributes(lineOf(login)));
  });
});

describe('cookie name prefixes', () => {
  it('refuses a __Host- or __Secure- cookie that browsers would drop, and sets a __Host- one that sticks', async () => {
    for (const cookie of [
      { name: '__Host-weir_session', secure: false },
      { name: '__host-weir_session', secure: false },
      { name: '__Host-weir_session', domain: 'example.com' },
      { name: '__Host-weir_session', path: '/app' },
      { name: '__Secure-weir_session', secure: false },
    ]) {
      assert.throws(() => session({ cookie }), { code: 'WEIR_ERR_INVALID_OPTION' }, JSON.stringify(cookie));
    }
    const app = new App({ trustProxy: 1 });
    app.use(session({ cookie: { name: '__Host-weir_session' } }));
    app.post('/login', async (ctx) => {
      await ctx.session.logIn({ id: 1 });
      return null;
    });
    app.get('/me', requireAuth(), (ctx) => ctx.state.user);
    const https = { 'x-forwarded-proto': 'https' };
    const login = await inject(app, { method: 'POST', url: '/login', headers: https });
    const line = String((login.headers['set-cookie'] as string[])[0]);
    assert.match(
      line,
      /^__Host-weir_session=[\w-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    const cookie = line.split(';')[0] as string;
    assert.deepEqual((await inject(app, { url: '/me', headers: { ...https, cookie } })).json(), { id: 1 });
  });
});

describe('option errors', () => {
  it('never repeat a secret passed where an object or a function belongs', () => {
    const secret = 'hunter2-super-secret-jwt-key-0123456789';
    const mistakes: [string, () => unknown][] = [
      ['jwt: the secret itself', () => requireAuth({ jwt: secret as never })],
      ['token: a static API token', () => requireAuth({ token: secret as never })],
      ['options: the secret itself', () => requireAuth(secret as never)],
      ['session store: a URL', () => session({ store: `redis://:${secret}@127.0.0.1:6379` as never })],
    ];
    for (const [what, mistake] of mistakes) {
      assert.throws(
        mistake,
        (err: Error & { code?: string }) =>
          err.code === 'WEIR_ERR_INVALID_OPTION' && !err.message.includes('hunter2'),
        what,
      );
    }
  });
});
