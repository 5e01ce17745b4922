import { createHash, randomBytes } from 'node:crypto';
import { App, HttpError } from 'weir';
import { openDatabase } from 'weir/db';
import {
  hashPassword,
  needsRehash,
  openSessionStore,
  requireAuth,
  session,
  verifyPassword,
} from 'weir/security';

// Keys of your own in the session, typed everywhere: ctx.session.get('theme') is 'light' | 'dark' | undefined.
declare module 'weir/security' {
  interface SessionData {
    theme?: 'light' | 'dark';
    sudoUntil?: number;
  }
}

interface Account {
  readonly id: number;
  readonly roles: string[];
}

export const db = await openDatabase(process.env.DATABASE_URL ?? 'sqlite::memory:');
await db.execScript(`
  CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL,
    hash TEXT NOT NULL, roles TEXT NOT NULL DEFAULT 'member');
  CREATE TABLE IF NOT EXISTS api_tokens (digest TEXT PRIMARY KEY, account_id INTEGER NOT NULL);`);

// Sessions in the same database: every process sees them, and they outlive a restart.
const store = await openSessionStore(db);
export const app = new App();
app.onStop(() => store.close());
app.onStop(() => db.close());
app.use(session({ store, ttlMs: 2 * 3_600_000, absoluteTtlMs: 7 * 86_400_000 }));

export async function signUp(email: string, password: string, roles = 'member'): Promise<void> {
  await db.exec`INSERT INTO accounts (email, hash, roles) VALUES (${email}, ${await hashPassword(password)}, ${roles})`;
}

app.post('/login', async (ctx) => {
  const { email, password } = (await ctx.json<{ email?: unknown; password?: unknown } | null>()) ?? {};
  if (typeof email !== 'string' || typeof password !== 'string') {
    throw HttpError.badRequest('email and password must be strings', { field: 'email' });
  }
  const row = await db.with(ctx).maybeOne<{ id: number; hash: string; roles: string }>`
    SELECT id, hash, roles FROM accounts WHERE email = ${email.toLowerCase()}`;
  // No row: verifyPassword() still spends a hash's time, so both failures look the same.
  if (!(await verifyPassword(password, row?.hash)) || row === undefined) {
    throw HttpError.unauthorized('Email or password is wrong', undefined, 'INVALID_CREDENTIALS');
  }
  if (needsRehash(row.hash)) {
    // Older parameters: store a current hash, after the response.
    app.background(async () => {
      await db.exec`UPDATE accounts SET hash = ${await hashPassword(password)} WHERE id = ${row.id}`;
    });
  }
  await ctx.session.logIn({ id: row.id, roles: row.roles.split(',') });
  return { id: row.id };
});

app.post('/logout', async (ctx) => {
  await ctx.session.logOut();
});

app.put('/theme', requireAuth(), async (ctx) => {
  const { theme } = (await ctx.json<{ theme?: unknown } | null>()) ?? {};
  if (theme !== 'light' && theme !== 'dark') throw HttpError.badRequest('theme must be light or dark');
  ctx.session.set('theme', theme); // saved when the response goes out
  return { theme };
});

// Sudo mode: the password again before a dangerous action. A privilege change moves the session to a
// new id, as a login does.
app.post('/sudo', requireAuth(), async (ctx) => {
  const { password } = (await ctx.json<{ password?: unknown } | null>()) ?? {};
  const row = await db.with(ctx).maybeOne<{ hash: string }>`
    SELECT hash FROM accounts WHERE id = ${ctx.state.user.id}`;
  if (typeof password !== 'string' || !(await verifyPassword(password, row?.hash))) {
    throw HttpError.unauthorized('Password is wrong', undefined, 'INVALID_CREDENTIALS');
  }
  await ctx.session.regenerate();
  ctx.session.set('sudoUntil', Date.now() + 5 * 60_000);
  return { sudo: true };
});
app.delete('/account', requireAuth(), async (ctx) => {
  if ((ctx.session.get('sudoUntil') ?? 0) < Date.now()) {
    throw HttpError.forbidden('Confirm your password first (POST /sudo)', undefined, 'SUDO_REQUIRED');
  }
  await db.exec`DELETE FROM accounts WHERE id = ${ctx.state.user.id}`;
  await ctx.session.logOut();
});
app.get('/admin/report', requireAuth({ roles: ['admin'] }), () => ({ ok: true }));

// Personal API tokens: random, shown once, stored only as a SHA-256 digest (a leaked table is useless).
const digest = (token: string) => createHash('sha256').update(token).digest('base64url');
app.post('/tokens', requireAuth(), async (ctx) => {
  const token = randomBytes(32).toString('base64url');
  await db.exec`INSERT INTO api_tokens (digest, account_id) VALUES (${digest(token)}, ${ctx.state.user.id})`;
  return { token };
});
const apiUser = requireAuth<Account>({
  session: false,
  token: async (token, ctx) => {
    const row = await db.with(ctx).maybeOne<{ id: number; roles: string }>`
      SELECT a.id, a.roles FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.digest = ${digest(token)}`;
    return row && { id: row.id, roles: row.roles.split(',') };
  },
});
app.get('/api/whoami', apiUser, (ctx) => ({ id: ctx.state.user.id, roles: ctx.state.user.roles }));
