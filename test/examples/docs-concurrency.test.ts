/**
 * docs/concurrency.md: each example behaves as the guide says, cancellation included: a deadline, a
 * failed sibling or a client that leaves stops the work through its signal.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, describe, it } from 'node:test';
import { type ServerHandle, shutdownWorkers, workerStats } from 'weir';
import { inject } from 'weir/testing';
import { app as cpu } from '../../examples/docs/concurrency/cpu.ts';
import { app as deadlines } from '../../examples/docs/concurrency/deadlines.ts';
import { app as fanOut } from '../../examples/docs/concurrency/fan-out.ts';
import { app as handoff, sent, warmedUp } from '../../examples/docs/concurrency/handoff.ts';
import { app as limits } from '../../examples/docs/concurrency/limits.ts';
import { upstream } from '../../examples/docs/concurrency/upstream.ts';
import { serve } from '../helpers/http.ts';

type ErrorBody = { error: { code: string; details?: unknown } };

/** Waits (a bounded number of turns) until `done()` holds; `seen()` says what there was instead. */
async function until(
  done: () => boolean | Promise<boolean>,
  what: string,
  seen: () => string = () => '',
): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`gave up waiting until ${what}${seen()}`);
}

/** Sends a GET on a real socket, then destroys the socket once `started()` holds: a client that leaves. */
async function leaveDuring(handle: ServerHandle, path: string, started: () => Promise<boolean>) {
  const req = httpRequest({ host: '127.0.0.1', port: handle.port, path });
  req.on('error', () => {});
  req.end();
  await until(started, `${path} started`);
  req.destroy();
}

after(() => shutdownWorkers());

describe('docs/concurrency.md', () => {
  it('deadlines: sleep answers; timeout() answers 503 and stops the work it abandons', async () => {
    assert.deepEqual((await inject(deadlines, { url: '/poll' })).json(), { ready: true });
    assert.deepEqual((await inject(deadlines, { url: '/price/apple' })).json(), { price: 5 });
    const aborted = upstream.aborted;
    const late = await inject(deadlines, { url: '/price/slow' });
    assert.equal(late.status, 503);
    assert.equal(late.json<ErrorBody>().error.code, 'WEIR_ERR_TIMEOUT');
    assert.equal(upstream.aborted, aborted + 1, 'the slow call was stopped, not left running');
  });

  it('gather: results in order; the first failure answers and aborts the calls still running', async () => {
    assert.deepEqual((await inject(fanOut, { url: '/basket?item=apple&item=pear' })).json(), [5, 4]);
    assert.equal((await inject(fanOut, { url: '/basket' })).status, 400);
    const many = Array.from({ length: 51 }, () => 'item=a').join('&');
    assert.equal((await inject(fanOut, { url: `/basket?${many}` })).status, 400);
    const aborted = upstream.aborted;
    const failed = await inject(fanOut, { url: '/basket?item=slow&item=broken' });
    assert.equal(failed.status, 503);
    assert.equal(failed.headers['retry-after'], '1');
    assert.equal(upstream.aborted, aborted + 1);
    const partial = await inject(fanOut, { url: '/basket/partial?item=apple&item=broken' });
    assert.deepEqual(partial.json(), [5, null]);
  });

  it('gather: a client that leaves aborts every call still running', async () => {
    const handle = await serve(fanOut);
    try {
      const { started, aborted } = upstream;
      await leaveDuring(handle, '/basket?item=slow&item=slow', async () => upstream.started === started + 2);
      await until(() => upstream.aborted === aborted + 2, 'both calls were aborted');
    } finally {
      await handle.close();
    }
  });

  it('TaskGroup.run: children run together; a failing one cancels its sibling and answers as it is', async () => {
    assert.deepEqual((await inject(fanOut, { url: '/pair/apple/pear' })).json(), { total: 9 });
    const aborted = upstream.aborted;
    const failed = await inject(fanOut, { url: '/pair/broken/slow' });
    assert.equal(failed.status, 503);
    assert.equal(failed.json<ErrorBody>().error.code, 'UNAVAILABLE');
    assert.equal(upstream.aborted, aborted + 1, 'the slow sibling was cancelled');
  });

  it('Lock: twelve concurrent buyers of ten items: ten get one each, and two a 409', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => inject(limits, { method: 'POST', url: '/buy' })),
    );
    const lefts = answers.filter((a) => a.status === 200).map((a) => a.json<{ left: number }>().left);
    // Each count once: no two buyers read the same stock.
    assert.deepEqual(
      lefts.sort((a, b) => b - a),
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    );
    assert.deepEqual(
      answers.filter((a) => a.status !== 200).map((a) => a.status),
      [409, 409],
    );
  });

  it('Semaphore: two calls at once, fifty waiting, the next one refused at once with 503', async () => {
    // The example's module afresh: an app whose overload limiter has learned nothing from the Lock test.
    // Fifty requests that wait for the semaphore are fifty in flight for the limiter, and a limit it learned
    // below 51 (a test process starved of CPU for a few seconds reads as a stalled event loop, and each
    // stalled half second takes 10 % off) keeps some of them in its own queue, where the semaphore cannot
    // count them. A new limiter holds them only for its first probe, then lets them all in.
    const fresh: typeof import('../../examples/docs/concurrency/limits.ts') = await import(
      new URL('../../examples/docs/concurrency/limits.ts?semaphore', import.meta.url).href
    );
    const { app, upstreamSlots } = fresh;
    const first = await upstreamSlots.acquire();
    const second = await upstreamSlots.acquire();
    const waiting = Array.from({ length: 50 }, () => inject(app, { url: '/price/apple' }));
    const statuses: number[] = [];
    for (const res of waiting) void res.then((r) => statuses.push(r.status));
    await until(
      () => upstreamSlots.waiting === 50,
      '50 requests wait',
      () =>
        `: ${upstreamSlots.waiting} wait; answered early: ${JSON.stringify(statuses)}; overload ${JSON.stringify(app.overloadStats())}`,
    );
    const refused = await inject(app, { url: '/price/apple' });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.json<ErrorBody>().error.code, 'WEIR_ERR_SEMAPHORE_FULL');
    first();
    second();
    for (const res of await Promise.all(waiting)) assert.deepEqual(res.json(), 5);
  });

  it('Event and Queue: requests wait for the warm-up; queued invites are all delivered on stop', async () => {
    assert.deepEqual((await inject(handoff, { url: '/ready' })).json(), { ready: true });
    assert.equal(warmedUp.isSet, true);
    for (const to of ['ada@example.com', 'bob@example.com', 'eve@example.com']) {
      assert.equal((await inject(handoff, { method: 'POST', url: `/invite?to=${to}` })).status, 204);
    }
    for (const to of ['', 'no-at-sign', 'a@b%0d%0aBcc:x@y', `${'x'.repeat(65)}@example.com`, 'a@b@c']) {
      const res = await inject(handoff, { method: 'POST', url: `/invite?to=${to}` });
      assert.equal(res.status, 400, to);
    }
    assert.equal((await inject(handoff, { method: 'POST', url: '/invite' })).status, 400);
    await handoff.stop();
    assert.deepEqual(sent, ['ada@example.com', 'bob@example.com', 'eve@example.com']);
  });

  it('runInWorker: counts on a worker thread; refuses a bad limit with 400', async () => {
    assert.deepEqual((await inject(cpu, { url: '/primes/100' })).json(), { limit: 100, primes: 25 });
    for (const limit of ['x', '1', '2.5', '-7', '1e3', '0x10', '%201', '10000001', '%00']) {
      const res = await inject(cpu, { url: `/primes/${limit}` });
      assert.equal(res.status, 400, limit);
      assert.deepEqual(res.json<ErrorBody>().error.details, { field: 'limit' });
    }
  });

  it('runInWorker: a client that leaves stops the task instead of letting it complete', async () => {
    const handle = await serve(cpu);
    try {
      await leaveDuring(handle, '/primes/10000000', async () => (await workerStats()).inFlight === 1);
      await until(async () => (await workerStats()).inFlight === 0, 'the task ended');
      // A task that completes leaves its thread idle in the pool (30 s); a stopped one takes it along.
      assert.equal((await workerStats()).threads, 0, 'the task was stopped, not completed');
    } finally {
      await handle.close();
    }
  });
});
