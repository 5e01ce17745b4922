import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { Queue, sleep } from 'weir';

describe('Queue', () => {
  it('is FIFO and bounded: put() waits while full', async () => {
    const q = new Queue<number>({ maxsize: 2 });
    await q.put(1);
    await q.put(2);
    let third = false;
    const p = q.put(3).then(() => {
      third = true;
    });
    await sleep(1);
    assert.equal(third, false);
    assert.equal(q.size, 2);
    assert.equal(await q.get(), 1);
    await p;
    assert.equal(third, true);
    assert.deepEqual([await q.get(), await q.get()], [2, 3]);
  });

  it('get() waits while empty; waiting getters are served in order', async () => {
    const q = new Queue<string>();
    const a = q.get();
    const b = q.get();
    await q.put('x');
    await q.put('y');
    assert.deepEqual(await Promise.all([a, b]), ['x', 'y']);
  });

  it('putNowait/getNowait throw QUEUE_FULL / QUEUE_EMPTY', () => {
    const q = new Queue<number>({ maxsize: 1 });
    assert.throws(() => q.getNowait(), { code: 'WEIR_ERR_QUEUE_EMPTY' });
    q.putNowait(1);
    assert.throws(() => q.putNowait(2), { code: 'WEIR_ERR_QUEUE_FULL' });
    assert.equal(q.getNowait(), 1);
  });

  it('put() and get() are cancellable and leave nothing behind', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    const c1 = new AbortController();
    const getter = q.get({ signal: c1.signal });
    c1.abort('stop');
    await assert.rejects(getter, (e) => e === 'stop');
    await q.put(1);
    assert.equal(await q.get(), 1, 'the cancelled getter did not swallow the item');

    await q.put(2);
    const c2 = new AbortController();
    const putter = q.put(3, { signal: c2.signal });
    c2.abort('later');
    await assert.rejects(putter, (e) => e === 'later');
    assert.equal(await q.get(), 2);
    assert.equal(q.size, 0, 'the cancelled put did not add its item');
    assert.equal(
      getEventListeners(c1.signal, 'abort').length + getEventListeners(c2.signal, 'abort').length,
      0,
    );
  });

  it('join() resolves once every item is marked done', async () => {
    const q = new Queue<number>();
    for (let i = 0; i < 3; i++) await q.put(i);
    let joined = false;
    const j = q.join().then(() => {
      joined = true;
    });
    for (let i = 0; i < 3; i++) {
      await q.get();
      await sleep(1);
      assert.equal(joined, false);
      q.taskDone();
    }
    await j;
    assert.equal(joined, true);
    assert.throws(() => q.taskDone(), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('close() rejects putters at once, lets getters drain, then ends iteration', async () => {
    const q = new Queue<number>({ maxsize: 2 });
    await q.put(1);
    await q.put(2);
    const blocked = q.put(3);
    q.close();
    await assert.rejects(blocked, { code: 'WEIR_ERR_QUEUE_CLOSED' });
    await assert.rejects(q.put(4), { code: 'WEIR_ERR_QUEUE_CLOSED' });
    const seen: number[] = [];
    for await (const item of q) seen.push(item);
    assert.deepEqual(seen, [1, 2]);
    await assert.rejects(q.get(), { code: 'WEIR_ERR_QUEUE_CLOSED' });
  });

  it('close() wakes getters waiting on an empty queue', async () => {
    const q = new Queue<number>();
    const waiting = q.get();
    q.close();
    await assert.rejects(waiting, { code: 'WEIR_ERR_QUEUE_CLOSED' });
  });

  it('producer/consumer: every item arrives exactly once, in order', async () => {
    const q = new Queue<number>({ maxsize: 8 });
    const received: number[] = [];
    const consumer = (async () => {
      for await (const item of q) {
        received.push(item);
        q.taskDone();
      }
    })();
    for (let i = 0; i < 500; i++) await q.put(i);
    await q.join();
    q.close();
    await consumer;
    assert.deepEqual(
      received,
      Array.from({ length: 500 }, (_, i) => i),
    );
  });

  it('keeps the consumer’s AsyncLocalStorage context', async () => {
    const als = new AsyncLocalStorage<string>();
    const q = new Queue<number>();
    const got = als.run('consumer', async () => {
      await q.get();
      return als.getStore();
    });
    await als.run('producer', () => q.put(1));
    assert.equal(await got, 'consumer');
  });

  it('is bounded by default and refuses a bad maxsize', () => {
    assert.equal(new Queue().maxsize, 1000);
    assert.throws(() => new Queue({ maxsize: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
