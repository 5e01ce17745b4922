/** docs/security.md, rate limits: failures per account counted by hand, and a per-user limit with costs. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { hashPassword } from 'weir/security';
import { inject } from 'weir/testing';
import { app, signUpForTest } from '../../examples/docs/security/limits.ts';

after(() => app.stop());

describe('docs/security.md rate limits', () => {
  it('locks an account after 5 failures, and a success forgets them', async () => {
    signUpForTest('ada@example.com', await hashPassword('right-password', { N: 1024 }));
    const login = (password: string, remoteAddress: string) =>
      inject(app, {
        method: 'POST',
        url: '/login',
        body: { email: 'ada@example.com', password },
        remoteAddress,
      });
    for (let i = 0; i < 4; i++) assert.equal((await login('wrong', `10.0.0.${i}`)).status, 401);
    assert.equal((await login('right-password', '10.0.1.1')).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await login('wrong', `10.0.2.${i}`)).status, 401);
    const locked = await login('right-password', '10.0.3.1');
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers['retry-after']) > 0);
  });

  it('counts reports per user, an export as ten', async () => {
    const get = (url: string, user?: string) =>
      inject(app, { url, headers: user === undefined ? {} : { 'x-user-id': user } });
    for (let i = 0; i < 5; i++) assert.equal((await get('/reports/1?format=csv', 'u1')).status, 200);
    for (let i = 0; i < 10; i++) assert.equal((await get('/reports/1', 'u1')).status, 200);
    assert.equal((await get('/reports/1', 'u1')).status, 429);
    assert.equal((await get('/reports/1', 'u2')).status, 200);
    assert.equal((await get('/reports/1')).status, 200, 'no user: not counted');
  });
});
