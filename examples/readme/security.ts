import { App } from 'weir';
import { openSessionStore, requireAuth, session, signJwt } from 'weir/security';

export const app = new App();
const store = await openSessionStore(process.env.SESSION_URL); // memory: by default; redis://…, a Database
app.onStop(() => store.close());
const JWT = {
  key: process.env.JWT_SECRET ?? 'dev-only-secret-of-32-bytes-or-more',
  algorithms: ['HS256' as const],
};

app.use(session({ store })); // ctx.session on every route; no store I/O for a request without the cookie

app.post('/login', async (ctx) => {
  // …check the password with verifyPassword() first (see the tour)…
  await ctx.session.logIn({ id: 1, roles: ['admin'] }); // a new session id: an id planted before is dead
  return { id: 1 };
});
app.post('/logout', async (ctx) => {
  await ctx.session.logOut(); // deleted on the server, the cookie cleared
});

app.get('/me', requireAuth(), (ctx) => ({ id: ctx.state.user.id })); // 401 without a session user
app.delete('/users/:id', requireAuth({ roles: ['admin'] }), () => undefined); // 403 without the role

// Bearer tokens for API clients: a JWT (HS256 here) for the session's user, checked by requireAuth({ jwt }).
app.post('/tokens', requireAuth(), async (ctx) => ({
  token: await signJwt(
    { sub: String(ctx.state.user.id), scope: 'read' },
    { key: JWT.key, algorithm: 'HS256' },
  ),
}));
app.get('/api/me', requireAuth({ jwt: JWT, session: false, scopes: ['read'] }), (ctx) => ({
  id: ctx.state.user.id,
}));
