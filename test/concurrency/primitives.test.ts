import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { App, Event, Lock, Semaphore, sleep } from 'weir';
import { inject } from 'weir/testing';

describe('Lock', () => {
  it('admits one holder at a time, in FIFO order', async () => {
    const lock = new Lock();
    const order: number[] = [];
    let inside = 0;
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        lock.run(async () => {
          inside++;
          assert.equal(inside, 1);
          order.push(i);
          await sleep(2);
          inside--;
        }),
      ),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(lock.locked, false);
  });

  it('releases with `using`, and a releaser called twice frees only once', async () => {
    const lock = new Lock();
    {
      using _held = await lock.acquire();
      assert.equal(lock.locked, true);
    }
    assert.equal(lock.locked, false);
    const release = await lock.acquire();
    release();
    release();
    const a = await lock.acquire();
    assert.equal(lock.locked, true);
    a();
  });

  it('a cancelled waiter leaves the line without taking the lock', async () => {
    const lock = new Lock();
    const release = await lock.acquire();
    const controller = new AbortController();
    const cancelled = lock.acquire({ signal: controller.signal });
    const next = lock.acquire();
    controller.abort('timeout');
    await assert.rejects(cancelled, (e) => e === 'timeout');
    release();
    const r2 = await next;
    assert.equal(lock.locked, true);
    r2();
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});

describe('Semaphore', () => {
  it('bounds holders to its permits and hands permits over in FIFO order', async () => {
    const sem = new Semaphore(2);
    let inside = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        sem.run(async () => {
          order.push(i);
          inside++;
          peak = Math.max(peak, inside);
          await sleep(3);
          inside--;
        }),
      ),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(sem.available, 2);
  });

  it('tryAcquire takes a free permit or returns undefined', () => {
    const sem = new Semaphore(1);
    const a = sem.tryAcquire();
    assert.ok(a);
    assert.equal(sem.tryAcquire(), undefined);
    a();
    assert.ok(sem.tryAcquire());
  });

  it('rejects past maxWaiting at once, and counts waiters exactly', async () => {
    const sem = new Semaphore(1, { maxWaiting: 1 });
    const held = await sem.acquire();
    const waiting = sem.acquire();
    assert.equal(sem.waiting, 1);
    await assert.rejects(sem.acquire(), { code: 'WEIR_ERR_SEMAPHORE_FULL' });
    held();
    (await waiting)();
    assert.equal(sem.waiting, 0);
    assert.equal(sem.available, 1);
  });

  it('past maxWaiting, a handler that lets the refusal propagate answers 503 with Retry-After, not 500', async () => {
    const sem = new Semaphore(1, { maxWaiting: 0 });
    const app = new App({ logger: false });
    app.get('/', () => sem.run(() => sleep(20)));
    const [first, second] = await Promise.all([inject(app), inject(app)]);
    assert.equal(first!.status, 204);
    assert.equal(second!.status, 503);
    assert.equal(second!.headers['retry-after'], '1');
    assert.equal(second!.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_SEMAPHORE_FULL');
  });

  it('refuses bad permits', () => {
    assert.throws(() => new Semaphore(0), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});

describe('Event', () => {
  it('wakes every waiter on set(), and clear() makes later waiters wait', async () => {
    const event = new Event();
    let woken = 0;
    const waiters = [event.wait(), event.wait(), event.wait()].map((p) => p.then(() => woken++));
    await sleep(1);
    assert.equal(woken, 0);
    event.set();
    await Promise.all(waiters);
    assert.equal(woken, 3);
    await event.wait();
    event.clear();
    assert.equal(event.isSet, false);
    let late = false;
    const p = event.wait().then(() => {
      late = true;
    });
    await sleep(1);
    assert.equal(late, false);
    event.set();
    await p;
  });

  it('wait() is cancellable and cleans up', async () => {
    const event = new Event();
    const controller = new AbortController();
    const p = event.wait({ signal: controller.signal });
    controller.abort('bye');
    await assert.rejects(p, (e) => e === 'bye');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});
