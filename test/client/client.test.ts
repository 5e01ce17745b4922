/**
 * weir/client against a weir app on a real socket: paths, params, query, headers, bodies, and the
 * responses by status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as v from 'valibot';
import { App, HttpError, type ServerHandle } from 'weir';
import { createClient } from 'weir/client';
import { serve } from '../helpers/http.ts';

const User = v.object({ id: v.number(), name: v.string() });
const Problem = v.object({ error: v.string() });

const users = new App()
  .get('/echo/:name', (ctx) => ({ name: ctx.params.name, raw: ctx.req.url }))
  .get('/files/*', (ctx) => ({ rest: ctx.params['*'] }))
  .get('/orgs/:org/repos/:repo?', (ctx) => ({ org: ctx.params.org, repo: ctx.params.repo ?? null }))
  .get('/query', (ctx) => ({ tags: ctx.queryAll('tag'), page: ctx.query.page ?? null, raw: ctx.req.url }))
  .get('/text', () => 'plain text')
  .delete('/users/:id', () => undefined)
  .get('/teapot', () => {
    throw new HttpError(418, 'TEAPOT', 'short and stout', { size: 'small' });
  })
  .get('/bad-json', () => new Response('{not json', { headers: { 'content-type': 'application/json' } }))
  .get('/headers', (ctx) => ({
    auth: ctx.headers.authorization ?? null,
    tenant: ctx.headers['x-tenant'] ?? null,
  }))
  .post('/echo', async (ctx) => ({ type: ctx.headers['content-type'] ?? null, body: await ctx.json() }))
  .post('/form', async (ctx) => ctx.form())
  .post(
    '/users',
    {
      schema: {
        body: v.object({ name: v.pipe(v.string(), v.minLength(1)) }),
        query: v.object({ notify: v.optional(v.picklist(['yes', 'no'])) }),
        response: { 201: User, 409: Problem },
      },
    },
    (ctx) =>
      ctx.body.name === 'taken'
        ? ctx.reply(409, { error: 'That name is taken' })
        : ctx.reply(201, { id: 7, name: ctx.body.name }),
  );

const app = new App({ logger: false }).route('/v1', users);
let handle: ServerHandle;
let base: string;
let sent = 0;
// Counts what reaches the network, so that refused calls can be shown to send nothing.
const counting = (url: string, init: RequestInit) => {
  sent++;
  return fetch(url, init);
};

before(async () => {
  handle = await serve(app);
  base = `http://127.0.0.1:${handle.port}`;
});
after(() => handle.close());

const client = () => createClient<typeof app>(base, { fetch: counting });

describe('createClient: paths and params', () => {
  it('keeps each param one segment, whatever it holds', async () => {
    const hostile = ['a/b', '../x', 'x/..', 'a?b=1', 'a#b', '100%', '%2F', '%', 'ü ñ', '..a', '.x', ' sp '];
    for (const name of hostile) {
      const res = await client().get('/v1/echo/:name', { params: { name } });
      assert.equal(res.status, 200, name);
      if (res.status !== 200) continue;
      assert.deepEqual(res.data.name, name);
      assert.ok(res.data.raw.startsWith('/v1/echo/') && !res.data.raw.slice(9).includes('/'), res.data.raw);
    }
  });

  it('refuses a missing, empty, "." or ".." param before any request', async () => {
    const before = sent;
    const api = client();
    for (const name of ['', '.', '..']) {
      await assert.rejects(api.get('/v1/echo/:name', { params: { name } }), {
        code: 'WEIR_ERR_INVALID_OPTION',
        message: /Param "name" of \/v1\/echo\/:name cannot be/,
      });
    }
    const untyped = api.get as (path: string, options?: unknown) => Promise<unknown>;
    await assert.rejects(untyped('/v1/echo/:name'), {
      code: 'WEIR_ERR_INVALID_OPTION',
      message: /is missing/,
    });
    await assert.rejects(untyped('/v1/echo/:name', { params: { name: {} } }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
    await assert.rejects(untyped('/v1/echo/:name', { params: { name: Number.NaN } }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
    await assert.rejects(api.get('/v1/echo/:name', { params: { name: 'a\uD800' } }), {
      code: 'WEIR_ERR_INVALID_OPTION',
      message: /lone surrogate/,
    });
    assert.equal(sent, before);
  });

  it('fills numbers, optional params and the rest of a path', async () => {
    const api = client();
    const one = await api.get('/v1/orgs/:org/repos/:repo?', { params: { org: 'weir', repo: 7 } });
    assert.deepEqual(one.data, { org: 'weir', repo: '7' });
    const none = await api.get('/v1/orgs/:org/repos/:repo?', { params: { org: 'a b' } });
    assert.deepEqual(none.data, { org: 'a b', repo: null });
    const rest = await api.get('/v1/files/*', { params: { '*': 'docs/a b/c?.md' } });
    assert.deepEqual(rest.data, { rest: 'docs/a b/c?.md' });
    await assert.rejects(api.get('/v1/files/*', { params: { '*': 'docs/../secret' } }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
  });

  it('sends arrays as repeated names and leaves undefined out', async () => {
    const res = await client().get('/v1/query', {
      query: { tag: ['a', 'b&c', 2, true], page: 3, skip: undefined },
    });
    assert.deepEqual(res.data, {
      tags: ['a', 'b&c', '2', 'true'],
      page: '3',
      raw: '/v1/query?tag=a&tag=b%26c&tag=2&tag=true&page=3',
    });
  });

  it('accepts a base URL with a path prefix, with or without its trailing slash', async () => {
    for (const prefix of ['/v1', '/v1/']) {
      const api = createClient<typeof users>(`${base}${prefix}`);
      const res = await api.get('/echo/:name', { params: { name: 'ok' } });
      assert.equal(res.status, 200);
      assert.deepEqual(res.data, { name: 'ok', raw: '/v1/echo/ok' });
    }
  });
});

describe('createClient: requests and responses', () => {
  it('sends JSON bodies with their content type, and forms as forms', async () => {
    const api = client();
    const echoed = await api.post('/v1/echo', { body: { a: [1, 'two'], b: null } });
    assert.deepEqual(echoed.data, { type: 'application/json', body: { a: [1, 'two'], b: null } });
    const form = await api.post('/v1/form', { body: new URLSearchParams({ name: 'ada', x: 'é&' }) });
    assert.deepEqual(form.data, { name: 'ada', x: 'é&' });
  });

  it('resolves each declared status with its body, narrowed by status', async () => {
    const api = client();
    const made = await api.post('/v1/users', { body: { name: 'ada' }, query: { notify: 'yes' } });
    assert.equal(made.status, 201);
    assert.equal(made.ok, true);
    if (made.status === 201) assert.equal(made.data.name, 'ada');
    const taken = await api.post('/v1/users', { body: { name: 'taken' } });
    assert.equal(taken.status, 409);
    assert.equal(taken.ok, false);
    if (taken.status === 409) assert.equal(taken.data.error, 'That name is taken');
  });

  it("resolves an undeclared error status with weir's error body", async () => {
    const api = client();
    const invalid = await api.post('/v1/users', { body: { name: '' } });
    assert.equal(invalid.status, 400);
    if (invalid.status === 400) assert.equal(invalid.data.error.code, 'WEIR_ERR_VALIDATION');
    const teapot = await api.get('/v1/teapot');
    assert.equal(teapot.status, 418);
    assert.deepEqual(teapot.data, {
      error: { code: 'TEAPOT', message: 'short and stout', details: { size: 'small' } },
    });
    const untyped = api.get as (path: string) => Promise<{ status: number; data: unknown }>;
    const missing = await untyped('/v1/nowhere');
    assert.equal(missing.status, 404);
    assert.equal((missing.data as { error: { code: string } }).error.code, 'WEIR_ERR_NOT_FOUND');
  });

  it('reads text as text, 204 and HEAD as no body', async () => {
    const api = client();
    const text = await api.get('/v1/text');
    assert.equal(text.data, 'plain text');
    assert.match(String(text.headers.get('content-type')), /^text\/plain/);
    const gone = await api.delete('/v1/users/:id', { params: { id: 1 } });
    assert.equal(gone.status, 204);
    assert.equal(gone.data, undefined);
    const head = await api.head('/v1/text');
    assert.equal(head.status, 200);
    assert.equal(head.data, undefined);
  });

  it('rejects a body that says it is JSON and is not', async () => {
    await assert.rejects(client().get('/v1/bad-json'), {
      code: 'WEIR_ERR_CLIENT_RESPONSE',
      message: /^GET http:\/\/127\.0\.0\.1:\d+\/v1\/bad-json answered 200 with a JSON Content-Type/,
    });
  });

  it('sends default headers, a function of them per call, and lets a call override them', async () => {
    let n = 0;
    const api = createClient<typeof app>(base, {
      headers: () => ({ authorization: `Bearer ${++n}`, 'X-Tenant': 'acme' }),
    });
    assert.deepEqual((await api.get('/v1/headers')).data, { auth: 'Bearer 1', tenant: 'acme' });
    const own = await api.get('/v1/headers', { headers: { 'x-tenant': 'other', authorization: undefined } });
    assert.deepEqual(own.data, { auth: 'Bearer 2', tenant: 'other' });
  });

  it('checks its options when created', () => {
    for (const baseUrl of ['ftp://x', 'http://x/?q=1', 'http://x/#h', 'not a url', '//host', 7]) {
      assert.throws(
        () => createClient(baseUrl as string),
        { code: 'WEIR_ERR_INVALID_OPTION' },
        String(baseUrl),
      );
    }
    for (const timeoutMs of [0, -1, Number.NaN, '5']) {
      assert.throws(() => createClient(base, { timeoutMs: timeoutMs as number }), {
        code: 'WEIR_ERR_INVALID_OPTION',
      });
    }
    assert.throws(() => createClient(base, { fetch: 'no' as never }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
