import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { csrf, csrfToken, session } from 'weir/security';
import { inject } from 'weir/testing';

type ErrorBody = { error: { code: string; details: { reason: string } } };

function build(options: Parameters<typeof csrf>[0] = {}) {
  const app = new App();
  app.use(session(), csrf(options));
  app.get('/form', (ctx) => ({ token: csrfToken(ctx) }));
  app.post('/transfer', () => ({ done: true }));
  app.put('/transfer', () => ({ done: true }));
  return app;
}

async function sessionCookie(app: App): Promise<{ cookie: string; token: string }> {
  const res = await inject(app, { url: '/form' });
  const cookie = String((res.headers['set-cookie'] as string[])[0]).split(';')[0] as string;
  return { cookie, token: res.json<{ token: string }>().token };
}

const post = (app: App, headers: Record<string, string>, body?: unknown, method = 'POST') =>
  inject(app, { method, url: '/transfer', headers: { host: 'bank.example', ...headers }, body });

describe('csrf()', () => {
  it('refuses cross-site and same-site (another subdomain) unsafe requests with cookies, by Sec-Fetch-Site', async () => {
    const app = build();
    const { cookie } = await sessionCookie(app);
    for (const site of ['cross-site', 'same-site']) {
      const res = await post(app, { cookie, 'sec-fetch-site': site, origin: 'https://evil.example' });
      assert.equal(res.status, 403, site);
      assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_CSRF');
      assert.equal(res.json<ErrorBody>().error.details.reason, 'cross-site');
    }
    for (const site of ['same-origin', 'none']) {
      assert.equal((await post(app, { cookie, 'sec-fetch-site': site })).status, 200, site);
    }
    assert.equal((await post(app, { cookie, 'sec-fetch-site': 'cross-site' }, undefined, 'PUT')).status, 403);
  });

  it('falls back to Origin against the Host, and lets trusted origins in', async () => {
    const app = build({ trustedOrigins: ['https://admin.example'] });
    const { cookie } = await sessionCookie(app);
    assert.equal((await post(app, { cookie, origin: 'https://bank.example' })).status, 200);
    assert.equal(
      (await post(app, { cookie, origin: 'http://BANK.example' })).status,
      200,
      'scheme not compared',
    );
    for (const origin of ['https://evil.example', 'null', 'https://bank.example.evil.example', 'garbage']) {
      const res = await post(app, { cookie, origin });
      assert.equal(res.status, 403, origin);
      assert.equal(res.json<ErrorBody>().error.details.reason, 'origin');
    }
    assert.equal((await post(app, { cookie, origin: 'https://admin.example' })).status, 200);
    assert.equal(
      (await post(app, { cookie, origin: 'https://admin.example', 'sec-fetch-site': 'same-site' })).status,
      200,
    );
  });

  it('asks browsers that send neither header for the session token, in a header or a form field', async () => {
    const app = build();
    const { cookie, token } = await sessionCookie(app);
    const bare = await post(app, { cookie });
    assert.equal(bare.status, 403);
    assert.equal(bare.json<ErrorBody>().error.details.reason, 'token');
    assert.equal((await post(app, { cookie, 'x-csrf-token': token })).status, 200);
    const form = `amount=10&_csrf=${encodeURIComponent(token)}`;
    assert.equal(
      (await post(app, { cookie, 'content-type': 'application/x-www-form-urlencoded' }, form)).status,
      200,
    );
    for (const wrong of [`${token.slice(1)}A`, '', 'x'.repeat(43), token.slice(0, 42)]) {
      assert.equal((await post(app, { cookie, 'x-csrf-token': wrong })).status, 403, wrong);
    }
    // Another session's token is no good.
    const other = await sessionCookie(app);
    assert.equal((await post(app, { cookie, 'x-csrf-token': other.token })).status, 403);
    // tokenFallback: false lets them through.
    const lenient = build({ tokenFallback: false });
    assert.equal((await post(lenient, { cookie })).status, 200);
  });

  it('hands out the session token under a new mask on every response (BREACH), and accepts each', async () => {
    const app = build();
    const { cookie, token } = await sessionCookie(app);
    const again = (await inject(app, { url: '/form', headers: { cookie } })).json<{ token: string }>().token;
    assert.notEqual(again, token, 'the same bytes on two pages');
    assert.match(again, /^[\w-]{86}$/);
    // Unmasked, both are the one secret the session keeps; a page rendered before masking (the bare
    // secret) is accepted too.
    const unmask = (t: string) => {
      const b = Buffer.from(t, 'base64url');
      return Buffer.from(b.subarray(0, 32).map((x, i) => x ^ (b[32 + i] as number))).toString('base64url');
    };
    assert.equal(unmask(again), unmask(token));
    for (const given of [token, again, unmask(token)]) {
      assert.equal((await post(app, { cookie, 'x-csrf-token': given })).status, 200, given);
    }
    // A mask changed without the masked half is no good.
    const b = Buffer.from(token, 'base64url');
    b[0] = (b[0] as number) ^ 1;
    assert.equal((await post(app, { cookie, 'x-csrf-token': b.toString('base64url') })).status, 403);
  });

  it('lets through safe methods and requests without cookies, which carry no ambient credential', async () => {
    const app = build();
    assert.equal(
      (await post(app, { 'sec-fetch-site': 'cross-site', authorization: 'Bearer x' })).status,
      200,
    );
    const { cookie } = await sessionCookie(app);
    const get = await inject(app, { url: '/form', headers: { cookie, 'sec-fetch-site': 'cross-site' } });
    assert.equal(get.status, 200);
  });

  it('checks its options', () => {
    for (const bad of [
      { trustedOrigins: ['*'] },
      { trustedOrigins: ['https://a.example/path'] },
      { trustedOrigins: ['a.example'] },
      { tokenFallback: 'yes' },
    ]) {
      assert.throws(() => csrf(bad as never), { code: 'WEIR_ERR_INVALID_OPTION' }, JSON.stringify(bad));
    }
  });
});
