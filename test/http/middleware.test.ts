import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, HttpError, json } from 'weir';
import { inject } from 'weir/testing';

describe('middleware', () => {
  it('runs in onion order around the handler', async () => {
    const order: string[] = [];
    const app = new App({ logger: false });
    app.use(async (_ctx, next) => {
      order.push('a in');
      await next();
      order.push('a out');
    });
    app.use(async (_ctx, next) => {
      order.push('b in');
      await next();
      order.push('b out');
    });
    app.get(
      '/',
      async (_ctx, next) => {
        order.push('route in');
        await next();
        order.push('route out');
      },
      () => {
        order.push('handler');
        return 'ok';
      },
    );
    assert.equal((await inject(app, {})).body, 'ok');
    assert.deepEqual(order, ['a in', 'b in', 'route in', 'handler', 'route out', 'b out', 'a out']);
  });

  it('sees the result and status after next(), and may replace the result', async () => {
    const seen: unknown[] = [];
    const app = new App({ logger: false });
    app.use(async (ctx, next) => {
      await next();
      seen.push(ctx.statusCode, ctx.result);
      ctx.set('x-wrapped', 'yes');
      return { wrapped: ctx.result };
    });
    app.get('/', () => ({ n: 1 }));
    const res = await inject(app, {});
    assert.deepEqual(res.json(), { wrapped: { n: 1 } });
    assert.equal(res.headers['x-wrapped'], 'yes');
    assert.deepEqual(seen, [200, { n: 1 }]);
  });

  it('short-circuits when a middleware returns without calling next()', async () => {
    let reached = false;
    const app = new App({ logger: false });
    app.use((ctx) => (ctx.headers.authorization ? undefined : json({ error: 'no' }, 401)));
    app.get('/', () => {
      reached = true;
      return 'secret';
    });
    const res = await inject(app, {});
    assert.equal(res.status, 401);
    assert.equal(reached, false);
  });

  it('turns an error thrown by the handler into ctx.error and its response, seen by outer middleware', async () => {
    const seen: unknown[] = [];
    const app = new App({ logger: false });
    app.use(async (ctx, next) => {
      await next();
      seen.push(ctx.statusCode, (ctx.error as HttpError).code);
    });
    app.get('/', () => {
      throw new HttpError(409, 'TAKEN', 'That name is taken', { field: 'name' });
    });
    const res = await inject(app, {});
    assert.equal(res.status, 409);
    assert.deepEqual(res.json(), {
      error: { code: 'TAKEN', message: 'That name is taken', details: { field: 'name' } },
    });
    assert.deepEqual(seen, [409, 'TAKEN']);
  });

  it('answers errors thrown inside middleware, sync or async', async () => {
    const app = new App({ logger: false });
    app.get(
      '/sync',
      () => {
        throw HttpError.forbidden('nope');
      },
      () => 'unreachable',
    );
    app.get(
      '/async',
      async () => {
        throw new Error('boom');
      },
      () => 'unreachable',
    );
    const sync = await inject(app, { url: '/sync' });
    assert.equal(sync.status, 403);
    assert.equal(sync.json<{ error: { code: string } }>().error.code, 'FORBIDDEN');
    const async_ = await inject(app, { url: '/async' });
    assert.equal(async_.status, 500);
    assert.deepEqual(async_.json(), {
      error: {
        code: 'WEIR_ERR_INTERNAL',
        message: 'Internal Server Error',
        requestId: async_.headers['x-request-id'],
      },
    });
  });

  it('logs unexpected errors with their stack and hides the stack unless exposeErrors is on', async () => {
    const logged: unknown[] = [];
    const logger = { error: (o: unknown) => logged.push(o), warn() {}, info() {}, debug() {} };
    const quiet = new App({ logger });
    quiet.get('/', () => {
      throw new Error('secret detail');
    });
    const res = await inject(quiet, {});
    assert.equal(res.body.includes('secret detail'), false);
    assert.equal(((logged[0] as { err: Error }).err as Error).message, 'secret detail');

    const dev = new App({ logger: false, exposeErrors: true });
    dev.get('/', () => {
      throw new Error('visible');
    });
    const devRes = await inject(dev, {});
    assert.match(devRes.json<{ error: { stack: string } }>().error.stack, /Error: visible/);
  });

  it('refuses a second call to next() with WEIR_ERR_NEXT_TWICE', async () => {
    const app = new App({ logger: false, exposeErrors: true });
    app.use(async (ctx, next) => {
      await next();
      try {
        await next();
      } catch (err) {
        ctx.set('x-next-error', (err as { code: string }).code);
      }
    });
    app.get('/', () => 'once');
    const res = await inject(app, {});
    assert.equal(res.body, 'once');
    assert.equal(res.headers['x-next-error'], 'WEIR_ERR_NEXT_TWICE');
  });

  it('wraps 404s too, so logging middleware sees every request', async () => {
    const statuses: number[] = [];
    const app = new App({ logger: false });
    app.use(async (ctx, next) => {
      await next();
      statuses.push(ctx.statusCode);
    });
    app.get('/', () => 'x');
    await inject(app, { url: '/missing' });
    await inject(app, { url: '/', method: 'POST' });
    assert.deepEqual(statuses, [404, 405]);
  });
});

describe('lifecycle hooks', () => {
  it('runs onStart in order once, onStop in reverse, and aggregates onStop failures', async () => {
    const calls: string[] = [];
    const app = new App({ logger: false });
    app.onStart(() => void calls.push('start 1'));
    app.onStart(async () => void calls.push('start 2'));
    app.onStop(() => void calls.push('stop 1'));
    app.onStop(() => {
      calls.push('stop 2');
      throw new Error('stop 2 failed');
    });
    app.onStop(() => void calls.push('stop 3'));
    app.get('/', () => 'x');
    await inject(app, {});
    await inject(app, {});
    await assert.rejects(app.stop(), (err: { code: string; cause: AggregateError }) => {
      assert.equal(err.code, 'WEIR_ERR_APP_STOP_FAILED');
      assert.equal(err.cause.errors.length, 1);
      return true;
    });
    assert.deepEqual(calls, ['start 1', 'start 2', 'stop 3', 'stop 2', 'stop 1']);
  });
});
