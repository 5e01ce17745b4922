import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type } from 'arktype';
import * as v from 'valibot';
import { App } from 'weir';
import { MemoryRateLimitStore, rateLimit, requireAuth, session } from 'weir/security';
import { z } from 'zod';
import { assertValid } from '../helpers/openapi.ts';

function quietLog() {
  const warnings: { obj: unknown; message: string }[] = [];
  const logger = {
    error() {},
    warn: (obj: unknown, message: string) => warnings.push({ obj, message }),
    info() {},
    debug() {},
  };
  return { logger, warnings };
}

const Problem = v.object({ error: v.string() });
const User = v.object({ id: v.number(), name: v.string(), email: v.optional(v.string()) });

describe('app.openapi()', () => {
  it('describes every route: params, query, headers, body, responses by status, and weir’s error answers', async () => {
    const { logger, warnings } = quietLog();
    const app = new App({ logger });
    app.get(
      '/users/:id',
      {
        summary: 'One user',
        tags: ['users'],
        schema: {
          params: v.object({ id: v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number)) }),
          response: { 200: User, 404: Problem },
        },
      },
      (ctx) => ({ id: ctx.params.id, name: 'a' }),
    );
    app.get(
      '/users',
      {
        tags: ['users'],
        schema: {
          query: z.object({ page: z.coerce.number().int().min(1).default(1), q: z.string().optional() }),
          headers: type({ 'x-tenant': 'string', 'content-type?': 'string' }),
          response: { 200: z.array(z.object({ id: z.number(), name: z.string() })) },
        },
      },
      () => [],
    );
    app.post(
      '/users',
      { schema: { body: v.object({ name: v.pipe(v.string(), v.minLength(1)) }), response: { 201: User } } },
      (ctx) => ctx.reply(201, { id: 1, name: ctx.body.name }),
    );
    app.delete('/users/:id', { deprecated: true, schema: { response: { 204: v.undefined() } } }, (ctx) =>
      ctx.reply(204, undefined),
    );
    app.get('/static/*', () => 'file');
    app.get('/healthz', { hidden: true }, () => 'ok');
    app.all('/anything', () => 'any');
    const doc = app.openapi({ info: { title: 'Users', version: '2.0.0' } });
    await assertValid(doc);
    assert.deepEqual(warnings, []);
    assert.deepEqual(doc.info, { title: 'Users', version: '2.0.0' });
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/static/{wildcard}', '/users', '/users/{id}']);
    assert.deepEqual(doc.tags, [{ name: 'users' }]);

    const one = doc.paths['/users/{id}']!.get!;
    assert.equal(one.summary, 'One user');
    assert.equal(one.operationId, 'getUsersById');
    assert.deepEqual(one.parameters, [
      { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d+$' } },
    ]);
    const responses = one.responses as Record<string, { content?: Record<string, { schema: unknown }> }>;
    assert.deepEqual(Object.keys(responses).sort(), ['200', '400', '404']);
    assert.deepEqual(responses['200']!.content!['application/json']!.schema, {
      type: 'object',
      properties: { id: { type: 'number' }, name: { type: 'string' }, email: { type: 'string' } },
      required: ['id', 'name'],
    });
    assert.deepEqual(responses['400']!.content!['application/json']!.schema, {
      $ref: '#/components/schemas/Error',
    });

    const list = doc.paths['/users']!.get!;
    const parameters = list.parameters as { name: string; in: string; required: boolean }[];
    assert.deepEqual(
      parameters.map(({ name, in: where, required }) => [name, where, required]),
      [
        ['page', 'query', false],
        ['q', 'query', false],
        ['x-tenant', 'header', true],
      ],
      'content-type is not a header parameter in OpenAPI',
    );

    const create = doc.paths['/users']!.post!;
    const body = create.requestBody as { required: boolean; content: Record<string, { schema: unknown }> };
    assert.equal(body.required, true);
    assert.deepEqual(Object.keys(body.content), ['application/json', 'application/x-www-form-urlencoded']);
    assert.deepEqual(body.content['application/json']!.schema, {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 } },
      required: ['name'],
    });
    const removed = doc.paths['/users/{id}']!.delete!;
    assert.equal(removed.deprecated, true);
    assert.deepEqual((removed.responses as Record<string, object>)['204'], { description: 'No Content' });
    const files = doc.paths['/static/{wildcard}']!.get!;
    assert.deepEqual(Object.keys(files.responses as object), ['default']);
  });

  it('includes mounted apps under their prefix, and the security and refusals of their middleware', async () => {
    const app = new App({ logger: false });
    app.use(session());
    const api = new App({ logger: false });
    const limits = rateLimit({ store: new MemoryRateLimitStore(), limit: 10, windowMs: 60_000 });
    api.get('/me', requireAuth({ jwt: { key: 'k'.repeat(32), algorithms: ['HS256'] } }), () => ({}));
    api.get('/admin', limits, requireAuth({ roles: ['admin'] }), () => ({}));
    api.get('/open', () => ({}));
    app.route('/api', api);
    const doc = app.openapi();
    await assertValid(doc);
    assert.deepEqual(doc.components.securitySchemes, {
      sessionCookie: { type: 'apiKey', in: 'cookie', name: 'weir_session' },
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
    const me = doc.paths['/api/me']!.get!;
    assert.deepEqual(me.security, [{ bearerAuth: [] }, { sessionCookie: [] }]);
    assert.deepEqual(Object.keys(me.responses as object).sort(), ['401', 'default']);
    const admin = doc.paths['/api/admin']!.get!;
    assert.deepEqual(admin.security, [{ sessionCookie: ['admin'] }]);
    assert.deepEqual(Object.keys(admin.responses as object).sort(), ['401', '403', '429', 'default']);
    assert.equal(doc.paths['/api/open']!.get!.security, undefined);
  });

  it('names the session cookie as session() is told', () => {
    const app = new App({ logger: false });
    app.use(session({ cookie: { name: '__Host-sid', secure: true } }));
    app.get('/me', requireAuth(), () => ({}));
    assert.deepEqual(app.openapi().components.securitySchemes, {
      sessionCookie: { type: 'apiKey', in: 'cookie', name: '__Host-sid' },
    });
  });

  it('documents a schema with no JSON Schema form without one, with one warning', async () => {
    const { logger, warnings } = quietLog();
    const app = new App({ logger });
    const opaque = {
      '~standard': { version: 1 as const, vendor: 'custom', validate: (value: unknown) => ({ value }) },
    };
    app.post('/a', { schema: { body: opaque } }, () => ({}));
    app.post('/b', { schema: { body: opaque, response: { 200: opaque } } }, () => ({}));
    const doc = app.openapi();
    await assertValid(doc);
    const body = doc.paths['/a']!.post!.requestBody as { content: Record<string, { schema: unknown }> };
    assert.deepEqual(body.content['application/json']!.schema, {});
    assert.equal(warnings.length, 1);
    const said = warnings[0]!.obj as { count: number; routes: { route: string; part: string }[] };
    assert.equal(said.count, 3);
    assert.deepEqual(
      said.routes.map(({ route, part }) => `${route} ${part}`),
      ['POST /a body', 'POST /b body', 'POST /b response 200'],
    );
  });

  it('moves definitions to components: shared ones once, different ones of one name apart, recursive ones resolved', async () => {
    const app = new App({ logger: false });
    const Address = z.object({ city: z.string() }).meta({ id: 'Address' });
    const Category: z.ZodType<{ name: string; children: unknown[] }> = z.object({
      name: z.string(),
      get children() {
        return z.array(Category);
      },
    });
    app.get('/a', { schema: { response: { 200: z.object({ home: Address, work: Address }) } } }, () => ({
      home: { city: 'x' },
      work: { city: 'y' },
    }));
    app.get('/b', { schema: { response: { 200: z.object({ at: Address }) } } }, () => ({
      at: { city: 'x' },
    }));
    app.get(
      '/c',
      {
        schema: {
          response: { 200: z.object({ at: z.object({ zip: z.string() }).meta({ id: 'Address' }) }) },
        },
      },
      () => ({
        at: { zip: '1' },
      }),
    );
    app.get('/tree', { schema: { response: { 200: Category } } }, () => ({ name: 'root', children: [] }));
    const doc = app.openapi();
    await assertValid(doc);
    const names = Object.keys(doc.components.schemas).sort();
    assert.ok(names.includes('Address') && names.includes('Address_2'), names.join());
    assert.deepEqual(doc.components.schemas.Address, {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    });
    const tree = JSON.stringify(doc.paths['/tree']);
    assert.doesNotMatch(tree, /"\$ref":"#"/);
    assert.doesNotMatch(JSON.stringify(doc), /\$defs|"\$schema"/);
  });

  it('keeps operation ids unique and checks the new route options', () => {
    const app = new App({ logger: false });
    app.get('/a-b', () => 1);
    app.get('/a/b', () => 1);
    app.get('/x', { operationId: 'listX' }, () => 1);
    const ids = Object.values(app.openapi().paths).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    );
    assert.deepEqual(ids, ['getAB', 'getAB2', 'listX']);
    for (const bad of [
      { tags: 'x' },
      { tags: [''] },
      { summary: 1 },
      { hidden: 'yes' },
      { operationId: 'has space' },
    ]) {
      assert.throws(
        () => app.get('/bad', bad as never, () => 1),
        { code: 'WEIR_ERR_INVALID_OPTION' },
        JSON.stringify(bad),
      );
    }
  });
});
