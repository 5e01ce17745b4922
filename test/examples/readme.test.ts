import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shutdownWorkers } from 'weir';
import { inject } from 'weir/testing';
import { app as concurrencyApp, deliverAll, emails } from '../../examples/readme/concurrency.ts';
import { app } from '../../examples/readme/tour.ts';
import { request, serve } from '../helpers/http.ts';
import { spawnTs } from '../helpers/process.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('shows the example files verbatim', () => {
    for (const name of [
      'hello.ts',
      'tour.ts',
      'concurrency.ts',
      'data.ts',
      'cache.ts',
      'jobs.ts',
      'deadlines.ts',
      'security.ts',
      'protection.ts',
      'schemas.ts',
      'client.ts',
    ]) {
      const source = readFileSync(new URL(`../../examples/readme/${name}`, import.meta.url), 'utf8');
      assert.ok(readme.includes(source.trim()), `README does not show examples/readme/${name} as it is`);
    }
  });

  it('says to run exactly `npm ci` then `npm start`', () => {
    assert.match(readme, /```sh\nnpm ci\nnpm start\n```/);
  });

  it('hello world runs and answers', async () => {
    const hello = spawnTs(new URL('../../examples/readme/hello.ts', import.meta.url), {
      PORT: '0',
      LOG_LEVEL: 'info',
    });
    try {
      const [, url] = await hello.waitFor(/"url":"(http:\/\/[^"]+)"/);
      const port = Number(new URL(url!).port);
      assert.equal((await request({ port }, { path: '/hello/readme' })).body, 'Hello, readme');
      assert.equal((await request({ port }, { path: '/json' })).body, '{"message":"Hello, World!"}');
    } finally {
      hello.child.kill('SIGTERM');
    }
  });

  it('the tour app behaves as the README says', async () => {
    assert.equal((await inject(app, { url: '/me' })).status, 401);
    const nullBody = await inject(app, {
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/json' },
      body: 'null',
    });
    assert.equal(nullBody.status, 400);
    const bad = await inject(app, { method: 'POST', url: '/login', body: { email: 3 } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json(), {
      error: {
        code: 'BAD_REQUEST',
        message: 'email and password must be strings',
        details: { field: 'email' },
      },
    });
    for (const body of [
      { email: 'ada@example.com', password: 'wrong' },
      { email: 'bob@example.com', password: 'correct horse battery' },
    ]) {
      const refused = await inject(app, { method: 'POST', url: '/login', body });
      assert.equal(refused.status, 401);
      assert.equal(
        refused.json<{ error: { message: string } }>().error.message,
        'Email or password is wrong',
      );
    }
    const login = await inject(app, {
      method: 'POST',
      url: '/login',
      body: { email: 'ada@example.com', password: 'correct horse battery' },
    });
    assert.equal(login.status, 201);
    const line = (login.headers['set-cookie'] as string[])[0]!;
    assert.match(line, /^weir_session=[\w-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    const cookie = line.split(';')[0]!;
    const me = await inject(app, { url: '/me', headers: { cookie } });
    assert.deepEqual(me.json(), { id: 1 });
    assert.match(String(me.headers['server-timing']), /^app;dur=\d+\.\d$/);
    assert.deepEqual((await inject(app, { url: '/users/7?page=2' })).json(), { id: 7, page: '2' });
    assert.equal(
      (await inject(app, { url: '/users/x' })).json<{ error: { code: string } }>().error.code,
      'USER_NOT_FOUND',
    );
    const big = await inject(app, { method: 'POST', url: '/notes', body: 'x'.repeat(11 * 1024) });
    assert.equal(big.status, 413);
    assert.equal((await inject(app, { method: 'POST', url: '/notes', body: 'short' })).status, 201);
    assert.deepEqual((await inject(app, { url: '/api/books/7' })).json(), { id: 7, title: 'Dune' });
    assert.equal((await inject(app, { url: '/api/books/x' })).status, 400);
    const described = (await inject(app, { url: '/openapi.json' })).json<{
      paths: Record<string, unknown>;
    }>();
    assert.ok(described.paths['/api/books/{id}'], Object.keys(described.paths).join());
    const old = await inject(app, { url: '/old' });
    assert.equal(old.status, 301);
    assert.equal(old.headers.location, '/users/1');
  });

  it('the concurrency app behaves as the README says', async () => {
    const users = await inject(concurrencyApp, { url: '/users' });
    assert.deepEqual(
      users.json<{ id: number }[]>().map((u) => u.id),
      [1, 2, 3],
    );
    const slow = await inject(concurrencyApp, { url: '/slow' });
    assert.equal(slow.status, 503);
    assert.equal(slow.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_TIMEOUT');
    const profile = await inject(concurrencyApp, { url: '/profile/4' });
    assert.deepEqual(profile.json(), {
      user: { id: 4, name: 'user 4' },
      friends: [
        { id: 7, name: 'user 7' },
        { id: 8, name: 'user 8' },
      ],
    });
    try {
      assert.deepEqual((await inject(concurrencyApp, { url: '/fib/20' })).json(), { fib: 6765 });
    } finally {
      await shutdownWorkers();
    }
    assert.equal((await inject(concurrencyApp, { method: 'POST', url: '/invite' })).status, 400);
    for (const to of ['a@x', 'b@x', 'c@x']) {
      assert.equal((await inject(concurrencyApp, { method: 'POST', url: '/invite?to=' + to })).status, 204);
    }
    const sent: string[] = [];
    const delivering = deliverAll(async (to) => {
      sent.push(to);
    });
    await emails.join();
    emails.close();
    await delivering;
    assert.deepEqual(sent, ['a@x', 'b@x', 'c@x']);
  });

  it('the data example behaves as the README says', async () => {
    process.env.DATABASE_URL = 'sqlite::memory:';
    const { app: data } = await import('../../examples/readme/data.ts');
    try {
      const created = await inject(data, { method: 'POST', url: '/notes', body: { body: 'first' } });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json(), { id: 1, body: 'first' });
      assert.deepEqual((await inject(data, { url: '/notes/1' })).json(), { id: 1, body: 'first' });
      const missing = await inject(data, { url: '/notes/9' });
      assert.equal(missing.status, 404);
      assert.equal(missing.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_DB_NOT_FOUND');
      const duplicate = await inject(data, { method: 'POST', url: '/notes', body: { body: 'first' } });
      assert.equal(duplicate.status, 409);
      assert.equal(duplicate.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_DB_UNIQUE_VIOLATION');
      const batch = await inject(data, {
        method: 'POST',
        url: '/notes/batch',
        body: { bodies: ['a', 'b', 'first'] },
      });
      assert.equal(batch.status, 409, 'the third insert fails');
      assert.equal(
        (await inject(data, { url: '/notes/2' })).status,
        404,
        'and the first two were rolled back',
      );
      const ok = await inject(data, { method: 'POST', url: '/notes/batch', body: { bodies: ['a', 'b'] } });
      assert.deepEqual(ok.json(), { inserted: 2 });
      // Hostile bodies are 400s, never 500s.
      for (const [url, body] of [
        ['/notes', 'null'],
        ['/notes', '[1]'],
        ['/notes/batch', '{"bodies":5}'],
        ['/notes/batch', '{"bodies":[1]}'],
        ['/notes/batch', 'null'],
      ] as const) {
        const res = await inject(data, {
          method: 'POST',
          url,
          headers: { 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 400, `${url} ${body}`);
      }
    } finally {
      await data.stop();
      delete process.env.DATABASE_URL;
    }
  });

  it('the cache example behaves as the README says', async () => {
    const { app: shop, upstream } = await import('../../examples/readme/cache.ts');
    try {
      const all = await Promise.all(Array.from({ length: 1000 }, () => inject(shop, { url: '/prices' })));
      assert.equal(upstream.calls, 1);
      for (const res of all) assert.deepEqual(res.json(), { apple: 1.2, pear: 0.9 });
      const first = all[0]!;
      assert.equal(first.headers['cache-control'], 'public, max-age=30');
      const again = await inject(shop, {
        url: '/prices',
        headers: { 'if-none-match': String(first.headers.etag) },
      });
      assert.equal(again.status, 304);
      assert.deepEqual((await inject(shop, { method: 'POST', url: '/prices/refresh' })).json(), {
        refreshed: true,
      });
      await inject(shop, { url: '/prices' });
      assert.equal(upstream.calls, 2);
    } finally {
      await shop.stop();
    }
  });

  it('the job queue example behaves as the README says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-readme-jobs-'));
    process.env.QUEUE_URL = `sqlite:${join(dir, 'queue.db')}`;
    const { app: shop, sent } = await import('../../examples/readme/jobs.ts');
    delete process.env.QUEUE_URL;
    try {
      const first = await inject(shop, {
        method: 'POST',
        url: '/orders/42/invoice',
        body: { email: 'ada@example.com' },
      });
      assert.equal(first.status, 202);
      for (const body of ['null', '{"email":5}', '{}']) {
        const res = await inject(shop, {
          method: 'POST',
          url: '/orders/43/invoice',
          headers: { 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 400, body);
      }
      const { id } = first.json<{ id: string }>();
      assert.equal(first.headers.location, `/jobs/${id}`);
      const again = await inject(shop, {
        method: 'POST',
        url: '/orders/42/invoice',
        body: { email: 'ada@example.com' },
      });
      assert.equal(again.json<{ id: string }>().id, id, 'the same order enqueues one job');
      assert.equal((await inject(shop, { url: `/jobs/${id}` })).json<{ state: string }>().state, 'waiting');
      await shop.startWorkers();
      const state = async () => (await inject(shop, { url: `/jobs/${id}` })).json<{ state: string }>().state;
      for (let i = 0; i < 250 && (await state()) !== 'completed'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(sent, ['42 → ada@example.com']);
      assert.deepEqual((await inject(shop, { url: `/jobs/${id}` })).json<{ result: unknown }>().result, {
        sent: true,
      });
    } finally {
      await shop.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('security: a session login, the guard, roles, logout on the server, and bearer tokens', async () => {
    const { app: secured } = await import('../../examples/readme/security.ts');
    assert.equal((await inject(secured, { url: '/me' })).status, 401);
    const login = await inject(secured, { method: 'POST', url: '/login' });
    const cookie = (login.headers['set-cookie'] as string[])[0]!.split(';')[0]!;
    assert.deepEqual((await inject(secured, { url: '/me', headers: { cookie } })).json(), { id: 1 });
    assert.equal(
      (await inject(secured, { method: 'DELETE', url: '/users/2', headers: { cookie } })).status,
      204,
    );
    const { token } = (await inject(secured, { method: 'POST', url: '/tokens', headers: { cookie } })).json<{
      token: string;
    }>();
    const api = await inject(secured, { url: '/api/me', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(api.json(), { id: '1' });
    assert.equal((await inject(secured, { url: '/api/me', headers: { cookie } })).status, 401);
    assert.equal(
      (await inject(secured, { method: 'POST', url: '/logout', headers: { cookie } })).status,
      204,
    );
    assert.equal((await inject(secured, { url: '/me', headers: { cookie } })).status, 401);
    assert.equal((await inject(secured, { method: 'DELETE', url: '/users/2' })).status, 401);
  });

  it('protection: CSP nonces on HTML, cross-site POSTs refused, CORS on the API, a rate limit', async () => {
    const { app: site } = await import('../../examples/readme/protection.ts');
    const page = await inject(site, { url: '/' });
    const nonce = /nonce="([^"]+)"/.exec(page.body)?.[1] as string;
    assert.ok(String(page.headers['content-security-policy']).includes(`'nonce-${nonce}'`));
    const cookie = 'weir_session=x';
    const cross = await inject(site, {
      method: 'POST',
      url: '/comments',
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(cross.status, 403);
    const same = await inject(site, {
      method: 'POST',
      url: '/comments',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(same.status, 200);
    const preflight = await inject(site, {
      method: 'OPTIONS',
      url: '/api/items',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
    let last = 0;
    for (let i = 0; i < 100 && last !== 429; i++) {
      last = (await inject(site, { url: '/api/items', headers: { 'x-forwarded-for': '10.9.9.9' } })).status;
    }
    assert.equal(last, 200, '100 allowed');
    assert.equal(
      (await inject(site, { url: '/api/items', headers: { 'x-forwarded-for': '10.9.9.9' } })).status,
      429,
    );
  });

  it('schemas: validates, coerces, answers the declared statuses', async () => {
    const { app: api } = await import('../../examples/readme/schemas.ts');
    const made = await inject(api, { method: 'POST', url: '/users', body: { name: 'Ada' } });
    assert.equal(made.status, 201);
    assert.deepEqual(made.json(), { id: 1, name: 'Ada' });
    assert.equal((await inject(api, { method: 'POST', url: '/users', body: { name: 'Ada' } })).status, 409);
    const bad = await inject(api, { method: 'POST', url: '/users', body: { name: '' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad
        .json<{ error: { details: { issues: { in: string; path: string }[] } } }>()
        .error.details.issues.map((i) => `${i.in}:${i.path}`),
      ['body:name'],
    );
    assert.deepEqual((await inject(api, { url: '/users/1' })).json(), { id: 1, name: 'Ada' });
    assert.equal((await inject(api, { url: '/users/2' })).status, 404);
    assert.equal((await inject(api, { url: '/users/x' })).status, 400);
  });

  it('client: calls the app through its types, and reads each status', async () => {
    const { app: api, userName } = await import('../../examples/readme/client.ts');
    const handle = await serve(api);
    try {
      const base = `http://127.0.0.1:${handle.port}`;
      assert.equal(await userName(base, 1), 'Ada');
      assert.equal(await userName(base, 2), 'No such user');
    } finally {
      await handle.close();
    }
  });

  it('deadlines: answers in full, skips the optional part for a hurried trusted caller, audits after', async () => {
    const { app: orders, audited } = await import('../../examples/readme/deadlines.ts');
    const full = await inject(orders, { url: '/orders/7' });
    assert.deepEqual(full.json(), { order: { id: '7' }, offers: ['more like 7'] });
    const hurried = await inject(orders, {
      url: '/orders/8',
      headers: { 'grpc-timeout': '50m' },
      remoteAddress: '127.0.0.1',
    });
    assert.deepEqual(hurried.json(), { order: { id: '8' } });
    await orders.stop(); // waits for the background audit
    assert.deepEqual(audited, ['7']);
  });
});
