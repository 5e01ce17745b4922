import { App, HttpError, json } from 'weir';

// Body readers are bounded: 1 MiB and 64 levels of JSON unless the app or the route says otherwise.
export const app = new App({ bodyLimitBytes: 64 * 1024 });

app.post('/greetings', async (ctx) => {
  // 415 unless the body is JSON; 400 if it is malformed or has a __proto__ key; 413 past the limit.
  const { name } = (await ctx.json<{ name?: unknown } | null>()) ?? {};
  if (typeof name !== 'string' || name.length > 100) {
    throw HttpError.badRequest('name must be a string of at most 100 characters', { field: 'name' });
  }
  return json({ greeting: `Hello, ${name}` }, 201);
});

// A route's own limit; ctx.buffer() reads bytes the same way.
app.post('/notes', { bodyLimitBytes: 256 }, async (ctx) => ({ length: (await ctx.text()).length }));

// application/x-www-form-urlencoded; a repeated name becomes a list.
app.post('/subscribe', async (ctx) => ctx.form());
