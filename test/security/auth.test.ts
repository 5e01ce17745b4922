import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { type AuthUser, type JwtOptions, requireAuth, session, signJwt } from 'weir/security';
import { inject } from 'weir/testing';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';
const HS256: JwtOptions = { key: SECRET, algorithms: ['HS256'], issuer: 'weir-test', audience: 'api' };
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

type ErrorBody = { error: { code: string; message: string } };

function tokenApp(options: Parameters<typeof requireAuth>[0]) {
  const app = new App();
  app.get('/api/me', requireAuth(options), (ctx) => ({
    id: ctx.state.user.id,
    scopes: ctx.state.user.scopes ?? [],
  }));
  return app;
}

const get = (app: App, authorization?: string) =>
  inject(app, { url: '/api/me', headers: authorization === undefined ? {} : { authorization } });

describe('requireAuth()', () => {
  it('lets a session user through and answers 401 with a challenge without one', async () => {
    const app = new App();
    app.use(session());
    app.post('/login', async (ctx) => {
      await ctx.session.logIn({ id: 'u1' });
      return null;
    });
    app.get('/me', requireAuth(), (ctx) => ({ id: ctx.state.user.id }));
    const anonymous = await inject(app, { url: '/me' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Cookie realm="weir"');
    assert.equal(anonymous.json<ErrorBody>().error.code, 'WEIR_ERR_UNAUTHENTICATED');
    const login = await inject(app, { method: 'POST', url: '/login' });
    const cookie = String((login.headers['set-cookie'] as string[])[0]).split(';')[0]!;
    assert.deepEqual((await inject(app, { url: '/me', headers: { cookie } })).json(), { id: 'u1' });
  });

  it('checks opaque bearer tokens with the app function, and refuses malformed headers without calling it', async () => {
    const seen: string[] = [];
    const app = tokenApp({
      token: (token) => {
        seen.push(token);
        return token === 'good-token_1.~+/=' ? { id: 42, scopes: ['read'] } : undefined;
      },
    });
    assert.deepEqual((await get(app, 'Bearer good-token_1.~+/=')).json(), { id: 42, scopes: ['read'] });
    assert.deepEqual((await get(app, 'bearer   good-token_1.~+/=')).json(), { id: 42, scopes: ['read'] });
    const unknown = await get(app, 'Bearer nope');
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json<ErrorBody>().error.code, 'WEIR_ERR_INVALID_TOKEN');
    assert.match(String(unknown.headers['www-authenticate']), /^Bearer realm="weir", error="invalid_token"/);
    seen.length = 0;
    for (const header of [
      'Bearer',
      'Bearer a b',
      'Bearer <script>',
      `Bearer ${'a'.repeat(9000)}`,
      'Bearer a"b',
    ]) {
      const res = await get(app, header);
      assert.equal(res.status, 401, header.slice(0, 20));
      assert.doesNotMatch(res.body, /script|aaaa/);
    }
    assert.deepEqual(seen, []);
    const none = await get(app);
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="weir"');
    // Another scheme is not a bearer token: the route is simply unauthenticated.
    assert.equal(
      (await get(app, 'Basic YWxpY2U6cHc=')).json<ErrorBody>().error.code,
      'WEIR_ERR_UNAUTHENTICATED',
    );
  });

  it('verifies JWTs against the allow-list, issuer, audience and expiry', async () => {
    const app = tokenApp({ jwt: HS256 });
    const good = await signJwt(
      { sub: 'alice', scope: 'read write' },
      { key: SECRET, algorithm: 'HS256', issuer: 'weir-test', audience: 'api' },
    );
    assert.deepEqual((await get(app, `Bearer ${good}`)).json(), { id: 'alice', scopes: ['read', 'write'] });

    const refused = async (token: string, why: string, expired = false) => {
      const res = await get(app, `Bearer ${token}`);
      assert.equal(res.status, 401, why);
      assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_INVALID_TOKEN', why);
      assert.match(res.json<ErrorBody>().error.message, expired ? /expired/ : /not valid/, why);
    };
    const [header, payload] = good.split('.') as [string, string, string];
    await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`, 'alg none');
    await refused(`${header}.${payload}.${'A'.repeat(43)}`, 'bad signature');
    await refused(
      `${header}.${b64({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' })}.${good.split('.')[2]}`,
      'payload swapped',
    );
    await refused(
      await signJwt(
        { sub: 'alice' },
        { key: SECRET, algorithm: 'HS512', issuer: 'weir-test', audience: 'api' },
      ),
      'HS512 not allowed',
    );
    await refused(
      await signJwt(
        { sub: 'alice' },
        { key: `${SECRET}x`, algorithm: 'HS256', issuer: 'weir-test', audience: 'api' },
      ),
      'other secret',
    );
    await refused(
      await signJwt({ sub: 'alice' }, { key: SECRET, algorithm: 'HS256', issuer: 'evil', audience: 'api' }),
      'issuer',
    );
    await refused(
      await signJwt(
        { sub: 'alice' },
        { key: SECRET, algorithm: 'HS256', issuer: 'weir-test', audience: 'web' },
      ),
      'audience',
    );
    await refused(
      await signJwt(
        { scope: 'read' },
        { key: SECRET, algorithm: 'HS256', issuer: 'weir-test', audience: 'api' },
      ),
      'no sub',
    );
    const now = Math.floor(Date.now() / 1000);
    const { SignJWT } = await import('jose');
    const expired = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('weir-test')
      .setAudience('api')
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(Buffer.from(SECRET));
    await refused(expired, 'expired', true);
    const noExp = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('weir-test')
      .setAudience('api')
      .sign(Buffer.from(SECRET));
    await refused(noExp, 'a token without exp');
  });

  it('reuses a verified token until its exp, checking the clock on every use, and shares a frozen user', async () => {
    const app = new App();
    app.get('/me', requireAuth({ jwt: { ...HS256, clockToleranceMs: 0 } }), (ctx) => {
      assert.throws(() => {
        (ctx.state.user as { id: unknown }).id = 'mallory';
      }, TypeError);
      return { id: ctx.state.user.id };
    });
    const token = await signJwt(
      { sub: 'alice' },
      { key: SECRET, algorithm: 'HS256', issuer: 'weir-test', audience: 'api', expiresInMs: 1000 },
    );
    const call = () => inject(app, { url: '/me', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual((await call()).json(), { id: 'alice' });
    assert.deepEqual((await call()).json(), { id: 'alice' }, 'from the cache, unchanged');
    // exp is a whole second: wait until it has passed.
    const exp = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp as number;
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 20));
    const late = await call();
    assert.equal(late.status, 401);
    assert.match(late.json<ErrorBody>().error.message, /expired/);
  });

  it('refuses an HMAC token signed with the public key of an RS256 verifier (algorithm confusion)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const app = tokenApp({ jwt: { key: pem, algorithms: ['RS256'] } });
    const good = await signJwt({ sub: 'bob' }, { key: privateKey, algorithm: 'RS256' });
    assert.deepEqual((await get(app, `Bearer ${good}`)).json(), { id: 'bob', scopes: [] });
    const { SignJWT } = await import('jose');
    const forged = await new SignJWT({ sub: 'mallory' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(Buffer.from(pem));
    assert.equal((await get(app, `Bearer ${forged}`)).status, 401);
  });

  it('verifies against a JWKS endpoint, choosing the key by kid', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const app = tokenApp({
        jwt: { key: new URL(`http://127.0.0.1:${port}/jwks.json`), algorithms: ['ES256'] },
      });
      const good = await signJwt({ sub: 'carol' }, { key: privateKey, algorithm: 'ES256', keyId: 'k1' });
      assert.deepEqual((await get(app, `Bearer ${good}`)).json(), { id: 'carol', scopes: [] });
      const unknownKid = await signJwt(
        { sub: 'carol' },
        { key: privateKey, algorithm: 'ES256', keyId: 'k2' },
      );
      assert.equal((await get(app, `Bearer ${unknownKid}`)).status, 401);
    } finally {
      server.close();
    }
  });

  it('answers 403 for a missing role or scope, 401 before that', async () => {
    const users: Record<string, AuthUser> = {
      admin: { id: 1, roles: ['admin'], scopes: ['read', 'write'] },
      reader: { id: 2, roles: ['member'], scopes: ['read'] },
    };
    const app = new App();
    const token = (t: string) => users[t];
    app.get('/admin', requireAuth({ token, roles: ['admin', 'owner'] }), () => 'ok');
    app.get('/write', requireAuth({ token, scopes: ['read', 'write'] }), () => 'ok');
    const call = (url: string, t: string) => inject(app, { url, headers: { authorization: `Bearer ${t}` } });
    assert.equal((await call('/admin', 'admin')).status, 200);
    const noRole = await call('/admin', 'reader');
    assert.equal(noRole.status, 403);
    assert.equal(noRole.json<ErrorBody>().error.code, 'WEIR_ERR_FORBIDDEN');
    assert.equal((await call('/write', 'admin')).status, 200);
    const noScope = await call('/write', 'reader');
    assert.equal(noScope.status, 403);
    assert.equal(
      noScope.headers['www-authenticate'],
      'Bearer realm="weir", error="insufficient_scope", scope="read write"',
    );
    assert.equal((await call('/write', 'stranger')).status, 401);
  });

  it('prefers an explicit bearer token to the session, and a bad token fails even with a good session', async () => {
    const app = new App();
    app.use(session());
    app.post('/login', async (ctx) => {
      await ctx.session.logIn({ id: 'session-user' });
      return null;
    });
    app.get(
      '/me',
      requireAuth({ token: (t) => (t === 'ok' ? { id: 'token-user' } : undefined) }),
      (ctx) => ctx.state.user,
    );
    const login = await inject(app, { method: 'POST', url: '/login' });
    const cookie = String((login.headers['set-cookie'] as string[])[0]).split(';')[0]!;
    assert.deepEqual((await inject(app, { url: '/me', headers: { cookie } })).json(), { id: 'session-user' });
    assert.deepEqual(
      (await inject(app, { url: '/me', headers: { cookie, authorization: 'Bearer ok' } })).json(),
      { id: 'token-user' },
    );
    assert.equal(
      (await inject(app, { url: '/me', headers: { cookie, authorization: 'Bearer bad' } })).status,
      401,
    );
    const none = await inject(app, { url: '/me' });
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="weir", Cookie realm="weir"');
  });

  it('checks its options, never echoing a key', () => {
    const bad: unknown[] = [
      { session: false },
      { jwt: { key: SECRET } },
      { jwt: { key: SECRET, algorithms: [] } },
      { jwt: { key: SECRET, algorithms: ['none'] } },
      { jwt: { key: SECRET, algorithms: ['HS256', 'RS256'] } },
      { jwt: { key: 'short-secret', algorithms: ['HS256'] } },
      { jwt: { key: 'not a pem', algorithms: ['RS256'] } },
      { roles: [] },
      { scopes: ['a"b'] },
      { token: 'abc' },
      { realm: 'a"b' },
    ];
    for (const options of bad) {
      assert.throws(
        () => requireAuth(options as Parameters<typeof requireAuth>[0]),
        (err: Error & { code?: string }) =>
          err.code === 'WEIR_ERR_INVALID_OPTION' && !err.message.includes('short-secret'),
        JSON.stringify(options),
      );
    }
  });
});
