import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, HttpError, sleep, TaskGroup } from 'weir';
import { inject } from 'weir/testing';

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
});
