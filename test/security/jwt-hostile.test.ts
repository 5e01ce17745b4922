/**
 * Bearer JWTs with hostile headers, each signed for real (so that what refuses them is the header, not a
 * broken signature), and the clock slack the README promises.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { requireAuth } from 'weir/security';
import { inject } from 'weir/testing';

const real = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS over `header` and `claims`, ES256-signed with `key`, whatever the header says. */
function forge(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'mallory', exp: now() + 60, ...extra });

function verifierApp() {
  const app = new App();
  app.get('/api/me', requireAuth({ jwt: { key: real.publicKey, algorithms: ['ES256'] } }), (ctx) => ({
    id: ctx.state.user.id,
  }));
  return (token: string) => inject(app, { url: '/api/me', headers: { authorization: `Bearer ${token}` } });
}

describe('bearer JWTs with hostile headers', () => {
  it('never takes a key from the token: jwk, jku and x5u are ignored, and nothing is fetched', async () => {
    let fetched = 0;
    const server = createServer((_req, res) => {
      fetched++;
      const jwk = { ...attacker.publicKey.export({ format: 'jwk' }), alg: 'ES256' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      const call = verifierApp();
      assert.equal((await call(forge({ alg: 'ES256' }, claims(), real.privateKey))).status, 200, 'control');
      const jwk = attacker.publicKey.export({ format: 'jwk' });
      for (const header of [{ jwk }, { jku: url }, { x5u: url }, { jwk, jku: url, kid: 'k1' }]) {
        const res = await call(forge({ alg: 'ES256', ...header }, claims(), attacker.privateKey));
        assert.equal(res.status, 401, Object.keys(header).join(','));
      }
      assert.equal(fetched, 0, 'no URL named by a token was fetched');
    } finally {
      server.close();
    }
  });

  it('refuses alg variants, unknown crit extensions and an unencoded payload, though signed by the real key', async () => {
    const call = verifierApp();
    const refused: Record<string, unknown>[] = [
      { alg: 'es256' },
      { alg: 'ES256 ' },
      { alg: 'none' },
      { alg: ['ES256'] },
      { alg: 'ES256', crit: ['x-weir'], 'x-weir': true },
      { alg: 'ES256', crit: ['exp'] },
      // RFC 7797's unencoded payload; JWTs must not use it (b64 without crit is ignored, as the RFC says).
      { alg: 'ES256', b64: false, crit: ['b64'] },
    ];
    for (const header of refused) {
      const res = await call(forge(header, claims(), real.privateKey));
      assert.equal(res.status, 401, JSON.stringify(header));
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    }
  });

  it('treats kid as an opaque name, and typ or cty as no reason to unwrap anything', async () => {
    const call = verifierApp();
    for (const header of [
      { kid: "../../../etc/passwd' OR '1'='1" },
      { kid: 'x\r\nset-cookie: a=b' },
      { typ: 'JWT', cty: 'JWT' },
    ]) {
      const res = await call(forge({ alg: 'ES256', ...header }, claims(), real.privateKey));
      assert.deepEqual(res.json(), { id: 'mallory' }, JSON.stringify(header));
      assert.equal(res.headers['set-cookie'], undefined);
    }
  });

  it('refuses a payload that is not a JSON object, and claims of the wrong type', async () => {
    const call = verifierApp();
    for (const payload of [[1, 2], 'sub', 42, null]) {
      const input = `${b64({ alg: 'ES256' })}.${b64(payload)}`;
      const signature = sign('sha256', Buffer.from(input), {
        key: real.privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      assert.equal((await call(`${input}.${signature.toString('base64url')}`)).status, 401, String(payload));
    }
    for (const extra of [
      { exp: String(now() + 60) },
      { exp: null },
      { sub: 7 },
      { sub: '' },
      { nbf: now() + 60 },
    ]) {
      assert.equal(
        (await call(forge({ alg: 'ES256' }, claims(extra), real.privateKey))).status,
        401,
        JSON.stringify(extra),
      );
    }
  });

  it('allows 5 s of clock slack on exp by default, and no more', async () => {
    const call = verifierApp();
    const late = await call(forge({ alg: 'ES256' }, claims({ exp: now() - 2 }), real.privateKey));
    assert.equal(late.status, 200);
    const expired = await call(forge({ alg: 'ES256' }, claims({ exp: now() - 30 }), real.privateKey));
    assert.equal(expired.status, 401);
    assert.match(String(expired.headers['www-authenticate']), /The token expired/);
  });
});
