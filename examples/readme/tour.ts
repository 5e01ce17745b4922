import { App, HttpError, json, type Middleware, redirect } from 'weir';

type State = { user?: { id: string } };
export const app = new App<State>({
  cookieSecrets: [process.env.COOKIE_SECRET ?? 'dev-only-secret-change-me'],
});

// Middleware: onion order; after `await next()`, ctx.statusCode and ctx.result are known.
app.use(async (ctx, next) => {
  const started = performance.now();
  await next();
  ctx.set('server-timing', `app;dur=${(performance.now() - started).toFixed(1)}`);
});

// A guard: returns a response instead of calling next(), or adds typed state.
const requireUser: Middleware<State> = async (ctx, next) => {
  const id = ctx.signedCookie('session');
  if (id === undefined) throw HttpError.unauthorized('Log in first');
  ctx.state.user = { id };
  await next();
};

app.post('/login', async (ctx) => {
  // `?? {}`: a JSON body may be null, and destructuring null would be a 500.
  const { name } = (await ctx.json<{ name?: unknown } | null>()) ?? {};
  if (typeof name !== 'string' || name === '') {
    throw HttpError.badRequest('name must be a non-empty string', { field: 'name' });
  }
  ctx.cookie('session', name, { signed: true, maxAgeSeconds: 3600 });
  return json({ hello: name }, 201);
});

app.get('/me', requireUser, (ctx) => ({ id: ctx.state.user?.id }));

// Params are typed from the path: ctx.params.id is a string, ctx.params.other does not compile.
app.get('/users/:id', (ctx) => {
  if (!/^\d+$/.test(ctx.params.id)) throw new HttpError(404, 'USER_NOT_FOUND', `No user ${ctx.params.id}`);
  return { id: Number(ctx.params.id), page: ctx.query.page ?? '1' };
});

// Per-route limits and deadlines: 413 past 10 KiB; 503 and ctx.signal aborted after 2 s.
app.post('/notes', { bodyLimitBytes: 10 * 1024, timeoutMs: 2000 }, async (ctx) => {
  const note = await ctx.text();
  return json({ length: note.length }, 201);
});

app.get('/old', () => redirect('/users/1', 301));
