import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  configurePasswords,
  hashPassword,
  MAX_PASSWORD_BYTES,
  needsRehash,
  passwordStats,
  verifyPassword,
} from 'weir/security';

// The reference service's seeded hash of 'alice-password' (N=16384 r=8 p=1, 32-byte key).
const ALICE = 'scrypt$16384$8$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ';
// Cheap parameters where the cost is not what a test is about.
const FAST = { N: 1024 };

describe('passwords', () => {
  after(() => configurePasswords({ maxConcurrent: 2, maxWaiting: 64 }));

  it('hashes with its parameters in the string, a fresh salt each time, and verifies', async () => {
    const a = await hashPassword('correct horse', FAST);
    const b = await hashPassword('correct horse', FAST);
    assert.match(a, /^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    assert.notEqual(a, b, 'a fresh salt per hash');
    assert.equal(await verifyPassword('correct horse', a), true);
    assert.equal(await verifyPassword('correct horsf', a), false);
    assert.equal(await verifyPassword('', a), false);
    const unicode = await hashPassword('pässwörd 🔑', FAST);
    assert.equal(await verifyPassword('pässwörd 🔑', unicode), true);
  });

  it('verifies the reference service seeded hashes, and asks for a rehash of their older parameters', async () => {
    assert.equal(await verifyPassword('alice-password', ALICE), true);
    assert.equal(await verifyPassword('bob-password', ALICE), false);
    assert.equal(needsRehash(ALICE), true);
    const current = await hashPassword('alice-password');
    assert.match(current, /^scrypt\$32768\$8\$1\$/);
    assert.equal(needsRehash(current), false);
    assert.equal(needsRehash(current, { N: 65_536 }), true);
  });

  it('answers false for an unknown user after doing the same work', async () => {
    assert.equal(await verifyPassword('anything', undefined), false);
    assert.equal(await verifyPassword('anything', null), false);
  });

  it('refuses malformed or hostile stored hashes without repeating them, and bounds the password', async () => {
    const hostile = [
      'plain-text-password',
      'scrypt$16384$8$1$GIs9kHxbQLJImAlITNp9bg',
      'bcrypt$16384$8$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ',
      'scrypt$1073741824$8$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ', // N = 2^30
      'scrypt$12345$8$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ', // not a power of 2
      'scrypt$16384$999$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ',
      'scrypt$16384$8$1$$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ',
      'scrypt$1e4$8$1$GIs9kHxbQLJImAlITNp9bg$PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ',
    ];
    for (const hash of hostile) {
      await assert.rejects(verifyPassword('alice-password', hash), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'WEIR_ERR_PASSWORD_HASH', hash);
        assert.ok(!err.message.includes(hash));
        return true;
      });
    }
    const long = 'x'.repeat(MAX_PASSWORD_BYTES + 1);
    await assert.rejects(hashPassword(long, FAST), { code: 'WEIR_ERR_PASSWORD_TOO_LONG', status: 400 });
    await assert.rejects(verifyPassword(long, ALICE), { code: 'WEIR_ERR_PASSWORD_TOO_LONG' });
    await assert.rejects(hashPassword('x', { N: 1000 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    await assert.rejects(hashPassword(42 as unknown as string), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('runs at most maxConcurrent hashes at once and sheds past maxWaiting with 503', async () => {
    configurePasswords({ maxConcurrent: 2, maxWaiting: 5 });
    let peak = 0;
    const watch = setInterval(() => {
      peak = Math.max(peak, passwordStats().running);
    }, 1);
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => hashPassword('flood', FAST)));
    clearInterval(watch);
    const busy = outcomes.filter(
      (o) => o.status === 'rejected' && (o.reason as { code?: string }).code === 'WEIR_ERR_PASSWORD_BUSY',
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 7, '2 running + 5 waiting');
    assert.equal(busy.length, 13);
    const shed = (busy[0] as PromiseRejectedResult).reason as {
      status: number;
      headers: Record<string, string>;
    };
    assert.equal(shed.status, 503);
    assert.equal(shed.headers['retry-after'], '1');
    assert.ok(peak <= 2, `at most 2 ran at once (saw ${peak})`);
    assert.deepEqual(passwordStats(), { running: 0, waiting: 0, maxConcurrent: 2, maxWaiting: 5 });
  });

  it('a waiting hash leaves the line when its signal aborts', async () => {
    configurePasswords({ maxConcurrent: 1, maxWaiting: 10 });
    const first = hashPassword('a', FAST);
    const controller = new AbortController();
    const second = hashPassword('b', { ...FAST, signal: controller.signal });
    controller.abort(new Error('client left'));
    await assert.rejects(second, /client left/);
    assert.match(await first, /^scrypt\$/);
  });

  it('answers false, after the same work, for an account without a password (an empty hash)', async () => {
    assert.equal(await verifyPassword('anything', ''), false);
  });
});
