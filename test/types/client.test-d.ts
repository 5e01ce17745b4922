// Type-level tests of the typed client: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import { type } from 'arktype';
import * as v from 'valibot';
import { App, json } from 'weir';
import { createClient, type ErrorBody, type RoutesOf } from 'weir/client';
import { z } from 'zod';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

const User = z.object({ id: z.number(), name: z.string(), createdAt: z.string() });
const Problem = z.object({ error: z.string() });

const users = new App()
  .get(
    '/users/:id',
    { schema: { params: z.object({ id: z.string() }), response: { 200: User, 404: Problem } } },
    (ctx) => ctx.reply(404, { error: ctx.params.id }),
  )
  .post(
    '/users',
    {
      schema: {
        body: z.object({ name: z.string().min(1), admin: z.boolean().default(false) }),
        query: z.object({ notify: z.string().optional() }),
        headers: z.object({ 'x-tenant': z.string() }),
        response: { 201: User, 409: Problem },
      },
    },
    (ctx) => ctx.reply(201, { id: 1, name: ctx.body.name, createdAt: '' }),
  )
  .get('/plain/:org/:repo?', (ctx) => ({ org: ctx.params.org, at: new Date() }))
  .get('/text', () => 'hello')
  .delete('/users/:id', () => undefined)
  .post('/made', () => json({ made: true }, 201))
  .get('/a', { schema: { query: type({ n: 'string' }) } }, (ctx) => ({ n: ctx.query.n }))
  .post(
    '/ark/:id',
    {
      schema: {
        params: type({ id: 'string.integer.parse' }),
        body: type({ tags: 'string[]', 'note?': 'string' }),
        response: { 200: type({ id: 'number', tags: 'string[]' }) },
      },
    },
    (ctx) => ({ id: ctx.params.id, tags: ctx.body.tags }),
  )
  .put('/v/:id', { schema: { body: v.object({ n: v.number() }) } }, async (ctx) => ({ n: ctx.body.n }));

const app = new App().get('/', () => 'root').route('/api', users);
const api = createClient<typeof app>('http://127.0.0.1:8080');

export async function calls(): Promise<void> {
  const got = await api.get('/api/users/:id', { params: { id: '7' } });
  if (got.status === 200)
    expectType<Equal<typeof got.data, { id: number; name: string; createdAt: string }>>(true);
  if (got.status === 404) expectType<Equal<typeof got.data, { error: string }>>(true);
  if (got.status === 500) expectType<Equal<typeof got.data, ErrorBody>>(true);
  if (got.ok) expectType<Equal<typeof got.status, 200>>(true);
  else expectType<Equal<typeof got.data, { error: string } | ErrorBody>>(true);

  const made = await api.post('/api/users', {
    body: { name: 'ada' },
    query: { notify: 'yes' },
    headers: { 'x-tenant': 'acme' },
  });
  if (made.status === 201) expectType<Equal<typeof made.data.id, number>>(true);

  const plain = await api.get('/api/plain/:org/:repo?', { params: { org: 'weir' } });
  if (plain.ok) expectType<Equal<typeof plain.data, { org: string; at: string }>>(true);
  await api.get('/api/plain/:org/:repo?', { params: { org: 'weir', repo: 7 } });
  const text = await api.get('/api/text');
  if (text.ok) expectType<Equal<typeof text.data, string>>(true);
  const gone = await api.delete('/api/users/:id', { params: { id: 1 } });
  if (gone.ok) expectType<Equal<typeof gone.data, undefined>>(true);
  const posted = await api.post('/api/made');
  if (posted.ok) expectType<Equal<typeof posted.data, unknown>>(true);
  const root = await api.get('/');
  void root;
  const arkt = await api.get('/api/a', { query: { n: 3 } });
  const put = await api.put('/api/v/:id', { params: { id: 'x' }, body: { n: 1 } });
  if (put.ok) expectType<Equal<typeof put.data, { n: number }>>(true);
  void arkt;
  const ark = await api.post('/api/ark/:id', { params: { id: 3 }, body: { tags: ['a'] } });
  if (ark.status === 200) expectType<Equal<typeof ark.data, { id: number; tags: string[] }>>(true);
  // @ts-expect-error: arktype's body input: tags is a string array
  await api.post('/api/ark/:id', { params: { id: 3 }, body: { tags: 'a' } });
  type R = RoutesOf<typeof app>;
  expectType<
    Equal<
      keyof R,
      | '/'
      | '/api/users/:id'
      | '/api/users'
      | '/api/plain/:org/:repo?'
      | '/api/text'
      | '/api/made'
      | '/api/a'
      | '/api/v/:id'
      | '/api/ark/:id'
    >
  >(true);
}

export async function refusals(): Promise<void> {
  // @ts-expect-error: a wrong param name
  await api.get('/api/users/:id', { params: { idd: '7' } });
  // @ts-expect-error: params are required
  await api.get('/api/users/:id');
  // @ts-expect-error: an unknown path
  await api.get('/api/nobody');
  // @ts-expect-error: /api/users has no GET route
  await api.get('/api/users');
  // @ts-expect-error: a wrong body
  await api.post('/api/users', { body: { name: 7 }, headers: { 'x-tenant': 'a' } });
  // @ts-expect-error: a required header is missing
  await api.post('/api/users', { body: { name: 'a' } });
  // @ts-expect-error: a GET sends no body
  await api.get('/api/text', { body: {} });
  // @ts-expect-error: a wrong query type
  await api.post('/api/users', { body: { name: 'a' }, headers: { 'x-tenant': 'a' }, query: { notify: {} } });
}

export async function styles(): Promise<void> {
  // Statements compile as before and add nothing to the app's type.
  const plain = new App();
  plain.get('/a', () => 1);
  expectType<Equal<RoutesOf<typeof plain>, Record<never, never>>>(true);
  // all() answers every method; HEAD takes the paths of GET routes, with no body.
  const every = new App().all('/any/:id', (ctx) => ({ id: ctx.params.id })).get('/g', () => ({ g: 1 }));
  const client = createClient<typeof every>('/');
  await client.patch('/any/:id', { params: { id: 1 }, body: { anything: true } });
  await client.options('/any/:id', { params: { id: 1 } });
  const head = await client.head('/g');
  expectType<Equal<typeof head.data, undefined>>(true);
  // @ts-expect-error: a wrong method (/g has only GET)
  await client.post('/g');
  // A chained app is still an App, and one app's routes are not another's.
  const asApp: App = every;
  void asApp;
  // @ts-expect-error: the route maps differ
  const other: typeof users = every;
  void other;
}
