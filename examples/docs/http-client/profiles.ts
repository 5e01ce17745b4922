import * as v from 'valibot';
import { App, HttpError } from 'weir';
import { createHttpClient } from 'weir/http-client';

const User = v.object({ id: v.number(), name: v.string() });

export function createApp(usersUrl: string) {
  // One client per upstream, made at start-up: its pool keeps connections alive between requests.
  const users = createHttpClient({ baseUrl: usersUrl, connections: 32, timeouts: { totalMs: 2000 } });
  const app = new App();
  app.onStop(() => users.close());

  // `{ ctx }`: the call is closed when the client leaves or the route's 3 s deadline passes, and no
  // retry starts after it. A 5xx or timeout of the upstream answers 502/504 with weir's own error body.
  app.get('/profiles/:id', { timeoutMs: 3000 }, async (ctx) => {
    const id = encodeURIComponent(ctx.params.id);
    const user = await users.getJson(`/users/${id}`, { ctx, schema: User });
    return { id: user.id, displayName: user.name.toUpperCase() };
  });

  // request() resolves with any status: handle the ones you expect, such as 404.
  app.get('/profiles/:id/exists', async (ctx) => {
    const res = await users.head(`/users/${encodeURIComponent(ctx.params.id)}`, { ctx });
    if (res.status === 404) throw HttpError.notFound('No such user');
    if (!res.ok) throw HttpError.unavailable('The users service is not answering', 1);
    return { exists: true };
  });
  return app;
}
