/**
 * The reference service's login, logout, session and bearer routes, on a real socket, on the seeded users:
 * sessions in the service's database (they outlive a restart), one answer and the same time for an
 * unknown email and a wrong password, a login flood shed with 503 while /plaintext stays fast.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServerHandle } from 'weir';
import type { Database } from 'weir/db';
import { passwordStats, signJwt } from 'weir/security';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { type RawResponse, request, serve } from '../helpers/http.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-auth-'));
const url = `sqlite:${join(dir, 'service.db')}`;
let db: Database;
let handle: ServerHandle;

before(async () => {
  db = await openServiceDatabase(url);
  // The login limits are tested on their own below; here, many logins come from one address.
  handle = await serve(
    createServiceApp({ logger: false, db, loginLimits: { perAddress: 10_000, failuresPerAccount: 10_000 } }),
  );
});
after(async () => {
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

type ErrorBody = { error: { code: string; message: string; details?: unknown } };

const json = (method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  request(handle, {
    method,
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const login = (email: string, password: string) => json('POST', '/login', { email, password });

function sessionCookie(res: RawResponse): string {
  const line = (res.headers['set-cookie'] ?? []).find((l) => l.startsWith('weir_session='));
  assert.ok(line, 'a session cookie');
  return line.split(';')[0] as string;
}

const parse = <T>(res: RawResponse) => JSON.parse(res.body) as T;

describe('reference service: login, sessions and tokens', () => {
  it('logs a seeded user in with JSON, keeps the session in the database, and logs out on the server', async () => {
    const res = await login('alice@example.com', 'alice-password');
    assert.equal(res.status, 200);
    assert.deepEqual(parse(res), { id: 1, name: 'Alice' });
    const line = (res.headers['set-cookie'] as string[])[0] as string;
    assert.match(line, /^weir_session=[\w-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    const cookie = sessionCookie(res);
    const me = await request(handle, { path: '/me', headers: { cookie } });
    assert.deepEqual(parse(me), { id: 1, name: 'Alice' });
    const { n } = await db.one<{ n: number }>`SELECT count(*) AS n FROM weir_sessions`;
    assert.ok(Number(n) >= 1);

    // A browser says where a request comes from; csrf() refuses a cookie-carrying POST that does not.
    const bare = await request(handle, { method: 'POST', path: '/logout', headers: { cookie } });
    assert.equal(parse<ErrorBody>(bare).error.code, 'WEIR_ERR_CSRF');
    const out = await request(handle, {
      method: 'POST',
      path: '/logout',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /^weir_session=; Max-Age=0/);
    const replay = await request(handle, { path: '/me', headers: { cookie } });
    assert.equal(replay.status, 401);
    assert.equal(replay.headers['www-authenticate'], 'Cookie realm="weir"');
  });

  it('logs in with a form too, and a session outlives a restart of the service', async () => {
    const res = await request(handle, {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=Bob%40Example.com&password=bob-password',
    });
    assert.equal(res.status, 200);
    const cookie = sessionCookie(res);
    const db2 = await openServiceDatabase(url);
    const second = await serve(createServiceApp({ logger: false, db: db2 }));
    try {
      assert.deepEqual(parse(await request(second, { path: '/me', headers: { cookie } })), {
        id: 2,
        name: 'Bob',
      });
    } finally {
      await second.close();
    }
  });

  it('answers an unknown email and a wrong password alike, and never echoes what was sent', async () => {
    const unknown = await login('nobody@example.com', 'alice-password');
    const wrong = await login('alice@example.com', 'not-her-password');
    assert.equal(unknown.status, 401);
    assert.equal(wrong.status, 401);
    assert.equal(unknown.body, wrong.body);
    assert.deepEqual(parse<ErrorBody>(wrong).error, {
      code: 'INVALID_CREDENTIALS',
      message: 'Email or password is wrong',
    });
    assert.equal(unknown.headers['set-cookie'], undefined);

    const hostile: [unknown, string][] = [
      [{ email: 'alice@example.com' }, 'password'],
      [{ password: 'secret-typed-in-email' }, 'email'],
      [{ email: ['alice@example.com'], password: 'hunter2-in-array' }, 'email'],
      [{ email: 'alice@example.com', password: { $gt: '' } }, 'password'],
      [{ email: `${'a'.repeat(300)}@example.com`, password: 'hunter2-long-email' }, 'email'],
      // A NUL is refused before the query: PostgreSQL cannot take one in text and answered 500.
      [{ email: 'alice@example.com\u0000', password: 'hunter2-nul' }, 'email'],
      [{ email: 'alice\r\n@example.com', password: 'hunter2-crlf' }, 'email'],
      // 200 characters that lower-case to 400: the bound holds for what is looked up.
      [{ email: `${'\u0130'.repeat(200)}@example.com`, password: 'hunter2-unicode' }, 'email'],
      [null, 'email'],
      [[1, 2], 'email'],
    ];
    for (const [body, field] of hostile) {
      const res = await json('POST', '/login', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
      assert.deepEqual(parse<ErrorBody>(res).error.details, { field });
      assert.doesNotMatch(res.body, /hunter2|secret-typed|aaaa/);
    }
    const tooLong = await login('alice@example.com', 'p'.repeat(2000));
    assert.equal(tooLong.status, 400);
    assert.equal(parse<ErrorBody>(tooLong).error.code, 'WEIR_ERR_PASSWORD_TOO_LONG');
    assert.doesNotMatch(tooLong.body, /pppp/);
    const notJson = await request(handle, {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    assert.equal(notJson.status, 415);
  });

  it('refuses a login a browser sends from another site, so no one is logged in as someone else by a form', async () => {
    // Login CSRF: a page elsewhere auto-submits a form with the attacker's credentials; SameSite does not
    // stop the answer's Set-Cookie, and the victim would then work inside the attacker's account.
    const res = await request(handle, {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      body: 'email=bob%40example.com&password=bob-password',
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers['set-cookie'], undefined);
    for (const site of ['same-origin', 'none']) {
      const ok = await json(
        'POST',
        '/login',
        { email: 'bob@example.com', password: 'bob-password' },
        {
          'sec-fetch-site': site,
        },
      );
      assert.equal(ok.status, 200, site);
    }
  });

  it('takes the same time for an unknown email as for a wrong password', async () => {
    // No warm-up: the stand-in runs with the parameters of new hashes, which the seeded ones have (005).
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 10; i++) {
      for (const [list, email] of [
        [unknown, `nobody${i}@example.com`],
        [wrong, 'carol@example.com'],
      ] as const) {
        const started = performance.now();
        assert.equal((await login(email, 'wrong-password')).status, 401);
        list.push(performance.now() - started);
      }
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1] as number;
    const ratio = median(unknown) / median(wrong);
    assert.ok(
      ratio > 0.7 && ratio < 1.43,
      `unknown ${median(unknown).toFixed(1)} ms vs wrong ${median(wrong).toFixed(1)} ms`,
    );
    // And both are a real hash's time, not a shortcut.
    assert.ok(median(unknown) > 5, `${median(unknown)} ms`);
  });

  it('replaces a hash made with older parameters after a good login', async () => {
    const { hash: seeded } = await db.one<{
      hash: string;
    }>`SELECT password_hash AS hash FROM users WHERE id = 3`;
    assert.match(seeded, /^scrypt\$32768\$/, 'the seeds have current parameters');
    const old = 'scrypt$16384$8$1$Kb0gHLVGS-S814-uy3jE8A$F4a4aD_kerxpnRKcgf9Nbq3PDX98ZYJowjZGEZkq_J8';
    await db.exec`UPDATE users SET password_hash = ${old} WHERE id = 3`;
    assert.equal((await login('carol@example.com', 'carol-password')).status, 200);
    for (let i = 0; i < 200; i++) {
      const { hash } = await db.one<{ hash: string }>`SELECT password_hash AS hash FROM users WHERE id = 3`;
      if (hash.startsWith('scrypt$32768$')) break;
      if (i === 199) assert.fail(`carol's hash was not upgraded: ${hash.slice(0, 14)}`);
      await delay(25);
    }
    assert.equal((await login('carol@example.com', 'carol-password')).status, 200);
  });

  it('issues bearer tokens for GET /api/me, and refuses sessions, forged and foreign tokens there', async () => {
    const issued = await json('POST', '/api/tokens', {
      email: 'alice@example.com',
      password: 'alice-password',
    });
    assert.equal(issued.status, 200);
    assert.equal(issued.headers['cache-control'], 'no-store');
    const { access_token, token_type, expires_in } = parse<{
      access_token: string;
      token_type: string;
      expires_in: number;
    }>(issued);
    assert.equal(token_type, 'Bearer');
    assert.equal(expires_in, 900);
    const me = await request(handle, {
      path: '/api/me',
      headers: { authorization: `Bearer ${access_token}` },
    });
    assert.deepEqual(parse(me), { id: 1, name: 'Alice' });

    assert.equal(
      (await json('POST', '/api/tokens', { email: 'alice@example.com', password: 'nope' })).status,
      401,
    );
    const none = await request(handle, { path: '/api/me' });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="weir"');
    const cookie = sessionCookie(await login('alice@example.com', 'alice-password'));
    assert.equal((await request(handle, { path: '/api/me', headers: { cookie } })).status, 401);
    const foreign = await signJwt(
      { sub: '1', name: 'Alice' },
      {
        key: 'another-secret-of-at-least-32-bytes!',
        algorithm: 'HS256',
        issuer: 'weir-service',
        audience: 'weir-service',
      },
    );
    const refused = await request(handle, {
      path: '/api/me',
      headers: { authorization: `Bearer ${foreign}` },
    });
    assert.equal(refused.status, 401);
    assert.equal(parse<ErrorBody>(refused).error.code, 'WEIR_ERR_INVALID_TOKEN');
  });

  it('refuses a cross-site login or logout that carries the session cookie, and lets same-site ones through', async () => {
    const cookie = sessionCookie(await login('bob@example.com', 'bob-password'));
    const body = JSON.stringify({ email: 'bob@example.com', password: 'bob-password' });
    const crossSite: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      { 'sec-fetch-site': 'same-site', origin: 'https://other.127.0.0.1.nip.io' },
      { origin: 'https://evil.example' },
    ];
    for (const headers of crossSite) {
      for (const path of ['/login', '/logout']) {
        const res = await request(handle, {
          method: 'POST',
          path,
          headers: { cookie, 'content-type': 'application/json', ...headers },
          body,
        });
        assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.equal(parse<ErrorBody>(res).error.code, 'WEIR_ERR_CSRF');
      }
    }
    assert.deepEqual(parse(await request(handle, { path: '/me', headers: { cookie } })), {
      id: 2,
      name: 'Bob',
    });
    const sameOrigin = await request(handle, {
      method: 'POST',
      path: '/logout',
      headers: { cookie, origin: `http://127.0.0.1:${handle.port}` },
    });
    assert.equal(sameOrigin.status, 204);
  });

  it('serves security headers on HTML pages only', async () => {
    const page = await request(handle, { path: '/fortunes' });
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
    const file = await request(handle, { path: '/static/index.html' });
    assert.match(String(file.headers['content-security-policy']), /frame-ancestors 'self'/);
    for (const path of ['/json', '/plaintext', '/me']) {
      const res = await request(handle, { path });
      assert.equal(res.headers['content-security-policy'], undefined, path);
      assert.equal(res.headers['x-content-type-options'], undefined, `${path}: the middleware is not on it`);
    }
  });

  it('sheds a login flood with 503, leaving the thread pool to the file system and /plaintext answering', async () => {
    const flood = Array.from({ length: 150 }, (_, i) => login(`flood${i}@example.com`, 'wrong-password'));
    const latencies: Record<string, number[]> = { '/plaintext': [], '/static/hello.txt': [] };
    let peak = { running: 0, waiting: 0 };
    // A static file is read on libuv's thread pool, where the hashes run: with hashing unbounded it would
    // wait behind ~150 of them (seconds); bounded to 2 of the 4 threads, it does not wait for a hash.
    for (let i = 0; i < 20; i++) {
      const { running, waiting } = passwordStats();
      peak = { running: Math.max(peak.running, running), waiting: Math.max(peak.waiting, waiting) };
      const path = i % 2 === 0 ? '/plaintext' : '/static/hello.txt';
      const started = performance.now();
      const res = await request(handle, { path });
      latencies[path]?.push(performance.now() - started);
      assert.equal(res.status, 200, path);
    }
    const results = await Promise.all(flood);
    const busy = results.filter((r) => r.status === 503);
    assert.ok(busy.length > 0, 'some logins are shed');
    assert.ok(results.every((r) => r.status === 401 || r.status === 503));
    // Shed by the hashing bound, or earlier by the overload limiter as latency rises: either way at once.
    for (const res of busy) {
      assert.match(parse<ErrorBody>(res).error.code, /^WEIR_ERR_(PASSWORD_BUSY|OVERLOADED)$/);
      assert.ok(res.headers['retry-after']);
    }
    assert.ok(peak.running > 0 && peak.running <= 2, `hashes running at once: ${peak.running}`);
    assert.ok(peak.waiting <= 64, `hashes waiting: ${peak.waiting}`);
    // The bound is loose on purpose: the flood's own 150 requests share this process's event loop (the
    // client's side too), which a loaded machine slows; waiting behind the hashes would take seconds.
    for (const [path, times] of Object.entries(latencies)) {
      const worst = Math.max(...times);
      assert.ok(worst < 1500, `${path} took up to ${worst.toFixed(0)} ms during the flood`);
    }
  });
});
