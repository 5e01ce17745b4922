import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { App, sleep } from 'weir';
import { inject } from 'weir/testing';
import { deferred, serve } from '../helpers/http.ts';

/** Resolves with a task's outcome: its value, or the reason it was cancelled. */
function outcome(task: Promise<unknown>): Promise<unknown> {
  return task.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
}

interface Line {
  level: string;
  obj: unknown;
  msg: unknown;
}

/** A logger that keeps what it is given. */
function captureLog(): { logger: unknown; lines: Line[] } {
  const lines: Line[] = [];
  const logger = {
    error: (obj: unknown, msg?: unknown) => lines.push({ level: 'error', obj, msg }),
    warn: (obj: unknown, msg?: unknown) => lines.push({ level: 'warn', obj, msg }),
    info() {},
    debug() {},
    child() {
      return logger;
    },
  };
  return { logger, lines };
}

describe('ctx.tasks', () => {
  it('cancels what is still running once the response has been sent', async () => {
    const app = new App({ logger: false });
    let slow: Promise<unknown> | undefined;
    app.get('/', async (ctx) => {
      const quick = ctx.tasks.spawn(async (signal) => {
        await sleep(5, { signal });
        return 'quick';
      });
      slow = outcome(ctx.tasks.spawn((signal) => sleep(10_000, { signal })));
      return { quick: await quick };
    });
    const started = performance.now();
    const res = await inject(app, {});
    assert.deepEqual(res.json(), { quick: 'quick' });
    const ended = (await slow) as { err?: DOMException };
    assert.equal(ended.err?.name, 'AbortError');
    assert.match(ended.err?.message ?? '', /response has been sent/);
    assert.ok(performance.now() - started < 2000);
  });

  it('cancels the tasks of a request whose client hangs up', async () => {
    const app = new App({ logger: false });
    // Wrapped in an object: a deferred resolved with a promise would wait for that promise.
    const spawned = deferred<{ task: Promise<unknown> }>();
    app.get('/', async (ctx) => {
      spawned.resolve({ task: outcome(ctx.tasks.spawn((signal) => sleep(10_000, { signal }))) });
      await sleep(10_000, ctx);
      return 'never';
    });
    const handle = await serve(app);
    try {
      const socket = connect(handle.port, '127.0.0.1');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const { task } = await spawned.promise;
      socket.destroy();
      const ended = (await task) as { err?: DOMException };
      assert.equal(ended.err?.name, 'AbortError');
      assert.match(ended.err?.message ?? '', /client closed/);
    } finally {
      await handle.close();
    }
  });

  it('a failure cancels its siblings and is thrown by wait(); one nobody joined is logged', async () => {
    const { logger, lines } = captureLog();
    const app = new App({ logger: logger as never });
    app.get('/joined', async (ctx) => {
      const sibling = outcome(ctx.tasks.spawn((signal) => sleep(10_000, { signal })));
      ctx.tasks.spawn(async () => {
        throw new Error('lookup failed');
      });
      await assert.rejects(ctx.tasks.wait(), /lookup failed/);
      return { sibling: ((await sibling) as { err?: Error }).err?.message };
    });
    app.get('/unjoined', (ctx) => {
      ctx.tasks.spawn(async () => {
        await sleep(1);
        throw new Error('late failure');
      });
      return 'ok';
    });
    assert.deepEqual((await inject(app, { url: '/joined' })).json(), { sibling: 'lookup failed' });
    assert.equal((await inject(app, { url: '/unjoined' })).status, 200);
    // The task ignores its signal and fails after the response: nobody joined it, so it is logged.
    await sleep(30);
    const logged = lines.filter((l) => l.msg === 'a request task failed');
    assert.equal(logged.length, 1);
    assert.match(String((logged[0]?.obj as { err: Error } | undefined)?.err), /late failure/);
    // The cancelled sibling of /joined was not logged as a failure.
    assert.ok(!lines.some((l) => /lookup failed/.test(String((l.obj as { err?: Error }).err))));
  });

  it('costs nothing when unused: no group is made for a request that never reads ctx.tasks', async () => {
    const app = new App({ logger: false });
    app.get('/', (ctx) => String(ctx.signal.aborted));
    assert.equal((await inject(app, {})).body, 'false');
  });
});

describe('app.background()', () => {
  it('outlives its request, and the app stop waits for it before its onStop hooks', async () => {
    const app = new App({ logger: false });
    const order: string[] = [];
    let task: Promise<unknown> | undefined;
    app.get('/', () => {
      task = outcome(
        app.background(async (signal) => {
          await sleep(150, { signal });
          order.push('task done');
          return 'sent';
        }),
      );
      return 'accepted';
    });
    app.onStop(() => {
      order.push('onStop');
    });
    assert.equal((await inject(app, {})).body, 'accepted');
    await sleep(20);
    await app.stop();
    assert.deepEqual(order, ['task done', 'onStop']);
    assert.deepEqual(await task, { value: 'sent' });
  });

  it('aborts tasks still running past stopTimeoutMs, and refuses new ones while stopping', async () => {
    const { logger, lines } = captureLog();
    const app = new App({ logger: logger as never, background: { stopTimeoutMs: 100 } });
    const task = outcome(app.background((signal) => sleep(10_000, { signal })));
    const started = performance.now();
    await app.stop();
    assert.ok(performance.now() - started < 2000);
    assert.equal(((await task) as { err?: { code?: string } }).err?.code, 'WEIR_ERR_SHUTTING_DOWN');
    assert.ok(lines.some((l) => l.msg === 'background tasks still running at stop: aborting them'));
    assert.throws(() => app.background(() => 1), { code: 'WEIR_ERR_BACKGROUND_FULL', status: 503 });
    // A task that ended because it was aborted is not logged as a failure.
    assert.ok(!lines.some((l) => l.msg === 'a background task failed'));
  });

  it('bounds the tasks running at once, with a 503 a handler can let through', async () => {
    const app = new App({ logger: false, background: { maxTasks: 2 } });
    const gate = deferred();
    app.post('/', () => {
      app.background(() => gate.promise);
      return 'queued';
    });
    assert.equal((await inject(app, { method: 'POST' })).status, 200);
    assert.equal((await inject(app, { method: 'POST' })).status, 200);
    const third = await inject(app, { method: 'POST' });
    assert.equal(third.status, 503);
    assert.equal((third.json() as { error: { code: string } }).error.code, 'WEIR_ERR_BACKGROUND_FULL');
    assert.equal(third.headers['retry-after'], '1');
    gate.resolve();
    await sleep(5);
    assert.equal((await inject(app, { method: 'POST' })).status, 200);
    await app.stop();
    assert.throws(() => new App({ background: { maxTasks: 0 } }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('logs a failure with the task name, without an unhandled rejection', async () => {
    const { logger, lines } = captureLog();
    const app = new App({ logger: logger as never });
    void app
      .background(
        async () => {
          throw new Error('smtp down');
        },
        { name: 'welcome mail' },
      )
      .catch(() => {});
    app.background(async () => {
      throw new Error('unawaited');
    });
    await sleep(10);
    const failed = lines.filter((l) => l.msg === 'a background task failed');
    assert.equal(failed.length, 2);
    assert.equal((failed[0]?.obj as { task?: string } | undefined)?.task, 'welcome mail');
    await app.stop();
  });
});
