import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type } from 'arktype';
import fc from 'fast-check';
import * as v from 'valibot';
import { type AnyContext, App } from 'weir';
import { compileSerializer, type StandardSchemaV1, withJsonSchema } from 'weir/schema';
import { inject } from 'weir/testing';
import { z } from 'zod';

// One shape in each validator: every JSON type, nesting, an optional object, a nullable, a union of
// literals, an array of objects and a record.
const zodUser = z.object({
  id: z.number().int(),
  name: z.string(),
  score: z.number(),
  active: z.boolean(),
  nick: z.string().nullable(),
  tags: z.array(z.string()),
  address: z.object({ city: z.string(), zip: z.string() }).optional(),
  role: z.enum(['admin', 'user']),
  items: z.array(z.object({ n: z.number().int(), label: z.string() })),
  meta: z.record(z.string(), z.number()),
});
const valibotUser = v.object({
  id: v.pipe(v.number(), v.integer()),
  name: v.string(),
  score: v.number(),
  active: v.boolean(),
  nick: v.nullable(v.string()),
  tags: v.array(v.string()),
  address: v.optional(v.object({ city: v.string(), zip: v.string() })),
  role: v.picklist(['admin', 'user']),
  items: v.array(v.object({ n: v.pipe(v.number(), v.integer()), label: v.string() })),
  meta: v.record(v.string(), v.number()),
});
const arktypeUser = type({
  id: 'number.integer',
  name: 'string',
  score: 'number',
  active: 'boolean',
  nick: 'string | null',
  tags: 'string[]',
  'address?': { city: 'string', zip: 'string' },
  role: "'admin' | 'user'",
  items: type({ n: 'number.integer', label: 'string' }).array(),
  meta: 'Record<string, number>',
});

// Strings JSON must escape, and those that need no escape but trip naive writers.
const awkward = fc.constantFrom(
  '"',
  '\\',
  '\u0000',
  '\u001f',
  '\n',
  '\u2028',
  '\u2029',
  '\ud800',
  '\udfff',
  '</script>',
  '😀',
);
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.array(fc.oneof(awkward, fc.string({ maxLength: 4 })), { maxLength: 8 }).map((parts) => parts.join('')),
);
const number = fc.double({ noNaN: true, noDefaultInfinity: true });
const user = fc.record(
  {
    id: fc.maxSafeInteger(),
    name: text,
    score: number,
    active: fc.boolean(),
    nick: fc.option(text, { nil: null }),
    tags: fc.array(text, { maxLength: 5 }),
    address: fc.record({ city: text, zip: text }),
    role: fc.constantFrom('admin', 'user'),
    items: fc.array(fc.record({ n: fc.integer(), label: text }), { maxLength: 4 }),
    meta: fc.dictionary(
      text.filter((key) => key !== '__proto__'),
      number,
      { maxKeys: 4 },
    ),
  },
  { requiredKeys: ['id', 'name', 'score', 'active', 'nick', 'tags', 'role', 'items', 'meta'] },
);
// Keys the schema does not declare, sometimes: stripped or kept as each validator decides.
const withExtra = fc
  .tuple(user, fc.option(fc.record({ password: text, internal: fc.integer() }), { nil: undefined }))
  .map(([u, extra]) => ({ ...u, ...extra }));

function validated(schema: StandardSchemaV1, value: unknown): unknown {
  const result = schema['~standard'].validate(value);
  assert.ok(!(result instanceof Promise));
  assert.equal(result.issues, undefined, JSON.stringify(result.issues));
  return (result as { value: unknown }).value;
}

describe('compiled response serialisers', () => {
  for (const [name, schema] of [
    ['zod', zodUser],
    ['valibot', valibotUser],
    ['arktype', arktypeUser],
  ] as const) {
    // The same JSON value; an optional key may come later (fast-json-stringify writes required keys first).
    it(`${name}: writes the JSON that JSON.stringify writes of every value the schema accepts`, () => {
      const compiled = compileSerializer(schema);
      assert.ok('serialize' in compiled, 'reason' in compiled ? compiled.reason : '');
      fc.assert(
        fc.property(withExtra, (raw) => {
          const value = validated(schema, raw);
          const written = compiled.serialize(value);
          assert.deepStrictEqual(JSON.parse(written), JSON.parse(JSON.stringify(value)));
          assert.equal(written.length, JSON.stringify(value).length);
        }),
        { numRuns: 400 },
      );
    });
  }

  it('a schema with no JSON Schema form gets no serialiser, and says why', () => {
    const compiled = compileSerializer(z.object({ at: z.date() }));
    assert.ok('reason' in compiled);
    assert.match(compiled.reason, /Date/);
    assert.ok(
      'reason' in
        compileSerializer({
          '~standard': { version: 1, vendor: 'custom', validate: (value) => ({ value }) },
        }),
    );
  });

  it('withJsonSchema() gives any Standard Schema the JSON Schema it is compiled from', () => {
    const anything: StandardSchemaV1<{ a: number }> = {
      '~standard': { version: 1, vendor: 'custom', validate: (value) => ({ value: value as { a: number } }) },
    };
    const described = withJsonSchema(anything, {
      type: 'object',
      properties: { a: { type: 'integer' } },
      required: ['a'],
      additionalProperties: false,
    });
    assert.deepEqual(described['~standard'].validate({ a: 1 }), { value: { a: 1 } });
    const compiled = compileSerializer(described);
    assert.ok('serialize' in compiled);
    // The JSON Schema, not JSON.stringify, wrote this: an undeclared key is left out.
    assert.equal(compiled.serialize({ a: 1, b: 2 }), '{"a":1}');
    assert.throws(() => withJsonSchema({} as never, {}), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => withJsonSchema(anything, [] as never), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});

describe('routes with response schemas', () => {
  it('send what validated: undeclared keys the schema strips never leave, defaults are filled', async () => {
    const app = new App();
    const account = { id: 7, email: 'a@example.com', passwordHash: 'scrypt$secret' };
    app.get(
      '/zod',
      { schema: { response: { 200: z.object({ id: z.number(), email: z.string() }) } } },
      () => account,
    );
    app.get(
      '/valibot',
      { schema: { response: { 200: v.object({ id: v.number(), email: v.string() }) } } },
      () => account,
    );
    app.get(
      '/defaults',
      { schema: { response: { 200: z.object({ id: z.number(), plan: z.string().default('free') }) } } },
      () => ({ id: 1 }),
    );
    for (const url of ['/zod', '/valibot']) {
      const res = await inject(app, { url });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.body, '{"id":7,"email":"a@example.com"}', url);
    }
    assert.equal((await inject(app, { url: '/defaults' })).body, '{"id":1,"plan":"free"}');
  });

  it('answer a plain return with the route’s success status, or the status the handler set', async () => {
    const app = new App();
    const Created = z.object({ id: z.number() });
    app.post('/only-201', { schema: { response: { 201: Created } } }, () => ({ id: 1 }));
    app.post('/set', { schema: { response: { 200: Created, 202: Created } } }, (ctx) => {
      ctx.status(202);
      return { id: 2 };
    });
    const created = await inject(app, { method: 'POST', url: '/only-201' });
    assert.equal(created.status, 201);
    assert.deepEqual(created.json(), { id: 1 });
    const accepted = await inject(app, { method: 'POST', url: '/set' });
    assert.equal(accepted.status, 202);
    assert.deepEqual(accepted.json(), { id: 2 });
  });

  it('keep ctx.set() headers, HEAD and middleware that reads the response', async () => {
    const app = new App();
    let seen: unknown;
    app.use(async (ctx, next) => {
      await next();
      seen = (ctx.result as { body?: unknown }).body;
    });
    app.get('/u', { schema: { response: { 200: v.object({ id: v.number() }) } } }, (ctx) => {
      ctx.set('x-id', '1');
      return { id: 1, hidden: true };
    });
    const res = await inject(app, { url: '/u' });
    assert.equal(res.headers['x-id'], '1');
    assert.equal(res.body, '{"id":1}');
    assert.equal(seen, '{"id":1}');
    const head = await inject(app, { method: 'HEAD', url: '/u' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '8');
    assert.equal(head.body, '');
  });

  it('leave a reply made after the handler, by middleware, whole', async () => {
    const app = new App();
    app.use(async (ctx, next) => {
      await next();
      if (ctx.query.late === '1')
        ctx.result = (ctx as AnyContext).reply(409 as never, { late: true } as never);
    });
    app.get('/r', { schema: { response: { 200: v.object({ id: v.number() }) } } }, () => ({ id: 1 }));
    app.get('/throws', { schema: { response: { 200: v.object({ id: v.number() }) } } }, () => {
      throw new Error('boom');
    });
    const late = await inject(app, { url: '/r?late=1' });
    assert.equal(late.status, 409);
    assert.equal(late.body, '{"late":true}');
    const failed = await inject(app, { url: '/throws?late=1' });
    assert.equal(failed.status, 409);
    assert.equal(failed.body, '{"late":true}');
  });

  it('with responseSchemas off, write declared keys only: an unchecked value never sends more', async () => {
    const app = new App({ responseSchemas: 'off' });
    const row = { id: 7, email: 'a@example.com', passwordHash: 'scrypt$secret' };
    for (const [path, User] of [
      ['/valibot', v.looseObject({ id: v.number(), email: v.string() })],
      ['/zod', z.object({ id: z.number(), email: z.string() })],
      ['/arktype', type({ id: 'number', email: 'string' })],
    ] as const) {
      app.get(path, { schema: { response: { 200: User } } }, () => row);
    }
    for (const url of ['/valibot', '/zod', '/arktype']) {
      // (arktype's JSON Schema lists keys in alphabetical order)
      assert.deepEqual((await inject(app, { url })).json(), { id: 7, email: 'a@example.com' }, url);
    }
  });

  it('write a schema without a JSON form with JSON.stringify, as any route', async () => {
    const app = new App();
    app.get('/when', { schema: { response: { 200: z.object({ at: z.date() }) } } }, () => ({
      at: new Date(0),
    }));
    assert.equal((await inject(app, { url: '/when' })).body, '{"at":"1970-01-01T00:00:00.000Z"}');
  });

  it('leave strings, streams and helpers’ responses as they are', async () => {
    const app = new App();
    app.get('/s', { schema: { response: { 200: z.string() } } }, () => 'plain words');
    const res = await inject(app, { url: '/s' });
    assert.equal(res.body, 'plain words');
    assert.match(String(res.headers['content-type']), /^text\/plain/);
  });
});
