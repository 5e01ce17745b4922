/**
 * What a stored hash's parameters may cost. node:crypto's scrypt is watched (its ESM binding re-synced
 * before weir loads), so that a test can tell which parameters were computed, and so that parameters this
 * machine must not run are answered at once instead of taking minutes and gigabytes.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, it } from 'node:test';

type Callback = (err: Error | null, key: Buffer) => void;
const computed: string[] = [];
const original = crypto.scrypt;
// Past twice the default work (N × r × p = 2^18) the watcher answers with zeros instead of running.
const TOO_MUCH = 2 ** 19;
(crypto as { scrypt: unknown }).scrypt = (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  length: number,
  options: crypto.ScryptOptions,
  callback: Callback,
) => {
  const { N = 0, r = 0, p = 0 } = options;
  computed.push(`${N}/${r}/${p}`);
  if (N * r * p > TOO_MUCH) return callback(null, Buffer.alloc(length));
  return original(password, salt, length, options, callback);
};
syncBuiltinESMExports();
const { hashPassword, verifyPassword } = await import('weir/security');

const SALT = 'GIs9kHxbQLJImAlITNp9bg';
const KEY = 'PiJUY-Rh5XSiHLtfMvEZoHSDqWhomTjTj0LY7xwE1pQ';
const hashWith = (N: number, r: number, p: number) => `scrypt$${N}$${r}$${p}$${SALT}$${KEY}`;

describe('password hash parameters', () => {
  it('refuses a stored hash whose parameters would cost minutes or gigabytes, without computing it', async () => {
    for (const [N, r, p] of [
      [2 ** 20, 32, 16], // 4 GiB, 2^29 of work
      [2 ** 20, 8, 1], // 1 GiB
      [2 ** 16, 8, 16], // 2^23 of work, 32 times the default
    ] as const) {
      computed.length = 0;
      await assert.rejects(
        verifyPassword('pw', hashWith(N, r, p)),
        { code: 'WEIR_ERR_PASSWORD_HASH' },
        `${N}/${r}/${p}`,
      );
      assert.deepEqual(computed, [], `${N}/${r}/${p} was not computed`);
      // Nor does a verification without a hash (an unknown user) take them up afterwards.
      assert.equal(await verifyPassword('pw', undefined), false);
      assert.ok(
        computed.every((params) => params === '32768/8/1'),
        computed.join(),
      );
    }
    await assert.rejects(hashPassword('pw', { N: 2 ** 20, r: 32, p: 16 }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
  });

  it('computes every set of parameters it accepts: small N with large p is no RangeError', async () => {
    // Node's scrypt refuses work whose memory passes maxmem; 256 × N × r is too little when p > N - 2.
    for (const [N, r, p] of [
      [2, 8, 1],
      [16, 8, 16],
      [4, 1, 3],
    ] as const) {
      const hash = await hashPassword('pw', { N, r, p });
      assert.equal(await verifyPassword('pw', hash), true, `${N}/${r}/${p}`);
      assert.equal(await verifyPassword('other', hash), false);
      // The stand-in verification for an unknown user runs with these parameters too, and must not throw.
      assert.equal(await verifyPassword('pw', undefined), false);
    }
  });

  it("spends an unknown user's time on the parameters of new hashes, whatever hash was verified last", async () => {
    const { configurePasswords } = await import('weir/security');
    await verifyPassword('pw', hashWith(1024, 8, 1)); // an old, cheap hash: must not steer the stand-in
    computed.length = 0;
    assert.equal(await verifyPassword('pw', undefined), false);
    assert.deepEqual(computed, ['32768/8/1']);
    configurePasswords({ parameters: { N: 65_536 } });
    try {
      computed.length = 0;
      await verifyPassword('pw', null);
      assert.deepEqual(computed, ['65536/8/1']);
      assert.match(await hashPassword('pw', { N: 1024 }), /^scrypt\$1024\$/);
    } finally {
      configurePasswords({ parameters: { N: 32_768 } });
    }
  });
});
