import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { after, describe, it } from 'node:test';
import { configureWorkers, runInWorker, shutdownWorkers, workerStats } from 'weir';

function spin(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

after(() => shutdownWorkers());

describe('runInWorker', () => {
  it('runs a self-contained function on a worker thread and returns its result', async () => {
    assert.equal(await runInWorker(fib, [20]), 6765);
    const { isMainThread } = await import('node:worker_threads');
    const onMain = await runInWorker(async () => (await import('node:worker_threads')).isMainThread, []);
    assert.equal(isMainThread, true);
    assert.equal(onMain, false);
  });

  it('runs a module’s export', async () => {
    const module = new URL('../fixtures/worker-task.ts', import.meta.url);
    assert.equal(await runInWorker(module, [2, 3]), 5);
    assert.equal(await runInWorker({ module, name: 'multiply' }, [2, 3]), 6);
  });

  it('keeps the event loop free while the work runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await runInWorker(spin, [200]);
    clearInterval(timer);
    assert.ok(ticks >= 10, `the event loop ran ${ticks} timer ticks during 200 ms of worker CPU`);
  });

  it('propagates the worker’s error', async () => {
    await assert.rejects(
      runInWorker(() => {
        throw new RangeError('bad input');
      }, []),
      /bad input/,
    );
  });

  it('aborting the signal stops the task and rejects with the reason', async () => {
    const controller = new AbortController();
    const p = runInWorker(spin, [5000], { signal: controller.signal });
    setTimeout(() => controller.abort('client left'), 50);
    const started = Date.now();
    await assert.rejects(p, (e) => e === 'client left');
    assert.ok(Date.now() - started < 4000, 'the task was stopped, not waited for');
  });

  it('keeps AsyncLocalStorage context across the call', async () => {
    const als = new AsyncLocalStorage<number>();
    const seen = await als.run(42, async () => {
      await runInWorker(fib, [10]);
      return als.getStore();
    });
    assert.equal(seen, 42);
  });

  it('fails at once with WEIR_ERR_WORKER_QUEUE_FULL (503) when the queue is full', async () => {
    await shutdownWorkers();
    configureWorkers({ maxThreads: 1, maxQueue: 1 });
    const controller = new AbortController();
    const running = runInWorker(spin, [3000], { signal: controller.signal }).catch(() => 'stopped');
    await new Promise((r) => setTimeout(r, 50));
    const queued = runInWorker(spin, [1], { signal: controller.signal }).catch(() => 'stopped');
    const started = Date.now();
    await assert.rejects(
      runInWorker(spin, [1]),
      (err: { code: string; status: number; headers: Record<string, string> }) => {
        assert.equal(err.code, 'WEIR_ERR_WORKER_QUEUE_FULL');
        assert.equal(err.status, 503);
        assert.equal(err.headers['retry-after'], '1');
        return true;
      },
    );
    assert.ok(Date.now() - started < 1000, 'refused at once, not after the queue drained');
    assert.equal((await workerStats()).inFlight, 2);
    controller.abort();
    await Promise.all([running, queued]);
    await shutdownWorkers();
  });
});
