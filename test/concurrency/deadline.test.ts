import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budget, gather, Queue, Semaphore, sleep, TaskGroup, timeLeft, timeout, withinBudget } from 'weir';

const code = (err: unknown): string | undefined => (err as { code?: string }).code;

describe('deadlines', () => {
  it('timeLeft() counts down to 0 and is Infinity without a deadline', () => {
    assert.equal(timeLeft(undefined), Number.POSITIVE_INFINITY);
    assert.equal(timeLeft(Date.now() - 1000), 0);
    const left = timeLeft(Date.now() + 1000);
    assert.ok(left > 900 && left <= 1000);
  });

  it('budget() without a deadline is the signal itself, at no cost', () => {
    const controller = new AbortController();
    assert.equal(budget(undefined).signal, undefined);
    assert.equal(budget({}).signal, undefined);
    assert.equal(budget({ signal: controller.signal }).signal, controller.signal);
  });

  it('budget() aborts at the deadline with WEIR_ERR_DEADLINE_EXCEEDED, and follows the signal before', async () => {
    const timed = budget({ deadline: Date.now() + 40 });
    assert.equal(timed.signal?.aborted, false);
    await sleep(80);
    assert.equal(code(timed.signal?.reason), 'WEIR_ERR_DEADLINE_EXCEEDED');
    assert.equal((timed.signal?.reason as { status?: number } | undefined)?.status, 503);

    const controller = new AbortController();
    const linked = budget({ signal: controller.signal, deadline: Date.now() + 10_000 });
    controller.abort(new Error('client left'));
    assert.match(String(linked.signal?.reason), /client left/);
    linked.release();

    const past = budget({ deadline: Date.now() - 1 });
    assert.equal(code(past.signal?.reason), 'WEIR_ERR_DEADLINE_EXCEEDED');
  });

  it('release() disarms the timer: a finished operation is not aborted later', async () => {
    const timed = budget({ deadline: Date.now() + 30 });
    timed.release();
    await sleep(60);
    assert.equal(timed.signal?.aborted, false);
  });

  it('a signal already timed for an earlier deadline is reused, not wrapped', () => {
    const outer = budget({ deadline: Date.now() + 1000 });
    assert.equal(budget({ signal: outer.signal, deadline: Date.now() + 5000 }).signal, outer.signal);
    const tighter = budget({ signal: outer.signal, deadline: Date.now() + 100 });
    assert.notEqual(tighter.signal, outer.signal);
    tighter.release();
    outer.release();
  });

  it('refuses a deadline that is not a finite number', () => {
    for (const deadline of [Number.NaN, Number.POSITIVE_INFINITY, '1700000000000' as unknown as number]) {
      assert.throws(() => budget({ deadline }), { code: 'WEIR_ERR_INVALID_OPTION' });
    }
  });

  it('work past its deadline is not started', async () => {
    let started = false;
    await assert.rejects(
      withinBudget({ deadline: Date.now() - 5 }, async () => {
        started = true;
      }),
      { code: 'WEIR_ERR_DEADLINE_EXCEEDED' },
    );
    assert.equal(started, false);
    await assert.rejects(sleep(0, { deadline: Date.now() - 5 }), { code: 'WEIR_ERR_DEADLINE_EXCEEDED' });
  });

  it('sleep, timeout and gather stop at the deadline', async () => {
    const t0 = performance.now();
    await assert.rejects(sleep(10_000, { deadline: Date.now() + 50 }), {
      code: 'WEIR_ERR_DEADLINE_EXCEEDED',
    });
    await assert.rejects(
      timeout((signal) => sleep(10_000, { signal }), 5000, { deadline: Date.now() + 50 }),
      { code: 'WEIR_ERR_DEADLINE_EXCEEDED' },
    );
    let aborted = 0;
    await assert.rejects(
      gather(
        [1, 2, 3].map(() => async (signal: AbortSignal) => {
          await sleep(10_000, { signal }).catch((err) => {
            aborted++;
            throw err;
          });
        }),
        { deadline: Date.now() + 50, limit: 2 },
      ),
      { code: 'WEIR_ERR_DEADLINE_EXCEEDED' },
    );
    assert.equal(aborted, 2, 'the two running tasks were aborted; the third never started');
    assert.ok(performance.now() - t0 < 3000);
  });

  it('a semaphore waiter leaves the line at its deadline, and the permit goes to the next', async () => {
    const semaphore = new Semaphore(1);
    const held = await semaphore.acquire();
    const late = semaphore.acquire({ deadline: Date.now() + 30 });
    const next = semaphore.acquire();
    await assert.rejects(late, { code: 'WEIR_ERR_DEADLINE_EXCEEDED' });
    held();
    const release = await next;
    release();
    assert.equal(semaphore.available, 1);
  });

  it('a queue get waits no longer than its deadline', async () => {
    const queue = new Queue<number>();
    await assert.rejects(queue.get({ deadline: Date.now() + 30 }), { code: 'WEIR_ERR_DEADLINE_EXCEEDED' });
    await queue.put(1, { deadline: Date.now() + 1000 });
    assert.equal(await queue.get({ deadline: Date.now() + 1000 }), 1);
  });

  it('a TaskGroup with a deadline cancels its children when it passes', async () => {
    const group = new TaskGroup({ deadline: Date.now() + 40 });
    const child = group.spawn((signal) => sleep(10_000, { signal }));
    await assert.rejects(child, { code: 'WEIR_ERR_DEADLINE_EXCEEDED' });
    await assert.rejects(group.wait(), { code: 'WEIR_ERR_DEADLINE_EXCEEDED' });
    const quick = new TaskGroup({ deadline: Date.now() + 10_000 });
    assert.equal(await quick.spawn(() => 7), 7);
    await quick.wait();
    assert.equal(quick.closed, true);
  });
});
