import * as v from 'valibot';
import { App, HttpError, json, redirect } from 'weir';
import { hashPassword, requireAuth, session, verifyPassword } from 'weir/security';

export const app = new App();
// One user, for the tour; a real app keeps the hash in its database.
const users = new Map([['ada@example.com', { id: 1, hash: await hashPassword('correct horse battery') }]]);

// Middleware: onion order; after `await next()`, ctx.statusCode and ctx.result are known.
app.use(async (ctx, next) => {
  const started = performance.now();
  await next();
  ctx.set('server-timing', `app;dur=${(performance.now() - started).toFixed(1)}`);
});

// Server-side sessions: the cookie holds a random id (HttpOnly, SameSite=Lax), the data stays here.
app.use(session());

app.post('/login', async (ctx) => {
  // `?? {}`: a JSON body may be null, and destructuring null would be a 500.
  const { email, password } = (await ctx.json<{ email?: unknown; password?: unknown } | null>()) ?? {};
  if (typeof email !== 'string' || typeof password !== 'string') {
    throw HttpError.badRequest('email and password must be strings', { field: 'email' });
  }
  const user = users.get(email);
  // Given no hash, verifyPassword() spends a hash's time too: an unknown email looks like a wrong password.
  if (!(await verifyPassword(password, user?.hash)) || user === undefined) {
    throw HttpError.unauthorized('Email or password is wrong');
  }
  await ctx.session.logIn({ id: user.id }); // a new session id: fixation-safe
  return json({ id: user.id }, 201);
});

// A guard: 401 without a logged-in user; after it, ctx.state.user is typed.
app.get('/me', requireAuth(), (ctx) => ({ id: ctx.state.user.id }));

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

// Schemas (any Standard Schema; valibot here): ctx.params typed from them, bad input a 400 naming each
// issue, the answer written by its schema. Chained, the routes stay in the app's type for the typed
// client, createClient<typeof api>(url) from weir/client; app.openapi() describes every route.
const Book = v.object({ id: v.number(), title: v.string() });
const read = {
  params: v.object({ id: v.pipe(v.string(), v.digits(), v.transform(Number)) }),
  response: { 200: Book },
};
export const api = new App().get('/books/:id', { schema: read }, (ctx) => ({
  id: ctx.params.id,
  title: 'Dune',
}));
app.route('/api', api);
app.get('/openapi.json', () => app.openapi());
