import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sleep } from 'weir';
import { inject } from 'weir/testing';
import { app, db, sent } from '../../examples/docs/deadlines/service.ts';

describe('docs/deadlines.md', () => {
  after(async () => {
    await app.stop();
    await db.close();
  });

  it('answers within the budget, and honours a trusted caller that asks for less', async () => {
    const full = await inject(app, { url: '/orders/1' });
    assert.deepEqual(full.json(), { order: { id: 1, total: 42 }, shipping: 0, offers: ['gift wrap'] });
    // 50 ms left on arrival: under the 100 ms the optional part needs, so it is skipped.
    const hurried = await inject(app, {
      url: '/orders/1',
      headers: { 'grpc-timeout': '50m' },
      remoteAddress: '127.0.0.1',
    });
    assert.deepEqual(hurried.json(), { order: { id: 1, total: 42 } });
    // From an address not in trustDeadline the header is ignored.
    const other = await inject(app, {
      url: '/orders/1',
      headers: { 'grpc-timeout': '50m' },
      remoteAddress: '192.0.2.7',
    });
    assert.equal(other.json<{ offers?: string[] }>().offers?.length, 1);
  });

  it('answers the dashboard without waiting for the task it did not await', async () => {
    const started = performance.now();
    const res = await inject(app, { url: '/dashboard' });
    assert.deepEqual(res.json(), { orders: [{ id: 1, total: 42 }] });
    assert.ok(performance.now() - started < 2000);
  });

  it('runs the background task after the response', async () => {
    assert.deepEqual((await inject(app, { method: 'POST', url: '/orders/1/receipt' })).json(), { queued: 1 });
    assert.deepEqual(sent, []);
    await sleep(120);
    assert.deepEqual(sent, [1]);
  });
});
