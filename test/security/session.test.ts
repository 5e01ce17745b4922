import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { App } from 'weir';
import {
  MemorySessionStore,
  requireAuth,
  type SessionRecord,
  type SessionStore,
  session,
} from 'weir/security';
import { inject } from 'weir/testing';

/** A memory store that counts what reaches it, and can be made to fail. */
class WatchedStore implements SessionStore {
  readonly backend = 'memory';
  readonly url = 'memory:';
  readonly inner = new MemorySessionStore();
  readonly calls: string[] = [];
  failing = false;
  #call(name: string): void {
    this.calls.push(name);
    if (this.failing) throw new Error('ECONNREFUSED 10.1.2.3:6379 password=hunter2');
  }
  async get(key: string) {
    this.#call('get');
    return this.inner.get(key);
  }
  async set(key: string, record: SessionRecord) {
    this.#call('set');
    return this.inner.set(key, record);
  }
  async replace(key: string, record: SessionRecord) {
    this.#call('replace');
    return this.inner.replace(key, record);
  }
  async touch(key: string, expiresAt: number) {
    this.#call('touch');
    return this.inner.touch(key, expiresAt);
  }
  async delete(key: string) {
    this.#call('delete');
    return this.inner.delete(key);
  }
  size() {
    return this.inner.size();
  }
  close() {
    return this.inner.close();
  }
}

const keyOf = (id: string) => createHash('sha256').update(id).digest('base64url');

function cookieOf(res: { headers: Record<string, unknown> }, name = 'weir_session'): string | undefined {
  const lines = res.headers['set-cookie'] as string[] | undefined;
  const line = lines?.find((l) => l.startsWith(`${name}=`));
  return line;
}

function idOf(line: string | undefined): string {
  assert.ok(line, 'a Set-Cookie line');
  return line.split(';')[0]!.split('=')[1]!;
}

function build(options: Parameters<typeof session>[0] = {}) {
  const store = new WatchedStore();
  const app = new App({ trustProxy: 1 });
  app.use(session({ store, ...options }));
  app.get('/peek', (ctx) => ({ visits: ctx.session.get('visits') ?? 0, isNew: ctx.session.isNew }));
  app.post('/visit', (ctx) => {
    const visits = Number(ctx.session.get('visits') ?? 0) + 1;
    ctx.session.set('visits', visits);
    return { visits };
  });
  app.post('/big', (ctx) => {
    ctx.session.set('blob', 'x'.repeat(70_000));
    return { ok: true };
  });
  app.post('/bigint', (ctx) => {
    ctx.session.set('n', 1n);
    return { ok: true };
  });
  app.post('/login', async (ctx) => {
    await ctx.session.logIn({ id: 7, roles: ['member'] });
    return { ok: true };
  });
  app.post('/logout', async (ctx) => {
    await ctx.session.logOut();
    return { ok: true };
  });
  app.post('/touch-and-clear', (ctx) => {
    ctx.session.set('tmp', 1);
    ctx.session.unset('tmp');
    return { ok: true };
  });
  app.get('/me', requireAuth(), (ctx) => ({ id: ctx.state.user.id }));
  return { app, store };
}

describe('session()', () => {
  afterEach(() => {
    delete process.env.WEIR_WORKER_SLOT;
  });

  it('costs no store I/O and sets no cookie for a request that neither brings nor fills a session', async () => {
    const { app, store } = build();
    const res = await inject(app, { url: '/peek' });
    assert.deepEqual(res.json(), { visits: 0, isNew: true });
    assert.equal(res.headers['set-cookie'], undefined);
    const empty = await inject(app, { method: 'POST', url: '/touch-and-clear' });
    assert.equal(empty.headers['set-cookie'], undefined, 'an emptied session is not stored');
    assert.deepEqual(store.calls, []);
  });

  it('stores a session when it holds something, with a safe cookie, and reads it back', async () => {
    const { app, store } = build();
    const first = await inject(app, { method: 'POST', url: '/visit' });
    const line = cookieOf(first);
    assert.match(line ?? '', /^weir_session=[\w-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    const cookie = `weir_session=${idOf(line)}`;
    const second = await inject(app, { method: 'POST', url: '/visit', headers: { cookie } });
    assert.deepEqual(second.json(), { visits: 2 });
    assert.deepEqual((await inject(app, { url: '/peek', headers: { cookie } })).json(), {
      visits: 2,
      isNew: false,
    });
    // The store holds the SHA-256 of the id, never the id.
    assert.equal(await store.size(), 1);
    assert.ok(await store.inner.get(keyOf(idOf(line))));
    assert.equal(await store.inner.get(idOf(line)), undefined);
  });

  it('marks the cookie Secure over HTTPS as a trusted proxy reports it, and not on the word of anyone else', async () => {
    const { app } = build();
    const viaProxy = await inject(app, {
      method: 'POST',
      url: '/visit',
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.match(cookieOf(viaProxy) ?? '', /; Secure/);
    const strict = new App();
    strict.use(session());
    strict.post('/visit', (ctx) => {
      ctx.session.set('visits', 1);
      return null;
    });
    const spoofed = await inject(strict, {
      method: 'POST',
      url: '/visit',
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.doesNotMatch(cookieOf(spoofed) ?? '', /Secure/);
  });

  it('gives the session a new id at login and deletes the old record (fixation)', async () => {
    const { app, store } = build();
    // The attacker's session, planted in the victim's browser.
    const planted = idOf(cookieOf(await inject(app, { method: 'POST', url: '/visit' })));
    const login = await inject(app, {
      method: 'POST',
      url: '/login',
      headers: { cookie: `weir_session=${planted}` },
    });
    const fresh = idOf(cookieOf(login));
    assert.notEqual(fresh, planted);
    assert.equal(await store.inner.get(keyOf(planted)), undefined, 'the planted id names nothing');
    assert.equal(
      (await inject(app, { url: '/me', headers: { cookie: `weir_session=${planted}` } })).status,
      401,
    );
    const me = await inject(app, { url: '/me', headers: { cookie: `weir_session=${fresh}` } });
    assert.deepEqual(me.json(), { id: 7 });
    // The data came along.
    assert.deepEqual(
      (await inject(app, { url: '/peek', headers: { cookie: `weir_session=${fresh}` } })).json(),
      {
        visits: 1,
        isNew: false,
      },
    );
  });

  it('ends the session on the server at logout: the old cookie no longer works even if the client keeps it', async () => {
    const { app, store } = build();
    const cookie = `weir_session=${idOf(cookieOf(await inject(app, { method: 'POST', url: '/login' })))}`;
    assert.equal((await inject(app, { url: '/me', headers: { cookie } })).status, 200);
    const out = await inject(app, { method: 'POST', url: '/logout', headers: { cookie } });
    assert.match(cookieOf(out) ?? '', /^weir_session=; Max-Age=0;/);
    assert.equal(await store.size(), 0);
    const replay = await inject(app, { url: '/me', headers: { cookie } });
    assert.equal(replay.status, 401);
    assert.equal(replay.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_UNAUTHENTICATED');
  });

  it('treats a tampered or malformed cookie as no session, clears it, and looks up only well-formed ids', async () => {
    const { app, store } = build();
    const id = idOf(cookieOf(await inject(app, { method: 'POST', url: '/login' })));
    const flipped = (id[0] === 'A' ? 'B' : 'A') + id.slice(1);
    store.calls.length = 0;
    const tampered = await inject(app, { url: '/me', headers: { cookie: `weir_session=${flipped}` } });
    assert.equal(tampered.status, 401);
    assert.match(cookieOf(tampered) ?? '', /Max-Age=0/);
    assert.deepEqual(store.calls, ['get']);
    store.calls.length = 0;
    for (const hostile of [
      `${id}x`,
      id.slice(1),
      `${id.slice(0, 42)}*`,
      "' OR 1=1 --",
      'a'.repeat(4000),
      '%00',
    ]) {
      const res = await inject(app, {
        url: '/me',
        headers: { cookie: `weir_session=${encodeURIComponent(hostile)}` },
      });
      assert.equal(res.status, 401, hostile);
      assert.match(cookieOf(res) ?? '', /Max-Age=0/);
    }
    assert.deepEqual(store.calls, [], 'malformed ids never reach the store');
  });

  it('refuses an expired session and one past its absolute lifetime', async () => {
    const { app, store } = build({ ttlMs: 60_000, absoluteTtlMs: 120_000 });
    const id = idOf(cookieOf(await inject(app, { method: 'POST', url: '/login' })));
    const cookie = `weir_session=${id}`;
    const record = (await store.inner.get(keyOf(id)))!;
    assert.ok(record.expiresAt > Date.now() + 59_000 && record.expiresAt <= Date.now() + 60_000);
    await store.inner.set(keyOf(id), { ...record, expiresAt: Date.now() - 1 });
    assert.equal((await inject(app, { url: '/me', headers: { cookie } })).status, 401);
    // Idle expiry is fine, but the session began longer ago than absoluteTtlMs.
    await store.inner.set(keyOf(id), { ...record, createdAt: Date.now() - 121_000 });
    const res = await inject(app, { url: '/me', headers: { cookie } });
    assert.equal(res.status, 401);
    assert.match(cookieOf(res) ?? '', /Max-Age=0/);
  });

  it('rolls the expiry forward at most once per touchAfterMs, never past the absolute lifetime', async () => {
    const { app, store } = build({ ttlMs: 60_000, touchAfterMs: 10_000 });
    const id = idOf(cookieOf(await inject(app, { method: 'POST', url: '/login' })));
    const cookie = `weir_session=${id}`;
    store.calls.length = 0;
    const soon = await inject(app, { url: '/me', headers: { cookie } });
    assert.equal(soon.headers['set-cookie'], undefined);
    assert.deepEqual(store.calls, ['get'], 'no write for a session used moments ago');
    const record = (await store.inner.get(keyOf(id)))!;
    await store.inner.set(keyOf(id), { ...record, expiresAt: Date.now() + 30_000 });
    store.calls.length = 0;
    const later = await inject(app, { url: '/me', headers: { cookie } });
    assert.deepEqual(store.calls, ['get', 'touch']);
    assert.match(cookieOf(later) ?? '', /Max-Age=(59|60);/);
    // Near the absolute end, the expiry stops there.
    await store.inner.set(keyOf(id), {
      ...record,
      createdAt: Date.now() - 604_800_000 + 20_000,
      expiresAt: Date.now() + 5_000,
    });
    const capped = await inject(app, { url: '/me', headers: { cookie } });
    assert.match(cookieOf(capped) ?? '', /Max-Age=(19|20);/);
  });

  it('answers 503 naming nothing internal when the store fails, instead of running the request anonymous', async () => {
    const { app, store } = build();
    const cookie = `weir_session=${idOf(cookieOf(await inject(app, { method: 'POST', url: '/login' })))}`;
    store.failing = true;
    for (const request of [
      { url: '/me', headers: { cookie } },
      { method: 'POST', url: '/visit' },
      { method: 'POST', url: '/logout', headers: { cookie } },
    ]) {
      const res = await inject(app, request);
      assert.equal(res.status, 503, request.url);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_SESSION_STORE');
      assert.doesNotMatch(res.body, /hunter2|10\.1\.2\.3|ECONNREFUSED/);
    }
  });

  it('refuses session data over maxDataBytes or not JSON, without leaking it', async () => {
    const { app } = build();
    for (const url of ['/big', '/bigint']) {
      const res = await inject(app, { method: 'POST', url });
      assert.equal(res.status, 500, url);
      assert.doesNotMatch(res.body, /xxxx/);
    }
  });

  it('is an error to read ctx.session on a route the middleware does not wrap', async () => {
    const app = new App();
    app.get('/x', (ctx) => ctx.session.get('visits') ?? null);
    assert.equal((await inject(app, { url: '/x' })).status, 500);
  });

  it('refuses the in-process store under several workers unless allowed', () => {
    process.env.WEIR_WORKER_SLOT = '1';
    assert.throws(() => session(), { code: 'WEIR_ERR_INVALID_OPTION', message: /allowMemoryWithWorkers/ });
    assert.doesNotThrow(() => session({ allowMemoryWithWorkers: true }));
  });

  it('checks its options', () => {
    for (const bad of [
      { ttlMs: 10 },
      { ttlMs: 60_000, absoluteTtlMs: 30_000 },
      { touchAfterMs: -1 },
      { maxDataBytes: 1 },
      { cookie: { name: 'a b' } },
      { cookie: { sameSite: 'none' as const, secure: false } },
      { store: {} as SessionStore },
    ]) {
      assert.throws(() => session(bad), { code: 'WEIR_ERR_INVALID_OPTION' }, JSON.stringify(bad));
    }
  });
});
