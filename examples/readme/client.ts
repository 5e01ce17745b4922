import * as v from 'valibot';
import { App } from 'weir';
import { createClient } from 'weir/client';

const User = v.object({ id: v.number(), name: v.string() });
const Problem = v.object({ error: v.string() });

// Chained: the app's type carries each route, for the client.
export const app = new App()
  .post('/users', { schema: { body: v.object({ name: v.string() }), response: { 201: User } } }, (ctx) =>
    ctx.reply(201, { id: 1, name: ctx.body.name }),
  )
  .get('/users/:id', { schema: { response: { 200: User, 404: Problem } } }, (ctx) =>
    ctx.params.id === '1' ? { id: 1, name: 'Ada' } : ctx.reply(404, { error: 'No such user' }),
  );

// Elsewhere, with only the app's type: import type { app } from './server.ts'
export async function userName(baseUrl: string, id: number): Promise<string> {
  const api = createClient<typeof app>(baseUrl);
  await api.post('/users', { body: { name: 'Ada' } }); // a wrong body, path or method does not compile
  const res = await api.get('/users/:id', { params: { id } });
  if (res.status === 200) return res.data.name; // data: { id: number; name: string }
  if (res.status === 404) return res.data.error; // data: { error: string }
  return res.data.error.code; // any other error status: weir's error body
}
