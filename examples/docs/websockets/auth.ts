import { App } from 'weir';
import { requireAuth, session } from 'weir/security';

export const app = new App();
app.use(session());

app.post('/login', async (ctx) => {
  const { name } = await ctx.json<{ name: string }>();
  await ctx.session.logIn({ id: name });
  return { ok: true };
});

// The upgrade request runs the app's middleware (session) and the route's (requireAuth) before the
// handshake: without a session the client gets 401 and no socket. ctx.state.user is typed.
app.ws('/me', requireAuth(), (socket, ctx) => {
  socket.send(JSON.stringify({ user: ctx.state.user.id }));
});

// Pages of another origin may open this one (the default lets only the same origin in).
app.ws('/widget', { origins: ['https://partner.example'] }, (socket) => {
  socket.send('hello, partner');
  socket.close(1000, 'done');
});
