import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, HttpError, type Middleware, sleep, TaskGroup } from 'weir';
import { inject } from 'weir/testing';
import { request, serve } from '../helpers/http.ts';

describe('error responses', () => {
  it('answers a child’s HttpError as itself when `await using` a TaskGroup rethrows it on disposal', async () => {
    const app = new App({ logger: false });
    app.get('/profile/:id', async (ctx) => {
      await using group = new TaskGroup({ signal: ctx.signal });
      const user = group.spawn(async (signal) => {
        await sleep(1, { signal });
        throw HttpError.notFound(`No user ${ctx.params.id}`, undefined, 'USER_NOT_FOUND');
      });
      return { user: await user };
    });
    const res = await inject(app, { url: '/profile/9' });
    assert.equal(res.status, 404);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'USER_NOT_FOUND');
  });

  it('keeps a SuppressedError of two different errors a 500', async () => {
    const app = new App({ logger: false });
    app.get('/two', async () => {
      await using _group = {
        async [Symbol.asyncDispose]() {
          throw new Error('disposal failed');
        },
      };
      throw HttpError.notFound();
    });
    assert.equal((await inject(app, { url: '/two' })).status, 500);
  });

  it('answers an HttpError whose details have no JSON form with a logged 500, thrown anywhere, and keeps serving', async () => {
    const logged: string[] = [];
    const quiet = (): void => {};
    const logger = {
      error: (_o: unknown, msg?: string) => logged.push(String(msg)),
      warn: quiet,
      info: quiet,
      debug: quiet,
    };
    const app = new App({ logger });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const details = (ctx: { query: Record<string, string | undefined> }): Record<string, unknown> =>
      ctx.query.kind === 'bigint' ? { id: 1n } : circular;
    const pass: Middleware = async (_ctx, next) => {
      await next();
    };
    app.get('/sync', (ctx) => {
      throw new HttpError(400, 'BAD_INPUT', 'bad', details(ctx));
    });
    app.get('/async', async (ctx) => {
      await sleep(1);
      throw new HttpError(400, 'BAD_INPUT', 'bad', details(ctx));
    });
    app.get('/middleware', pass, (ctx) => {
      throw new HttpError(400, 'BAD_INPUT', 'bad', details(ctx));
    });
    app.get('/ok', () => 'ok');
    const handle = await serve(app);
    try {
      for (const path of ['/sync', '/async', '/middleware'].flatMap((p) => [`${p}?kind=bigint`, p])) {
        const res = await request(handle, { path });
        assert.equal(res.status, 500, path);
        assert.deepEqual(JSON.parse(res.body), {
          error: {
            code: 'WEIR_ERR_INTERNAL',
            message: 'Internal Server Error',
            requestId: res.headers['x-request-id'],
          },
        });
      }
      assert.equal(logged.filter((m) => m === 'the error response could not be built').length, 6);
      assert.equal((await request(handle, { path: '/ok' })).body, 'ok');
    } finally {
      await handle.close();
    }
  });

  it('answers errors as usual and keeps serving when the logger throws on error and warn', async () => {
    const boom = (): never => {
      throw new Error('log sink down');
    };
    const quiet = (): void => {};
    const app = new App({ logger: { error: boom, warn: boom, info: quiet, debug: quiet } });
    app.get('/header', (ctx) => {
      ctx.set('x-a', ctx.query.v ?? '');
      return 'ok';
    });
    app.get('/throw', () => {
      throw new Error('handler failed');
    });
    app.get('/reject', async () => {
      await sleep(1);
      throw new Error('handler failed');
    });
    app.get('/busy', () => {
      throw HttpError.unavailable();
    });
    app.get('/ok', () => 'ok');
    const handle = await serve(app);
    try {
      // The log lines are lost; the responses are the ones a working logger would have seen.
      for (const [path, status, code] of [
        ['/header?v=%0A', 500, 'WEIR_ERR_INVALID_HEADER'],
        ['/throw', 500, 'WEIR_ERR_INTERNAL'],
        ['/reject', 500, 'WEIR_ERR_INTERNAL'],
        ['/busy', 503, 'UNAVAILABLE'],
      ] as const) {
        const res = await request(handle, { path });
        assert.equal(res.status, status, path);
        assert.equal(JSON.parse(res.body).error.code, code, path);
      }
      assert.equal((await request(handle, { path: '/ok' })).body, 'ok');
    } finally {
      await handle.close();
    }
  });
});
