// Type-level tests of route schemas: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { type } from 'arktype';
import Type from 'typebox';
import * as v from 'valibot';
import { App } from 'weir';
import { idempotencyKey } from 'weir/idempotency';
import { typebox } from 'weir/schema/typebox';
import { cspNonce, csrfToken } from 'weir/security';
import { z } from 'zod';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

const User = z.object({ id: z.number(), name: z.string() });
const NewUser = z.object({ name: z.string().min(1), email: z.email() });

export function inputs(): void {
  const app = new App();
  app.post(
    '/orgs/:org/users',
    {
      schema: {
        params: z.object({ org: z.string() }),
        query: z.object({ notify: z.coerce.boolean().default(false) }),
        headers: z.object({ 'x-request-id': z.string().optional() }),
        body: NewUser,
        response: { 201: User, 409: z.object({ error: z.string() }) },
      },
    },
    (ctx) => {
      expectType<Equal<typeof ctx.body, { name: string; email: string }>>(true);
      expectType<Equal<typeof ctx.query, { notify: boolean }>>(true);
      expectType<Equal<typeof ctx.params, { org: string }>>(true);
      expectType<Equal<typeof ctx.headers, { 'x-request-id'?: string | undefined }>>(true);
      if (ctx.body.name === 'taken') return ctx.reply(409, { error: 'taken' });
      return ctx.reply(201, { id: 1, name: ctx.body.name });
    },
  );
  // Without schemas, the raw parts as before.
  app.post('/raw/:id', (ctx) => {
    expectType<Equal<typeof ctx.body, IncomingMessage>>(true);
    expectType<Equal<typeof ctx.headers, IncomingHttpHeaders>>(true);
    expectType<Equal<typeof ctx.params, { readonly id: string }>>(true);
    return null;
  });
  // valibot and arktype schemas type the same way.
  app.post('/v', { schema: { body: v.object({ n: v.number() }) } }, (ctx) => {
    expectType<Equal<typeof ctx.body, { n: number }>>(true);
    return ctx.body.n;
  });
  app.post('/a', { schema: { body: type({ n: 'number' }) } }, (ctx) => {
    expectType<Equal<typeof ctx.body, { n: number }>>(true);
    return ctx.body.n;
  });
}

export function returns(): void {
  const app = new App();
  // A plain return is the success status's body.
  app.get('/users/:id', { schema: { response: { 200: User } } }, () => ({ id: 1, name: 'a' }));
  app.get('/async', { schema: { response: { 200: User } } }, async () => ({ id: 1, name: 'a' }));
  // @ts-expect-error: the body breaks the 200 schema
  app.get('/wrong', { schema: { response: { 200: User } } }, () => ({ id: '1', name: 'a' }));
  app.post('/made', { schema: { response: { 201: User, 404: z.object({ error: z.string() }) } } }, (ctx) => {
    // @ts-expect-error: 404's body is { error }
    ctx.reply(404, { id: 1 });
    // @ts-expect-error: 500 is not a declared status
    ctx.reply(500, { error: 'x' });
    return ctx.reply(201, { id: 2, name: 'b' });
  });
  // @ts-expect-error: a plain return of a route without a 2xx schema does not type-check
  app.get('/only-errors', { schema: { response: { 404: User } } }, () => ({ id: 1, name: 'a' }));
}

export function helpers(): void {
  const app = new App<{ tenant: string }>();
  // weir's helpers that read the request take any route's context, schemas or not.
  app.post('/h', { schema: { body: z.object({ a: z.string() }) } }, (ctx) => {
    idempotencyKey(ctx);
    cspNonce(ctx);
    csrfToken(ctx);
    expectType<Equal<typeof ctx.state.tenant, string>>(true);
    return ctx.body.a;
  });
}

export function typeboxSchemas(): void {
  const app = new App();
  const Id = typebox(Type.Object({ id: Type.Integer({ minimum: 1 }) }), { coerce: true });
  const NewBook = typebox(
    Type.Object({ title: Type.String(), tags: Type.Optional(Type.Array(Type.String())) }),
  );
  const Book = typebox(Type.Object({ id: Type.Integer(), title: Type.String() }));
  app.post(
    '/shelves/:id/books',
    { schema: { params: Id, body: NewBook, response: { 201: Book } } },
    (ctx) => {
      expectType<Equal<typeof ctx.params, { id: number }>>(true);
      expectType<Equal<typeof ctx.body, { title: string; tags?: string[] }>>(true);
      return ctx.reply(201, { id: ctx.params.id, title: ctx.body.title });
    },
  );
  // @ts-expect-error a return that breaks the TypeBox response schema
  app.get('/books/:id', { schema: { params: Id, response: { 200: Book } } }, () => ({
    id: 'one',
    title: 'x',
  }));
  // @ts-expect-error typebox() takes a TypeBox schema
  typebox('string');
}
