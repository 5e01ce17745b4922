/**
 * session() under concurrency and partial failure: requests on one session that overlap, and a store that
 * fails between the two halves of a login. A gate in the store holds a request after it has loaded its
 * session, so the overlap is exact, with no timing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { MemorySessionStore, requireAuth, type SessionRecord, session } from 'weir/security';
import { inject } from 'weir/testing';

/** A memory store whose get() can be held open, and whose writes can be made to fail. */
class GatedStore extends MemorySessionStore {
  #gate: Promise<void> | undefined;
  #loaded: (() => void) | undefined;
  failSet = false;
  /** The next get() loads its record, then waits for the returned `release`; `loaded` resolves meanwhile. */
  holdNextGet(): { loaded: Promise<void>; release: () => void } {
    let release!: () => void;
    this.#gate = new Promise((resolve) => {
      release = resolve;
    });
    const loaded = new Promise<void>((resolve) => {
      this.#loaded = resolve;
    });
    return { loaded, release };
  }
  override async get(key: string): Promise<SessionRecord | undefined> {
    const record = await super.get(key);
    const gate = this.#gate;
    this.#gate = undefined;
    this.#loaded?.();
    this.#loaded = undefined;
    if (gate !== undefined) await gate;
    return record;
  }
  override async set(key: string, record: SessionRecord): Promise<void> {
    if (this.failSet) throw new Error('ECONNRESET');
    return super.set(key, record);
  }
}

function build() {
  const store = new GatedStore();
  const app = new App();
  app.use(session({ store }));
  app.post('/login', async (ctx) => {
    await ctx.session.logIn({ id: 1 });
    return null;
  });
  app.post('/logout', async (ctx) => {
    await ctx.session.logOut();
    return null;
  });
  app.post('/cart', (ctx) => {
    ctx.session.set('cart', [...((ctx.session.get('cart') as string[] | undefined) ?? []), ctx.query.item]);
    return null;
  });
  app.get('/cart', (ctx) => ctx.session.get('cart') ?? []);
  app.get('/me', requireAuth(), (ctx) => ctx.state.user);
  return { app, store };
}

const cookieOf = (res: { headers: Record<string, unknown> }) =>
  String((res.headers['set-cookie'] as string[])[0]).split(';')[0] as string;

describe('session() under concurrency', () => {
  it('keeps a logged-out session dead when a write that loaded it before the logout saves after it', async () => {
    const { app, store } = build();
    const cookie = cookieOf(await inject(app, { method: 'POST', url: '/login' }));
    const { loaded, release } = store.holdNextGet();
    const slowWrite = inject(app, { method: 'POST', url: '/cart?item=book', headers: { cookie } });
    await loaded;
    assert.equal((await inject(app, { method: 'POST', url: '/logout', headers: { cookie } })).status, 200);
    release();
    const late = await slowWrite;
    assert.match(String(late.headers['set-cookie']), /Max-Age=0/, 'its cookie, naming nothing, is cleared');
    assert.equal(await store.size(), 0, 'nothing brought back');
    assert.equal((await inject(app, { url: '/me', headers: { cookie } })).status, 401);
  });

  it('loses the first of two overlapping writes to one session (last writer wins, no merge)', async () => {
    const { app, store } = build();
    const cookie = cookieOf(await inject(app, { method: 'POST', url: '/cart?item=pen' }));
    const { loaded, release } = store.holdNextGet();
    const slow = inject(app, { method: 'POST', url: '/cart?item=book', headers: { cookie } });
    await loaded;
    await inject(app, { method: 'POST', url: '/cart?item=lamp', headers: { cookie } });
    release();
    await slow;
    // The slow request saved what it loaded plus its own item: the lamp is gone.
    assert.deepEqual((await inject(app, { url: '/cart', headers: { cookie } })).json(), ['pen', 'book']);
  });

  it('ends a login that races a logout on the same cookie with one consistent session', async () => {
    const { app, store } = build();
    const cookie = cookieOf(await inject(app, { method: 'POST', url: '/login' }));
    const { loaded, release } = store.holdNextGet();
    const login = inject(app, { method: 'POST', url: '/login', headers: { cookie } });
    await loaded;
    await inject(app, { method: 'POST', url: '/logout', headers: { cookie } });
    release();
    const fresh = cookieOf(await login);
    // The old id names nothing; the new one names the logged-in session, and only it is stored.
    assert.equal((await inject(app, { url: '/me', headers: { cookie } })).status, 401);
    assert.deepEqual((await inject(app, { url: '/me', headers: { cookie: fresh } })).json(), { id: 1 });
    assert.equal(await store.size(), 1);
  });
});

describe('session() when the store fails in the middle of a login', () => {
  it('answers 503 with no cookie, and the old cookie then names nothing and is cleared', async () => {
    const { app, store } = build();
    const cookie = cookieOf(await inject(app, { method: 'POST', url: '/cart?item=pen' }));
    store.failSet = true;
    // regenerate() deleted the old record; saving the new one fails.
    const login = await inject(app, { method: 'POST', url: '/login', headers: { cookie } });
    assert.equal(login.status, 503);
    assert.equal(login.headers['set-cookie'], undefined);
    assert.equal(await store.size(), 0, 'no half-made session is left');
    store.failSet = false;
    const after = await inject(app, { url: '/me', headers: { cookie } });
    assert.equal(after.status, 401);
    assert.match(String(after.headers['set-cookie']), /^weir_session=; Max-Age=0/);
    // Logging in again works.
    const retry = await inject(app, { method: 'POST', url: '/login', headers: { cookie } });
    assert.deepEqual((await inject(app, { url: '/me', headers: { cookie: cookieOf(retry) } })).json(), {
      id: 1,
    });
  });
});
