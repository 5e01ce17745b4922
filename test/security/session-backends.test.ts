/**
 * session() and requireAuth() end to end on each real store: login, the guard, rotation at login, logout
 * on the server, and a session seen by a second app (another process's view) on the shared stores.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App } from 'weir';
import { openSessionStore, requireAuth, type SessionStore, session } from 'weir/security';
import { inject } from 'weir/testing';
import {
  freshPostgresDatabase,
  postgresSkip,
  REDIS_URL,
  redisSkip,
  uniqueNamespace,
} from '../helpers/services.ts';
import { removePrefixes } from './session-redis.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-session-e2e-'));
const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function appOn(store: SessionStore): App {
  const app = new App();
  app.use(session({ store }));
  app.post('/login', async (ctx) => {
    await ctx.session.logIn({ id: 7 });
    return null;
  });
  app.post('/logout', async (ctx) => {
    await ctx.session.logOut();
  });
  app.get('/me', requireAuth(), (ctx) => ({ id: ctx.state.user.id }));
  return app;
}

const cookieOf = (res: { headers: Record<string, unknown> }) =>
  String((res.headers['set-cookie'] as string[])[0]).split(';')[0] as string;

const pgSkip = await postgresSkip();
const rSkip = await redisSkip();

type Target = { url: string; prefix?: string };
const backends: [string, string | false, () => Promise<Target>][] = [
  ['sqlite', false, async () => ({ url: `sqlite:${join(dir, 'sessions.db')}` })],
  [
    'postgres',
    pgSkip,
    async () => {
      const fresh = await freshPostgresDatabase('sessione2e');
      cleanups.push(fresh.drop);
      return { url: fresh.url };
    },
  ],
  [
    'redis',
    rSkip,
    async () => {
      const prefix = `${uniqueNamespace('session-e2e')}:`;
      cleanups.push(() => removePrefixes([prefix]));
      return { url: REDIS_URL, prefix };
    },
  ],
];

for (const [name, skip, url] of backends) {
  describe(`session() on ${name}`, { skip }, () => {
    it('logs in with a fresh id, is seen by a second app on the same store, and logs out on the server', async () => {
      const { url: target, prefix } = await url();
      const open = () => openSessionStore(target, prefix === undefined ? {} : { prefix });
      const [first, second] = [await open(), await open()];
      cleanups.push(
        () => first.close(),
        () => second.close(),
      );
      const [a, b] = [appOn(first), appOn(second)];
      const planted = cookieOf(await inject(a, { method: 'POST', url: '/login' }));
      const cookie = cookieOf(
        await inject(a, { method: 'POST', url: '/login', headers: { cookie: planted } }),
      );
      assert.notEqual(cookie, planted);
      assert.equal((await inject(b, { url: '/me', headers: { cookie: planted } })).status, 401);
      assert.deepEqual((await inject(b, { url: '/me', headers: { cookie } })).json(), { id: 7 });
      assert.equal((await inject(b, { method: 'POST', url: '/logout', headers: { cookie } })).status, 204);
      assert.equal((await inject(a, { url: '/me', headers: { cookie } })).status, 401);
    });
  });
}
