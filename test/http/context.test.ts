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

  it('signal stays live while the handler runs and aborts once the response has been sent', async () => {
    let signal: AbortSignal | undefined;
    let during: boolean | undefined;
    const app = new App({ logger: false });
    app.get('/', async (ctx) => {
      signal = ctx.signal;
      await new Promise((resolve) => setTimeout(resolve, 5));
      during = ctx.signal.aborted;
      return 'done';
    });
    assert.equal((await inject(app, {})).body, 'done');
    assert.equal(during, false);
    assert.equal(signal?.aborted, true);
    assert.equal((signal?.reason as DOMException | undefined)?.name, 'AbortError');
    assert.match(String((signal?.reason as DOMException | undefined)?.message), /response has been sent/);
  });
});
