/**
 * requireAuth() and session() against request-controlled and app-supplied values of the wrong shape: users,
 * roles and scopes that are not what the types say, session keys that name Object.prototype members.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { type AuthUser, requireAuth, signJwt } from 'weir/security';
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
