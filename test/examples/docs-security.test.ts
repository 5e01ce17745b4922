/**
 * docs/security.md: the accounts example logs in against hashes in SQL with sessions in the same
 * database, types its own session keys, guards roles, issues API tokens stored as digests, demands the
 * password again (sudo mode, with a new session id) before deleting an account, and upgrades old hashes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hashPassword } from 'weir/security';
import { inject } from 'weir/testing';
import { app, db, signUp } from '../../examples/docs/security/accounts.ts';

after(() => app.stop());

type ErrorBody = { error: { code: string } };
const cookieOf = (res: { headers: Record<string, unknown> }) =>
  String((res.headers['set-cookie'] as string[])[0]).split(';')[0] as string;
const login = (email: string, password: string) =>
  inject(app, { method: 'POST', url: '/login', body: { email, password } });

describe('docs/security.md', () => {
  it('logs in, keeps typed session data, guards a role, and refuses wrong and unknown logins alike', async () => {
    await signUp('ada@example.com', 'ada-password-1');
    await signUp('root@example.com', 'root-password-1', 'member,admin');
    const wrong = await login('ada@example.com', 'nope');
    const unknown = await login('nobody@example.com', 'nope');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body, unknown.body);
    const ada = cookieOf(await login('ADA@example.com', 'ada-password-1'));
    const theme = await inject(app, {
      method: 'PUT',
      url: '/theme',
      headers: { cookie: ada },
      body: { theme: 'dark' },
    });
    assert.deepEqual(theme.json(), { theme: 'dark' });
    assert.equal((await inject(app, { url: '/admin/report', headers: { cookie: ada } })).status, 403);
    const root = cookieOf(await login('root@example.com', 'root-password-1'));
    assert.deepEqual((await inject(app, { url: '/admin/report', headers: { cookie: root } })).json(), {
      ok: true,
    });
  });

  it('issues API tokens kept only as digests', async () => {
    const ada = cookieOf(await login('ada@example.com', 'ada-password-1'));
    const { token } = (await inject(app, { method: 'POST', url: '/tokens', headers: { cookie: ada } })).json<{
      token: string;
    }>();
    const whoami = await inject(app, { url: '/api/whoami', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(whoami.json(), { id: 1, roles: ['member'] });
    const stored = await db.query<{ digest: string }>`SELECT digest FROM api_tokens`;
    assert.ok(stored.every((row) => row.digest !== token));
    const forged = await inject(app, { url: '/api/whoami', headers: { authorization: 'Bearer AAAAAAAA' } });
    assert.equal(forged.json<ErrorBody>().error.code, 'WEIR_ERR_INVALID_TOKEN');
    assert.equal((await inject(app, { url: '/api/whoami', headers: { cookie: ada } })).status, 401);
  });

  it('asks for the password again, with a new session id, before deleting the account', async () => {
    await signUp('eve@example.com', 'eve-password-1');
    const eve = cookieOf(await login('eve@example.com', 'eve-password-1'));
    const early = await inject(app, { method: 'DELETE', url: '/account', headers: { cookie: eve } });
    assert.equal(early.json<ErrorBody>().error.code, 'SUDO_REQUIRED');
    const bad = await inject(app, {
      method: 'POST',
      url: '/sudo',
      headers: { cookie: eve },
      body: { password: 'x' },
    });
    assert.equal(bad.status, 401);
    const sudo = await inject(app, {
      method: 'POST',
      url: '/sudo',
      headers: { cookie: eve },
      body: { password: 'eve-password-1' },
    });
    const elevated = cookieOf(sudo);
    assert.notEqual(elevated, eve);
    assert.equal(
      (await inject(app, { method: 'DELETE', url: '/account', headers: { cookie: eve } })).status,
      401,
    );
    assert.equal(
      (await inject(app, { method: 'DELETE', url: '/account', headers: { cookie: elevated } })).status,
      204,
    );
    assert.equal((await login('eve@example.com', 'eve-password-1')).status, 401);
  });

  it('replaces a hash made with older parameters after a good login', async () => {
    const old = await hashPassword('old-password-1', { N: 16_384 });
    await db.exec`INSERT INTO accounts (email, hash) VALUES ('old@example.com', ${old})`;
    assert.equal((await login('old@example.com', 'old-password-1')).status, 200);
    for (let i = 0; i < 200; i++) {
      const { hash } = await db.one<{
        hash: string;
      }>`SELECT hash FROM accounts WHERE email = 'old@example.com'`;
      if (hash.startsWith('scrypt$32768$')) return;
      await delay(25);
    }
    assert.fail('the hash was not upgraded');
  });
});
