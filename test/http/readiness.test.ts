import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, type ReadinessCheck, readiness, sleep } from 'weir';
import { inject } from 'weir/testing';
import { request, serve } from '../helpers/http.ts';

function probeApp(checks: Record<string, ReadinessCheck>, draining = () => false, timeoutMs?: number): App {
  const app = new App({ logger: false });
  app.get('/readyz', readiness(draining, checks, { timeoutMs }));
  return app;
}

describe('readiness()', () => {
  it('answers 200 with each check ok, not cacheable', async () => {
    const res = await inject(probeApp({ database: () => 1, cache: async () => true }), { url: '/readyz' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(res.json(), {
      status: 'ready',
      draining: false,
      checks: { database: 'ok', cache: 'ok' },
    });
  });

  it('answers 503 naming the failed check, never its error', async () => {
    const app = probeApp({
      database: () => {
        throw new Error('connect ECONNREFUSED 10.1.2.3:5432 password=hunter2');
      },
      broker: async () => false,
      cache: () => true,
    });
    const res = await inject(app, { url: '/readyz' });
    assert.equal(res.status, 503);
    assert.deepEqual(res.json(), {
      status: 'not ready',
      draining: false,
      checks: { database: 'failed', broker: 'failed', cache: 'ok' },
    });
    assert.doesNotMatch(res.body, /ECONNREFUSED|hunter2/);
  });

  it('fails a check that outlasts timeoutMs, and aborts its signal', async () => {
    let aborted = false;
    const slow: ReadinessCheck = async (signal) => {
      signal.addEventListener('abort', () => {
        aborted = true;
      });
      await sleep(10_000, { signal });
    };
    const hanging: ReadinessCheck = () => new Promise(() => {});
    const res = await inject(
      probeApp({ slow, hanging }, () => false, 20),
      { url: '/readyz' },
    );
    assert.equal(res.status, 503);
    assert.deepEqual(res.json<{ checks: unknown }>().checks, { slow: 'failed', hanging: 'failed' });
    assert.equal(aborted, true);
  });

  it('answers 503 while draining', async () => {
    const res = await inject(
      probeApp({}, () => true),
      { url: '/readyz' },
    );
    assert.equal(res.status, 503);
    assert.deepEqual(res.json(), { status: 'not ready', draining: true, checks: {} });
  });

  it('refuses a check that is not a function and a bad timeout', () => {
    assert.throws(() => readiness(() => false, { db: 1 as never }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => readiness(() => false, {}, { timeoutMs: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('app.draining turns true when the server starts draining, so the probe says 503', async () => {
    const app = new App({ logger: false });
    let release = (): void => {};
    app.get('/slow', () => new Promise<string>((resolve) => (release = () => resolve('done'))));
    app.get(
      '/readyz',
      readiness(() => app.draining, {}),
    );
    const handle = await serve(app);
    assert.equal(app.draining, false);
    assert.equal((await request(handle, { path: '/readyz' })).status, 200);
    const slow = request(handle, { path: '/slow' });
    await sleep(20);
    const closing = handle.close({ timeoutMs: 2000 });
    assert.equal(app.draining, true);
    release();
    assert.equal((await slow).body, 'done');
    await closing;
  });
});
