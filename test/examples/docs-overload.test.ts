import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inject } from 'weir/testing';
import { app } from '../../examples/docs/overload/service.ts';

describe('docs/overload.md', () => {
  it('serves its routes with the limiter on and reports its state', async () => {
    assert.equal((await inject(app, { url: '/healthz' })).body, 'ok');
    assert.deepEqual((await inject(app, { method: 'POST', url: '/checkout' })).json(), { ok: true });
    assert.deepEqual((await inject(app, { url: '/reports/7' })).json(), { report: '7' });
    const stats = (await inject(app, { url: '/overload-stats' })).json<Record<string, unknown>>();
    for (const key of [
      'limit',
      'inFlight',
      'queued',
      'lifo',
      'shedding',
      'admitted',
      'waited',
      'waitedIdle',
      'waitedRetry',
      'shed',
    ]) {
      assert.ok(key in stats, `overloadStats() has ${key}`);
    }
    assert.equal(stats.shedding, false);
    await app.stop();
  });
});
