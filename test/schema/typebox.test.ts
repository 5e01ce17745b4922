// weir/schema/typebox: TypeBox schemas checked by ajv's compiled code. The shared tests of every validator
// (each request part, coercion, error bodies) run it too, in validate.test.ts; these are its own rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Type from 'typebox';
import { App, isWeirError } from 'weir';
import { jsonSchemaOf } from 'weir/schema';
import { typebox } from 'weir/schema/typebox';
import { inject } from 'weir/testing';

type Issue = { in: string; path: string; message: string };
type ErrorBody = { error: { code: string; message: string; details: { issues: Issue[] } } };

const post = (app: App, url: string, body: unknown) => inject(app, { method: 'POST', url, body });

describe('typebox()', () => {
  it("fills defaults at every depth and keeps undeclared keys, as JSON Schema's rules say", async () => {
    const app = new App();
    const Order = typebox(
      Type.Object({
        note: Type.Optional(Type.String({ default: 'none' })),
        items: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer({ default: 1 }) })),
      }),
    );
    app.post('/orders', { schema: { body: Order } }, (ctx) => ctx.body);
    const res = await post(app, '/orders', { items: [{ sku: 'a', gift: true }], rush: true });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json(), { note: 'none', items: [{ sku: 'a', gift: true, qty: 1 }], rush: true });
  });

  it('accepts what composed schemas accept: an intersection, and a later branch of a nested union', async () => {
    const app = new App();
    const Both = typebox(
      Type.Intersect([Type.Object({ a: Type.String() }), Type.Object({ b: Type.Number() })]),
    );
    const Nested = typebox(
      Type.Union([
        Type.Object({ data: Type.Object({ x: Type.Optional(Type.Number()) }), kind: Type.Literal('a') }),
        Type.Object({ data: Type.Object({ y: Type.Number() }), kind: Type.Literal('b') }),
      ]),
    );
    app.post('/both', { schema: { body: Both } }, (ctx) => ctx.body);
    app.post('/nested', { schema: { body: Nested } }, (ctx) => ctx.body);
    assert.deepEqual((await post(app, '/both', { a: 'x', b: 1 })).json(), { a: 'x', b: 1 });
    assert.equal((await post(app, '/both', { a: 'x' })).status, 400);
    assert.deepEqual((await post(app, '/nested', { data: { y: 1 }, kind: 'b' })).json(), {
      data: { y: 1 },
      kind: 'b',
    });
  });

  it('refuses unknown keys where the schema says additionalProperties: false, naming each', async () => {
    const app = new App();
    const Strict = typebox(Type.Object({ a: Type.String() }, { additionalProperties: false }));
    app.post('/strict', { schema: { body: Strict } }, (ctx) => ctx.body);
    const res = await post(app, '/strict', { a: 'x', role: 'admin', other: 1 });
    assert.equal(res.status, 400);
    const issues = res.json<ErrorBody>().error.details.issues;
    assert.deepEqual(
      issues.map((i) => [i.path, i.message]),
      [
        ['role', 'Unknown key'],
        ['other', 'Unknown key'],
      ],
    );
    assert.deepEqual((await post(app, '/strict', { a: 'x' })).json(), { a: 'x' });
  });

  it('reports each rule broken with its path and the rule, never the value', async () => {
    const app = new App();
    const User = typebox(
      Type.Object({
        name: Type.String({ minLength: 1, maxLength: 8 }),
        email: Type.String({ format: 'email' }),
        age: Type.Integer({ minimum: 0 }),
        tags: Type.Array(Type.String({ pattern: '^[a-z]+$' })),
        address: Type.Object({ city: Type.String() }),
      }),
    );
    app.post('/users', { schema: { body: User } }, (ctx) => ctx.body);
    const secret = 'hunter2-secret';
    const res = await post(app, '/users', {
      name: secret,
      email: secret,
      age: 1.5,
      tags: ['ok', secret],
      address: {},
    });
    assert.equal(res.status, 400);
    assert.doesNotMatch(res.body, /hunter2/);
    const issues = res.json<ErrorBody>().error.details.issues;
    assert.deepEqual(
      issues.map((i) => [i.in, i.path, i.message]),
      [
        ['body', 'name', 'must NOT have more than 8 characters'],
        ['body', 'email', 'must be a valid email'],
        ['body', 'age', 'must be integer'],
        ['body', 'tags[1]', 'must match pattern …'],
        ['body', 'address.city', 'Required'],
      ],
    );
  });

  it('takes a query naming __proto__ or constructor as plain keys, and keeps answering', async () => {
    const app = new App();
    const Q = typebox(Type.Object({ constructor: Type.Optional(Type.Integer()) }), { coerce: true });
    app.get('/q', { schema: { query: Q } }, (ctx) => ({
      c: ctx.query.constructor ?? null,
      polluted: ({} as { x?: string }).x ?? null,
    }));
    assert.deepEqual((await inject(app, { url: '/q?__proto__[x]=1&constructor=7' })).json(), {
      c: 7,
      polluted: null,
    });
    assert.equal((await inject(app, { url: '/q?constructor=%00%0d%0a' })).status, 400);
    assert.deepEqual((await inject(app, { url: '/q' })).json(), { c: null, polluted: null });
  });

  it('coerces strings only when asked: a JSON "7" is not an integer', async () => {
    const app = new App();
    const Plain = typebox(Type.Object({ n: Type.Integer() }));
    const Coerced = typebox(Type.Object({ n: Type.Integer(), on: Type.Boolean() }), { coerce: true });
    app.post('/plain', { schema: { body: Plain } }, (ctx) => ctx.body);
    app.get('/q', { schema: { query: Coerced } }, (ctx) => ctx.query);
    assert.equal((await post(app, '/plain', { n: '7' })).status, 400);
    assert.deepEqual((await post(app, '/plain', { n: 7 })).json(), { n: 7 });
    assert.deepEqual((await inject(app, { url: '/q?n=7&on=true' })).json(), { n: 7, on: true });
    assert.equal((await inject(app, { url: '/q?n=seven&on=true' })).status, 400);
  });

  it("fills defaults on copies: the request's own headers and query stay as they came", async () => {
    const app = new App();
    const Tenant = typebox(
      Type.Object({ 'x-tenant': Type.String(), 'x-plan': Type.String({ default: 'free' }) }),
    );
    const Page = typebox(Type.Object({ limit: Type.Integer({ default: 20 }) }), { coerce: true });
    app.get('/t', { schema: { headers: Tenant, query: Page } }, (ctx) => ({
      plan: ctx.headers['x-plan'],
      limit: ctx.query.limit,
      raw: { plan: ctx.req.headers['x-plan'] ?? null, query: ctx.req.url },
    }));
    // A header Node keeps as a list (set-cookie), its items coerced on the copy only.
    const Listed = typebox(Type.Object({ 'set-cookie': Type.Array(Type.Integer()) }), { coerce: true });
    app.get('/listed', { schema: { headers: Listed } }, (ctx) => ({
      parsed: ctx.headers['set-cookie'],
      raw: ctx.req.headers['set-cookie'] ?? null,
    }));
    const res = await inject(app, { url: '/t', headers: { 'x-tenant': 'acme' } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json(), { plan: 'free', limit: 20, raw: { plan: null, query: '/t' } });
    const listed = await inject(app, { url: '/listed', headers: { 'set-cookie': ['1', '2'] } });
    assert.equal(listed.status, 200, listed.body);
    assert.deepEqual(listed.json(), { parsed: [1, 2], raw: ['1', '2'] });
  });

  it('checks an answer without changing it: a frozen, shared object is sent with its declared keys only', async () => {
    const User = typebox(
      Type.Object({
        id: Type.Integer(),
        name: Type.String(),
        role: Type.Optional(Type.String({ default: 'user' })),
        // Required with a default: a handler may leave it out, the writer fills it in.
        tags: Type.Array(Type.String(), { default: [] }),
        team: Type.Object({ name: Type.String() }),
      }),
    );
    // The top level frozen, the team not: neither may lose a key or gain a default.
    const team = { name: 'core', budget: 10 };
    const cached = Object.freeze({ id: 1, name: 'Ada', passwordHash: 'h', team });
    for (const responseSchemas of ['error', 'warn', 'off'] as const) {
      const app = new App({ responseSchemas });
      app.get('/me', { schema: { response: { 200: User } } }, () => cached as never);
      const res = await inject(app, { url: '/me' });
      assert.equal(res.status, 200, `${responseSchemas}: ${res.body}`);
      assert.deepEqual(
        res.json(),
        { id: 1, name: 'Ada', role: 'user', tags: [], team: { name: 'core' } },
        responseSchemas,
      );
    }
    assert.deepEqual(cached, { id: 1, name: 'Ada', passwordHash: 'h', team: { name: 'core', budget: 10 } });
  });

  it('sends an answer that breaks its schema with warn through the declared-keys writer, never its undeclared keys', async () => {
    const app = new App({ responseSchemas: 'warn', logger: false });
    const User = typebox(Type.Object({ id: Type.Integer(), name: Type.String() }));
    app.get('/odd', { schema: { response: { 200: User } } }, () => ({
      id: 1.5,
      name: 'Ada',
      passwordHash: 'h',
    }));
    const res = await inject(app, { url: '/odd' });
    assert.equal(res.status, 200);
    assert.doesNotMatch(res.body, /passwordHash/);
  });

  it('turns an answer that breaks its schema into a 500 with responseSchemas error', async () => {
    const app = new App({ responseSchemas: 'error', logger: false });
    const User = typebox(Type.Object({ id: Type.Integer(), name: Type.String() }));
    app.get('/bad', { schema: { response: { 200: User } } }, () => ({ id: 'one', name: 'Ada' }) as never);
    const res = await inject(app, { url: '/bad' });
    assert.equal(res.status, 500);
    assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_RESPONSE_SCHEMA');
  });

  it("describes a route's parts and answers in app.openapi() by the TypeBox schemas themselves", () => {
    const app = new App();
    const Book = typebox(Type.Object({ id: Type.Integer(), title: Type.String({ maxLength: 80 }) }));
    const Id = typebox(Type.Object({ id: Type.Integer({ minimum: 1 }) }), { coerce: true });
    app.get('/books/:id', { schema: { params: Id, response: { 200: Book } } }, () => ({ id: 1, title: 't' }));
    const doc = app.openapi() as unknown as {
      paths: Record<
        string,
        {
          get: {
            parameters: { name: string; in: string; schema: unknown }[];
            responses: Record<string, { content: Record<string, { schema: unknown }> }>;
          };
        }
      >;
    };
    const op = doc.paths['/books/{id}']!.get;
    assert.deepEqual(op.parameters.find((p) => p.in === 'path' && p.name === 'id')?.schema, {
      type: 'integer',
      minimum: 1,
    });
    assert.deepEqual(
      JSON.stringify(op.responses['200']!.content['application/json']!.schema),
      JSON.stringify(Type.Object({ id: Type.Integer(), title: Type.String({ maxLength: 80 }) })),
    );
  });

  it('describes itself as its JSON Schema, and refuses what ajv cannot compile when it is made', () => {
    const Book = Type.Object({ title: Type.String({ maxLength: 80 }) });
    const found = jsonSchemaOf(typebox(Book), { io: 'input', target: 'draft-2020-12' });
    assert.deepEqual(found, { schema: JSON.parse(JSON.stringify(Book)) });
    assert.throws(
      () => typebox(Type.Object({ a: Type.String({ minLenght: 1 } as never) })),
      (err) => isWeirError(err) && err.code === 'WEIR_ERR_INVALID_OPTION' && /minLenght/.test(err.message),
    );
    assert.throws(() => typebox(null as never), /typebox\(\) schema must be a TypeBox schema/);
    assert.throws(() => typebox(Book, { coerce: 'yes' as never }), /typebox\(\) coerce must be a boolean/);
  });
});
