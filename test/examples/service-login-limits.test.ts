/**
 * The reference service's login limits: 10 attempts a minute per client address, and 10 failures per
 * 15 minutes per account whatever the address; 429 with Retry-After past either.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { App } from 'weir';
import { inject } from 'weir/testing';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-login-limits-'));
let app: App;
before(async () => {
  app = createServiceApp({
    logger: false,
    db: await openServiceDatabase(`sqlite:${join(dir, 'service.db')}`),
  });
});
after(async () => {
  await app.stop();
  rmSync(dir, { recursive: true, force: true });
});

type ErrorBody = { error: { code: string } };

const login = (email: string, password: string, remoteAddress: string) =>
  inject(app, { method: 'POST', url: '/login', body: { email, password }, remoteAddress });

describe('reference service: login limits', () => {
  it('allows 10 attempts a minute from one address, then 429 with Retry-After', async () => {
    // Sent together: the limit refills one attempt every 6 s, and ten scrypt hashes one after another on
    // a busy machine can take that long. Which of the eleven is refused depends on the order their bodies
    // are read in, so: exactly one 429, and every other answer the one its password earns (alice's right
    // password too is refused when hers is the one past the limit).
    const attempts = [
      ...Array.from({ length: 10 }, (_, i) => ({
        email: `nobody${i}@example.com`,
        password: 'wrong',
        ok: 401,
      })),
      { email: 'alice@example.com', password: 'alice-password', ok: 200 },
    ];
    const answers = await Promise.all(attempts.map((a) => login(a.email, a.password, '10.1.0.1')));
    const refused = answers.filter((res) => res.status === 429);
    assert.equal(refused.length, 1, `answers ${answers.map((res) => res.status).join(', ')}`);
    for (const [i, res] of answers.entries()) {
      if (res.status !== 429) assert.equal(res.status, attempts[i]!.ok, `attempt ${i + 1}`);
    }
    const [limited] = refused;
    assert.equal(limited!.json<ErrorBody>().error.code, 'WEIR_ERR_RATE_LIMITED');
    assert.ok(Number(limited!.headers['retry-after']) >= 1, 'Retry-After on the 429');
    assert.match(String(limited!.headers['ratelimit-policy']), /"login";q=10;w=60/);
    assert.equal(
      (await login('alice@example.com', 'alice-password', '10.1.0.2')).status,
      200,
      'other address',
    );
  });

  it('allows 10 failures per account from any mix of addresses, then 429 even for the right password', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await login('bob@example.com', 'guess', `10.2.0.${i + 1}`);
      assert.equal(res.status, 401, `failure ${i + 1}`);
    }
    const locked = await login('bob@example.com', 'bob-password', '10.2.1.1');
    assert.equal(locked.status, 429);
    assert.match(String(locked.headers.ratelimit), /"login-failures";r=0;t=\d+/);
    // Unknown accounts are counted alike, so a 429 says nothing about whether an email exists.
    for (let i = 0; i < 10; i++) await login('ghost@example.com', 'guess', `10.3.0.${i + 1}`);
    assert.equal((await login('ghost@example.com', 'guess', '10.3.1.1')).status, 429);
    // Other accounts are untouched.
    assert.equal((await login('carol@example.com', 'carol-password', '10.2.1.2')).status, 200);
  });

  it('forgets an account failures after a good login', async () => {
    for (let i = 0; i < 9; i++) await login('carol@example.com', 'guess', `10.4.0.${i + 1}`);
    assert.equal((await login('carol@example.com', 'carol-password', '10.4.1.1')).status, 200);
    for (let i = 0; i < 9; i++) {
      assert.equal((await login('carol@example.com', 'guess', `10.4.2.${i + 1}`)).status, 401);
    }
  });
});
