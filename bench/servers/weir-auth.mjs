// The auth benchmark's server (see bench/auth.mjs), from the compiled build (run `npm run build` at the
// repo root first). GET /me answers { id, name } of one user; AUTH_VARIANT says what stands in front:
//   without        nothing: the user is a constant;
//   memory         session({ store }) on openSessionStore('memory:'), then requireAuth();
//   redis          the same on openSessionStore(SESSION_URL, { prefix: SESSION_PREFIX });
//   redis-rolling  as redis, with touchAfterMs: 0: every request re-stores the session's expiry and
//                  re-sends its cookie (the default, 60 s, writes once a minute per active session);
//   jwt            requireAuth({ jwt }) on an HS256 secret made at start, no session (the token, the same
//                  on every request, is verified once and then found in the verified-token cache);
//   jwt-uncached   the same with cacheSize: 0: the signature checked on every request.
// POST /login answers { token }, a JWT for the user signed at start (every variant signs one, so that the
// runner can send the same headers to all), and in the session variants logs the user in: a new session,
// its id in Set-Cookie. The Redis keys are under SESSION_PREFIX; the runner removes them.
import { randomBytes } from 'node:crypto';
import { App } from '../../dist/index.js';
import { openSessionStore, requireAuth, session, signJwt } from '../../dist/security/index.js';

const port = Number(process.env.PORT ?? 3000);
const variant = process.env.AUTH_VARIANT ?? 'without';
const USER = { id: 1, name: 'Alice' };
const app = new App({ logger: false });

const secret = randomBytes(32);
const token = await signJwt(
  { sub: String(USER.id), name: USER.name },
  { key: secret, algorithm: 'HS256', expiresInMs: 3_600_000 },
);

let store;
if (variant === 'without') {
  app.post('/login', () => ({ token }));
  app.get('/me', () => ({ id: USER.id, name: USER.name }));
} else if (variant === 'jwt' || variant === 'jwt-uncached') {
  const bearer = requireAuth({
    jwt: {
      key: secret,
      algorithms: ['HS256'],
      user: (claims) => ({ id: Number(claims.sub), name: claims.name }),
      // jwt-uncached: every request verifies the signature, as a token seen for the first time does.
      ...(variant === 'jwt-uncached' && { cacheSize: 0 }),
    },
  });
  app.post('/login', () => ({ token }));
  app.get('/me', bearer, (ctx) => ({ id: ctx.state.user.id, name: ctx.state.user.name }));
} else if (variant === 'memory' || variant === 'redis' || variant === 'redis-rolling') {
  store =
    variant === 'memory'
      ? await openSessionStore('memory:')
      : await openSessionStore(process.env.SESSION_URL ?? 'redis://127.0.0.1:6379', {
          prefix: process.env.SESSION_PREFIX,
        });
  const sessions = session({ store, ...(variant === 'redis-rolling' && { touchAfterMs: 0 }) });
  app.post('/login', sessions, async (ctx) => {
    await ctx.session.logIn(USER);
    return { token };
  });
  app.get('/me', sessions, requireAuth(), (ctx) => ({ id: ctx.state.user.id, name: ctx.state.user.name }));
} else {
  throw new Error(
    `AUTH_VARIANT ${variant}: expected without, memory, redis, redis-rolling, jwt or jwt-uncached`,
  );
}

const handle = await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(
  `weir listening on http://127.0.0.1:${port} (${variant}${store ? `, sessions on ${store.url}` : ''})`,
);
process.once('SIGTERM', async () => {
  await handle.close();
  await store?.close();
  process.exit(0);
});
