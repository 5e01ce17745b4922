import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type } from 'arktype';
import Type from 'typebox';
import * as v from 'valibot';
import { App } from 'weir';
import { typebox } from 'weir/schema/typebox';
import { inject } from 'weir/testing';
import { z } from 'zod';

type Issue = { in: string; path: string; message: string };
type ErrorBody = { error: { code: string; message: string; details: { issues: Issue[]; more?: number } } };

const validators = {
  zod: {
    params: z.object({ id: z.coerce.number().int().positive() }),
    query: z.object({ limit: z.coerce.number().int().max(100).default(20) }),
    headers: z.object({ 'x-tenant': z.string().regex(/^[a-z]+$/) }),
    body: z.object({ name: z.string().min(1), tags: z.array(z.string()).max(3).default([]) }),
  },
  valibot: {
    params: v.object({ id: v.pipe(v.string(), v.transform(Number), v.integer(), v.minValue(1)) }),
    query: v.object({ limit: v.optional(v.pipe(v.string(), v.transform(Number), v.maxValue(100)), '20') }),
    headers: v.object({ 'x-tenant': v.pipe(v.string(), v.regex(/^[a-z]+$/)) }),
    body: v.object({
      name: v.pipe(v.string(), v.minLength(1)),
      tags: v.optional(v.pipe(v.array(v.string()), v.maxLength(3)), []),
    }),
  },
  arktype: {
    params: type({ id: 'string.integer.parse' }).pipe((p) => ({ id: p.id })),
    query: type({ 'limit?': type('string.integer.parse').to('number <= 100') }).pipe((q) => ({
      limit: q.limit ?? 20,
    })),
    headers: type({ 'x-tenant': /^[a-z]+$/ }),
    body: type({ name: 'string > 0', 'tags?': 'string[] <= 3' }).pipe((b) => ({
      name: b.name,
      tags: b.tags ?? [],
    })),
  },
  typebox: {
    params: typebox(Type.Object({ id: Type.Integer({ minimum: 1 }) }), { coerce: true }),
    query: typebox(Type.Object({ limit: Type.Integer({ maximum: 100, default: 20 }) }), { coerce: true }),
    headers: typebox(Type.Object({ 'x-tenant': Type.String({ pattern: '^[a-z]+$' }) })),
    body: typebox(
      Type.Object({
        name: Type.String({ minLength: 1 }),
        tags: Type.Array(Type.String(), { maxItems: 3, default: [] }),
      }),
    ),
  },
};

for (const [name, schema] of Object.entries(validators)) {
  describe(`route schemas with ${name}`, () => {
    const app = new App();
    app.post('/orgs/:id/users', { schema }, (ctx) => ({
      id: ctx.params.id,
      limit: Number(ctx.query.limit),
      tenant: ctx.headers['x-tenant'],
      body: ctx.body,
    }));
    const call = (url: string, headers: Record<string, string>, body?: unknown) =>
      inject(app, { method: 'POST', url, headers, body });

    it('hands the handler the validated, coerced parts', async () => {
      const res = await call('/orgs/7/users?limit=5', { 'x-tenant': 'acme' }, { name: 'Ada' });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(res.json(), { id: 7, limit: 5, tenant: 'acme', body: { name: 'Ada', tags: [] } });
    });

    it('refuses each broken part with 400 naming the part and the path, never the input', async () => {
      const secret = 'hunter2-secret';
      const early = await call(`/orgs/${secret}/users?limit=500`, { 'x-tenant': secret }, { name: '' });
      assert.equal(early.status, 400);
      const { error } = early.json<ErrorBody>();
      assert.equal(error.code, 'WEIR_ERR_VALIDATION');
      const where = [...new Set(error.details.issues.map((i) => `${i.in}:${i.path}`))].sort();
      assert.deepEqual(
        where,
        ['headers:x-tenant', 'params:id', 'query:limit'],
        JSON.stringify(error.details),
      );
      assert.doesNotMatch(early.body, /hunter2/);
      const late = await call(
        '/orgs/7/users',
        { 'x-tenant': 'acme' },
        { name: '', tags: ['a', 'b', 'c', 'd'], x: secret },
      );
      assert.equal(late.status, 400);
      const issues = late.json<ErrorBody>().error.details.issues;
      assert.deepEqual([...new Set(issues.map((i) => `${i.in}:${i.path}`))].sort(), [
        'body:name',
        'body:tags',
      ]);
      assert.ok(issues.every((i) => i.message.length > 0 && i.message.length <= 200));
      assert.doesNotMatch(late.body, /hunter2/);
    });

    it('lists at most 20 issues; for a body too large to list them all, valibot and TypeBox stop at the first', async () => {
      const secret = 'hunter2-secret';
      // 3,000 wrong-typed items: one issue each, were every issue listed.
      const res = await call(
        '/orgs/7/users',
        { 'x-tenant': 'acme' },
        { name: secret, tags: Array(3000).fill(7) },
      );
      assert.equal(res.status, 400);
      assert.doesNotMatch(res.body, /hunter2/);
      const { error } = res.json<ErrorBody & { error: { details: { partial?: boolean } } }>();
      assert.ok(error.details.issues.length <= 20);
      assert.ok(error.details.issues.every((i) => i.in === 'body' && i.path.startsWith('tags')));
      if (name === 'valibot' || name === 'typebox') {
        assert.equal(error.details.partial, true, JSON.stringify(error));
        assert.equal(error.details.issues.length, 1);
        assert.equal(error.details.more, undefined);
        assert.match(error.message, /the first issue found in a part too large to list every issue/);
      } else {
        assert.equal(error.details.partial, undefined);
      }
      // A small body that breaks the same rules still lists each issue.
      const small = await call('/orgs/7/users', { 'x-tenant': 'acme' }, { name: '', tags: [1, 2] });
      const listed = small.json<ErrorBody & { error: { details: { partial?: boolean } } }>().error;
      assert.equal(listed.details.partial, undefined);
      assert.ok(listed.details.issues.length >= 3, JSON.stringify(listed));
    });

    it('answers with the first issue only past allIssuesMaxNodes, and refuses a bad value for it', async () => {
      const strict = new App({ allIssuesMaxNodes: 0 });
      strict.post('/orgs/:id/users', { schema }, (ctx) => ctx.body);
      const res = await inject(strict, {
        method: 'POST',
        url: '/orgs/7/users',
        headers: { 'x-tenant': 'acme' },
        body: { name: '', tags: [1, 2] },
      });
      const { details } = res.json<ErrorBody & { error: { details: { partial?: boolean } } }>().error;
      const stops = name === 'valibot' || name === 'typebox';
      assert.equal(details.partial, stops ? true : undefined, JSON.stringify(details));
      assert.equal(details.issues.length === 1, stops, JSON.stringify(details));
      for (const bad of [-1, 1.5, Number.POSITIVE_INFINITY, '10'])
        assert.throws(() => new App({ allIssuesMaxNodes: bad as number }), /allIssuesMaxNodes must be/);
    });

    it('answers malformed JSON with 400 and a non-JSON body with 415 before the schema runs', async () => {
      const bad = await inject(app, {
        method: 'POST',
        url: '/orgs/7/users',
        headers: { 'x-tenant': 'acme', 'content-type': 'application/json' },
        body: '{"name":',
      });
      assert.equal(bad.status, 400);
      const text = await inject(app, {
        method: 'POST',
        url: '/orgs/7/users',
        headers: { 'x-tenant': 'acme', 'content-type': 'text/plain' },
        body: 'name=x',
      });
      assert.equal(text.status, 415);
    });
  });
}

describe('route schemas', () => {
  it('runs an async valibot check once per request, and a check that throws is a 500, not a crash', async () => {
    let calls = 0;
    const Body = v.pipeAsync(
      v.objectAsync({ a: v.string() }),
      v.checkAsync(async (body) => {
        calls++;
        if (body.a === 'down') throw new Error('the lookup failed');
        return body.a !== 'taken';
      }, 'That a is taken'),
    );
    const app = new App({ logger: false });
    app.post('/a', { schema: { body: Body } }, (ctx) => ctx.body);
    assert.deepEqual((await inject(app, { method: 'POST', url: '/a', body: { a: 'x' } })).json(), { a: 'x' });
    assert.equal(calls, 1);
    assert.equal((await inject(app, { method: 'POST', url: '/a', body: { a: 'taken' } })).status, 400);
    assert.equal((await inject(app, { method: 'POST', url: '/a', body: { a: 'down' } })).status, 500);
    assert.equal(calls, 3);
  });

  it("words valibot's first issue in the language of its global config, as it does every other issue", async () => {
    const Body = v.object({ name: v.pipe(v.string(), v.minLength(1)), tags: v.array(v.string()) });
    // allIssuesMaxNodes 0: every refused body gets only its first issue, from valibot's early-stopping check.
    const app = new App({ logger: false, allIssuesMaxNodes: 0 });
    app.post('/a', { schema: { body: Body } }, (ctx) => ctx.body);
    const Piped = v.pipe(
      Body,
      v.check(() => true),
    );
    app.post('/piped', { schema: { body: Piped } }, (ctx) => ctx.body);
    const first = async (url: string) => {
      const res = await inject(app, { method: 'POST', url, body: { name: '', tags: [1] } });
      const { details } = res.json<ErrorBody & { error: { details: { partial?: boolean } } }>().error;
      assert.equal(details.partial, true);
      return details.issues.map((i) => i.message);
    };
    assert.deepEqual(await first('/a'), ['Invalid length: Expected >=1']);
    v.setGlobalConfig({ lang: 'de' });
    v.setGlobalMessage((issue) => `Ungültig: ${issue.expected}`, 'de');
    try {
      assert.deepEqual(await first('/a'), ['Ungültig: >=1']);
      assert.deepEqual(await first('/piped'), ['Ungültig: >=1']);
      // A body small enough to list every issue goes through valibot's Standard validate: the same words.
      const listed = new App({ logger: false });
      listed.post('/a', { schema: { body: Body } }, (ctx) => ctx.body);
      const res = await inject(listed, { method: 'POST', url: '/a', body: { name: '', tags: [1] } });
      assert.deepEqual(
        res.json<ErrorBody>().error.details.issues.map((i) => i.message),
        ['Ungültig: >=1', 'Ungültig: string'],
      );
    } finally {
      v.deleteGlobalMessage('de');
      v.deleteGlobalConfig();
    }
    assert.deepEqual(await first('/a'), ['Invalid length: Expected >=1']);
  });

  it('read a form body, treat no body as undefined, and strip or refuse unknown keys as the schema says', async () => {
    const app = new App();
    app.post('/strip', { schema: { body: z.object({ a: z.string() }) } }, (ctx) => ctx.body);
    app.post('/strict', { schema: { body: z.strictObject({ a: z.string() }) } }, (ctx) => ctx.body);
    app.post('/optional', { schema: { body: z.object({ a: z.string() }).optional() } }, (ctx) => ({
      got: ctx.body ?? null,
    }));
    const form = await inject(app, {
      method: 'POST',
      url: '/strip',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=2',
    });
    assert.deepEqual(form.json(), { a: '1' });
    assert.deepEqual(
      (await inject(app, { method: 'POST', url: '/strip', body: { a: 'x', extra: 1 } })).json(),
      { a: 'x' },
    );
    const strict = await inject(app, { method: 'POST', url: '/strict', body: { a: 'x', extra: 1 } });
    assert.equal(strict.status, 400);
    assert.deepEqual((await inject(app, { method: 'POST', url: '/optional' })).json(), { got: null });
    assert.equal(
      (await inject(app, { method: 'POST', url: '/strip' })).status,
      400,
      'a required body that is absent',
    );
  });

  it('leaves the body readable as bytes, text and JSON after the check, to the handler and its middleware', async () => {
    const app = new App();
    const seen: unknown[] = [];
    app.use(async (ctx, next) => {
      await next();
      seen.push((await ctx.buffer()).length, await ctx.text(), await ctx.json().catch((err) => err.code));
    });
    const body = v.object({ name: v.string() });
    app.post('/echo', { schema: { body } }, async (ctx) => ({
      body: ctx.body,
      json: await ctx.json(),
      text: await ctx.text(),
      bytes: (await ctx.buffer()).length,
    }));
    app.post(
      '/first',
      { schema: { body } },
      async (ctx, next) => {
        seen.push(await ctx.json());
        return next();
      },
      (ctx) => ctx.body,
    );
    const sent = '{"name":"Ada","x":1}';
    const echo = await inject(app, { method: 'POST', url: '/echo', body: JSON.parse(sent) });
    assert.deepEqual(echo.json(), {
      body: { name: 'Ada' },
      json: { name: 'Ada', x: 1 },
      text: sent,
      bytes: 20,
    });
    assert.deepEqual(seen.splice(0), [20, sent, { name: 'Ada', x: 1 }]);
    const first = await inject(app, { method: 'POST', url: '/first', body: { name: 'Bo', y: 2 } });
    assert.deepEqual(first.json(), { name: 'Bo' });
    assert.deepEqual(seen.splice(0), [{ name: 'Bo', y: 2 }, 19, '{"name":"Bo","y":2}', { name: 'Bo', y: 2 }]);
    const malformed = await inject(app, {
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    });
    assert.equal(malformed.status, 400);
    assert.deepEqual(seen.splice(0), [8, '{"name":', 'WEIR_ERR_BODY_INVALID_JSON']);
    const large = await inject(
      new App({ bodyLimitBytes: 8 }).post('/echo', { schema: { body } }, (ctx) => ctx.body),
      {
        method: 'POST',
        url: '/echo',
        body: { name: 'too long for the limit' },
      },
    );
    assert.equal(large.status, 413);
  });

  it('answers a body route without middleware through callbacks: the body stays readable, every refusal is answered and gives its slot back', async () => {
    const app = new App({ bodyLimitBytes: 64 });
    const body = v.object({ name: v.string() });
    app.post('/echo', { schema: { body } }, async (ctx) => ({
      body: ctx.body,
      json: await ctx.json(),
      text: await ctx.text(),
      bytes: (await ctx.buffer()).length,
      form: await ctx.form().catch((err) => err.code),
    }));
    app.post('/sync', { schema: { body, params: v.object({}) } }, (ctx) => ctx.reply(201, ctx.body));
    app.post('/throws', { schema: { body } }, () => {
      throw new Error('handler failed');
    });
    const sent = '{"name":"Ada","x":1}';
    const echo = await inject(app, { method: 'POST', url: '/echo', body: JSON.parse(sent) });
    assert.deepEqual(echo.json(), {
      body: { name: 'Ada' },
      json: { name: 'Ada', x: 1 },
      text: sent,
      bytes: 20,
      form: 'WEIR_ERR_BODY_CONSUMED',
    });
    const created = await inject(app, { method: 'POST', url: '/sync', body: { name: 'Bo' } });
    assert.equal(created.status, 201);
    assert.deepEqual(created.json(), { name: 'Bo' });
    const refusals: [string, Record<string, string>, string, number, string][] = [
      ['/sync', { 'content-type': 'text/plain' }, 'x', 415, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE'],
      ['/sync', { 'content-type': 'application/json' }, '{"name":', 400, 'WEIR_ERR_BODY_INVALID_JSON'],
      ['/sync', { 'content-type': 'application/json' }, '{"name":1}', 400, 'WEIR_ERR_VALIDATION'],
      [
        '/sync',
        { 'content-type': 'application/json' },
        `{"name":"${'x'.repeat(80)}"}`,
        413,
        'WEIR_ERR_BODY_TOO_LARGE',
      ],
      ['/throws', { 'content-type': 'application/json' }, '{"name":"Cy"}', 500, 'WEIR_ERR_INTERNAL'],
    ];
    for (const [url, headers, payload, status, code] of refusals) {
      const res = await inject(app, { method: 'POST', url, headers, body: payload });
      assert.equal(res.status, status, `${url} ${payload.slice(0, 12)}`);
      assert.equal((res.json() as ErrorBody).error.code, code);
    }
    assert.equal(app.overloadStats()?.inFlight, 0, 'every answered request gave its slot back');
  });

  it('runs the handler of a body route in the async context its request came in, over a real socket', async () => {
    const store = new AsyncLocalStorage<string>();
    const app = new App();
    const body = v.object({ a: v.number() });
    app.post('/bare', { schema: { body } }, () => ({ store: store.getStore() ?? null }));
    app.post(
      '/wrapped',
      { schema: { body } },
      (_ctx, next) => store.run('middleware', next),
      () => ({ store: store.getStore() ?? null }),
    );
    // The body arrives in a later packet, so its events cannot share the request's tick.
    const server = createServer((req, res) => store.run('server', () => app.handler(req, res)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const post = (path: string) =>
      new Promise<unknown>((resolve, reject) => {
        const req = request({ port, host: '127.0.0.1', path, method: 'POST' }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(JSON.parse(text)));
        });
        req.on('error', reject);
        req.setHeader('content-type', 'application/json');
        req.setHeader('content-length', '7');
        req.flushHeaders();
        setTimeout(() => req.end('{"a":1}'), 20);
      });
    try {
      assert.deepEqual(await post('/bare'), { store: 'server' });
      assert.deepEqual(await post('/wrapped'), { store: 'middleware' });
    } finally {
      server.close();
    }
  });

  it("runs the handler of a route with a body schema in its middleware's async context", async () => {
    const store = new AsyncLocalStorage<string>();
    const app = new App();
    app.use((_ctx, next) => store.run('request', next));
    app.post('/in', { schema: { body: v.object({ a: v.number() }) } }, () => ({
      store: store.getStore() ?? null,
    }));
    const res = await inject(app, { method: 'POST', url: '/in', body: { a: 1 } });
    assert.deepEqual(res.json(), { store: 'request' });
  });

  it('runs async checks on params, query and headers too, reporting every part that fails', async () => {
    const app = new App();
    const known = z.string().refine(async (id) => id !== '0', 'is unknown');
    app.get(
      '/items/:id',
      {
        schema: {
          params: z.object({ id: known }),
          query: z.object({ sort: z.enum(['asc', 'desc']).optional() }),
          headers: z.object({ 'x-tenant': z.string().refine(async (t) => t !== 'evil', 'is refused') }),
        },
      },
      (ctx) => ({ id: ctx.params.id, sort: ctx.query.sort ?? 'asc' }),
    );
    const ok = await inject(app, { url: '/items/7?sort=desc', headers: { 'x-tenant': 'acme' } });
    assert.deepEqual(ok.json(), { id: '7', sort: 'desc' });
    const bad = await inject(app, { url: '/items/0?sort=up', headers: { 'x-tenant': 'evil' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.json<ErrorBody>().error.details.issues.map((i) => `${i.in}:${i.path}`),
      ['params:id', 'query:sort', 'headers:x-tenant'],
    );
  });

  it('runs async refinements, and caps the issues listed', async () => {
    const app = new App();
    const taken = z.string().refine(async (name) => name !== 'admin', 'is taken');
    app.post('/users', { schema: { body: z.object({ name: taken }) } }, () => 'ok');
    app.post('/many', { schema: { body: z.array(z.number()) } }, () => 'ok');
    const res = await inject(app, { method: 'POST', url: '/users', body: { name: 'admin' } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json<ErrorBody>().error.details.issues, [
      { in: 'body', path: 'name', message: 'is taken' },
    ]);
    assert.equal((await inject(app, { method: 'POST', url: '/users', body: { name: 'ada' } })).status, 200);
    const many = await inject(app, {
      method: 'POST',
      url: '/many',
      body: Array.from({ length: 50 }, () => 'x'),
    });
    const details = many.json<ErrorBody>().error.details;
    assert.equal(details.issues.length, 20);
    assert.equal(details.more, 30);
    assert.equal(details.issues[3]?.path, '[3]');
  });

  it('answers ctx.reply() with the status and body, 204 without one', async () => {
    const app = new App();
    app.post(
      '/r',
      { schema: { response: { 201: z.object({ id: z.number() }), 204: z.undefined() } } },
      (ctx) => (ctx.query.empty === '1' ? ctx.reply(204, undefined) : ctx.reply(201, { id: 3 })),
    );
    const made = await inject(app, { method: 'POST', url: '/r' });
    assert.equal(made.status, 201);
    assert.deepEqual(made.json(), { id: 3 });
    const empty = await inject(app, { method: 'POST', url: '/r?empty=1' });
    assert.equal(empty.status, 204);
    assert.equal(empty.body, '');
  });

  it('refuses a schema that is not one when the route is added', () => {
    const app = new App();
    for (const schema of [
      { body: { type: 'object' } },
      { nope: z.string() },
      { response: { 999: z.string() } },
      { response: { 200: {} } },
    ]) {
      assert.throws(
        () => app.post('/x', { schema: schema as never }, () => null),
        { code: 'WEIR_ERR_INVALID_OPTION' },
        JSON.stringify(Object.keys(schema)),
      );
    }
  });

  it('checks responses: a 500 instead with responseSchemas error, a warning once with warn; with off, a value the compiled serialiser cannot write is a 500', async () => {
    const logged: { level: string; obj: unknown }[] = [];
    const logger = {
      error: (obj: unknown) => logged.push({ level: 'error', obj }),
      warn: (obj: unknown) => logged.push({ level: 'warn', obj }),
      info() {},
      debug() {},
    };
    const build = (responseSchemas: 'error' | 'warn' | 'off') => {
      const app = new App({ logger, responseSchemas });
      const schema = { response: { 200: z.object({ id: z.number() }), 201: z.object({ id: z.number() }) } };
      // The casts stand for a bug the types did not catch (data from elsewhere, typed loosely).
      app.get('/plain', { schema }, () => ({ id: 'secret-string' }) as unknown as { id: number });
      app.post('/reply', { schema }, (ctx) => ctx.reply(201, { id: 'x' } as unknown as { id: number }));
      app.get('/fine', { schema }, async () => ({ id: 1 }));
      return app;
    };
    const strict = build('error');
    for (const [method, url] of [
      ['GET', '/plain'],
      ['POST', '/reply'],
    ] as const) {
      const res = await inject(strict, { method, url });
      assert.equal(res.status, 500, url);
      assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_RESPONSE_SCHEMA');
      assert.doesNotMatch(res.body, /secret-string/);
    }
    assert.deepEqual((await inject(strict, { url: '/fine' })).json(), { id: 1 });
    assert.equal(logged.filter((l) => l.level === 'error').length, 2);
    logged.length = 0;
    const lenient = build('warn');
    for (let i = 0; i < 3; i++)
      assert.deepEqual((await inject(lenient, { url: '/plain' })).json(), { id: 'secret-string' });
    assert.equal(logged.filter((l) => l.level === 'warn').length, 1, 'once per route and status');
    logged.length = 0;
    // Unchecked, the value goes straight to the compiled writer, which refuses it: a 500, never a body
    // written some other way (which could carry keys the schema leaves out).
    const unchecked = build('off');
    const res = await inject(unchecked, { url: '/plain' });
    assert.equal(res.status, 500);
    assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_RESPONSE_SCHEMA');
    assert.doesNotMatch(res.body, /secret-string/);
    assert.doesNotMatch(JSON.stringify(logged), /secret-string/);
    assert.deepEqual((await inject(unchecked, { url: '/fine' })).json(), { id: 1 });
    assert.throws(() => new App({ responseSchemas: 'loud' as never }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
