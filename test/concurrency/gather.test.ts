import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { gather, sleep } from 'weir';

describe('gather', () => {
  it('returns results in input order whatever the finishing order', async () => {
    const delays = [30, 5, 15, 0];
    const results = await gather(delays.map((ms, i) => () => sleep(ms).then(() => i)));
    assert.deepEqual(results, [0, 1, 2, 3]);
  });

  it('never runs more than `limit` tasks at once, and runs them all', async () => {
    let running = 0;
    let peak = 0;
    const tasks = Array.from({ length: 50 }, (_, i) => async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(i % 3);
      running--;
      return i;
    });
    const results = await gather(tasks, { limit: 4 });
    assert.equal(peak, 4);
    assert.deepEqual(
      results,
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  it('starts a thunk only when a slot is free', async () => {
    const started: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const p = gather(
      [0, 1, 2].map((i) => async () => {
        started.push(i);
        await gate;
      }),
      { limit: 1 },
    );
    await sleep(5);
    assert.deepEqual(started, [0]);
    release();
    await p;
    assert.deepEqual(started, [0, 1, 2]);
  });

  it('on the first failure aborts the running tasks, starts no more, and rejects with it', async () => {
    const aborted: number[] = [];
    const started: number[] = [];
    const boom = new Error('boom');
    const tasks = Array.from({ length: 10 }, (_, i) => async (signal: AbortSignal) => {
      started.push(i);
      if (i === 1) {
        await sleep(5);
        throw boom;
      }
      try {
        await sleep(10_000, { signal });
      } catch (err) {
        aborted.push(i);
        throw err;
      }
    });
    await assert.rejects(gather(tasks, { limit: 3 }), (err) => err === boom);
    await sleep(1);
    assert.deepEqual(started, [0, 1, 2]);
    assert.deepEqual(aborted.sort(), [0, 2]);
  });

  it('with settle: true runs everything and reports each outcome', async () => {
    const results = await gather(
      [() => 1, () => Promise.reject(new Error('no')), async () => 'three'] as const,
      { settle: true },
    );
    assert.deepEqual(results[0], { status: 'fulfilled', value: 1 });
    assert.equal(results[1].status, 'rejected');
    assert.deepEqual(results[2], { status: 'fulfilled', value: 'three' });
  });

  it('cancels with the outer signal and leaves no listener on it', async () => {
    const controller = new AbortController();
    let sawAbort = 0;
    const p = gather(
      [1, 2].map(
        () => (signal: AbortSignal) =>
          sleep(10_000, { signal }).catch((e: unknown) => {
            sawAbort++;
            throw e;
          }),
      ),
      { signal: controller.signal },
    );
    controller.abort('stop');
    await assert.rejects(p, (err) => err === 'stop');
    await sleep(1);
    assert.equal(sawAbort, 2);

    // A completed gather detaches from a long-lived signal.
    const longLived = new AbortController();

    for (let i = 0; i < 20; i++) await gather([() => i], { signal: longLived.signal });
    assert.equal(getEventListeners(longLived.signal, 'abort').length, 0);
  });

  it('keeps AsyncLocalStorage context inside tasks', async () => {
    const als = new AsyncLocalStorage<string>();
    const seen = await als.run('request-7', () =>
      gather(
        [1, 2, 3].map(() => async () => {
          await sleep(1);
          return als.getStore();
        }),
        { limit: 2 },
      ),
    );
    assert.deepEqual(seen, ['request-7', 'request-7', 'request-7']);
  });

  it('refuses a bad limit', () => {
    assert.throws(() => gather([], { limit: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
