import * as v from 'valibot';
import { App } from 'weir';

export const app = new App();
const User = v.object({ id: v.number(), name: v.string() });
const Problem = v.object({ error: v.string() });
const users = new Map<number, v.InferOutput<typeof User>>();

const create = {
  body: v.object({ name: v.pipe(v.string(), v.minLength(1), v.maxLength(100)) }),
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
  // "7" arrives as the string "7": digits only, then a number
  params: v.object({ id: v.pipe(v.string(), v.regex(/^\d{1,9}$/), v.transform(Number), v.minValue(1)) }),
  response: { 200: User, 404: Problem },
};
app.get('/users/:id', { schema: read }, (ctx) => {
  const user = users.get(ctx.params.id);
  return user ?? ctx.reply(404, { error: 'No such user' }); // a plain return is the 200 body
});
