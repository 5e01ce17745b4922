import { App } from 'weir';
import { z } from 'zod';

export const app = new App();
const User = z.object({ id: z.number(), name: z.string() });
const Problem = z.object({ error: z.string() });
const users = new Map<number, z.infer<typeof User>>();

const create = {
  body: z.object({ name: z.string().min(1).max(100) }),
  response: { 201: User, 409: Problem },
};
app.post('/users', { schema: create }, (ctx) => {
  // ctx.body is { name: string }, checked before the handler runs: else 400 WEIR_ERR_VALIDATION.
  if ([...users.values()].some((user) => user.name === ctx.body.name)) {
    return ctx.reply(409, { error: 'That name is taken' });
  }
  const user = { id: users.size + 1, name: ctx.body.name };
  users.set(user.id, user);
  return ctx.reply(201, user); // a body that breaks the 201 schema does not compile
});

const read = {
  params: z.object({ id: z.coerce.number().int().positive() }), // "7" arrives as 7
  response: { 200: User, 404: Problem },
};
app.get('/users/:id', { schema: read }, (ctx) => {
  const user = users.get(ctx.params.id);
  return user ?? ctx.reply(404, { error: 'No such user' }); // a plain return is the 200 body
});
