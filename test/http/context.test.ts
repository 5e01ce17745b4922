import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { inject } from 'weir/testing';

describe('Context', () => {
  it('exposes method, path, params, headers and a lazily parsed query', async () => {
    const app = new App({ logger: false });
    app.get('/items/:id', (ctx) => ({
      method: ctx.method,
      path: ctx.path,
      id: ctx.params.id,
      agent: ctx.headers['user-agent'],
      q: ctx.query.q ?? null,
      tags: ctx.queryAll('tag'),
      missing: ctx.query.nothing ?? null,
      first: ctx.query.tag,
    }));
    const res = await inject(app, { url: '/items/9?q=a%20b&tag=x&tag=y', headers: { 'user-agent': 'test' } });
    assert.deepEqual(res.json(), {
      method: 'GET',
      path: '/items/9',
      id: '9',
      agent: 'test',
      q: 'a b',
      tags: ['x', 'y'],
      missing: null,
      first: 'x',
    });
  });

  it('gives each request its own typed state object', async () => {
    const app = new App<{ user?: string }>({ logger: false });
    app.use(async (ctx, next) => {
      ctx.state.user = ctx.headers['x-user'] as string | undefined;
      await next();
    });
    app.get('/', (ctx) => ({ user: ctx.state.user ?? null }));
    assert.deepEqual((await inject(app, { headers: { 'x-user': 'ada' } })).json(), { user: 'ada' });
    assert.deepEqual((await inject(app, {})).json(), { user: null });
  });

  it('query has no prototype, so "__proto__" and "constructor" are plain names', async () => {
    const app = new App({ logger: false });
    // biome-ignore lint/suspicious/noProto: the test is that "__proto__" is a plain query name
    app.get('/', (ctx) => ({ p: ctx.query['__proto__'] ?? null, c: ctx.query.constructor ?? null }));
    assert.deepEqual((await inject(app, { url: '/?__proto__=1' })).json(), { p: '1', c: null });
  });

  it('signal is not aborted for a request that completes normally', async () => {
    let signal: AbortSignal | undefined;
    const app = new App({ logger: false });
    app.get('/', (ctx) => {
      signal = ctx.signal;
      return 'done';
    });
    await inject(app, {});
    assert.equal(signal?.aborted, false);
  });
});
