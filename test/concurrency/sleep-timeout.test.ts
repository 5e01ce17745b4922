import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { sleep, TimeoutError, timeout } from 'weir';

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('sleep', () => {
  it('resolves after the delay (fake clock)', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let done = false;
      const p = sleep(1000).then(() => {
        done = true;
      });
      mock.timers.tick(999);
      await Promise.resolve();
      assert.equal(done, false);
      mock.timers.tick(1);
      await p;
      assert.equal(done, true);
    } finally {
      mock.timers.reset();
    }
  });

  it('rejects with the signal’s reason and clears its timer', async () => {
    const before = activeTimers();
    const controller = new AbortController();
    const p = sleep(60_000, { signal: controller.signal });
    assert.equal(activeTimers(), before + 1);
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(p, (err) => err === reason);
    assert.equal(activeTimers(), before);
  });

  it('rejects at once for an aborted signal and refuses a negative delay', async () => {
    await assert.rejects(sleep(10, { signal: AbortSignal.abort('gone') }), (err) => err === 'gone');
    assert.throws(() => sleep(-1), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});

describe('timeout', () => {
  it('resolves with the work’s value when it is in time, leaving no timer', async () => {
    const before = activeTimers();
    assert.equal(await timeout(async () => 'fast', 1000), 'fast');
    assert.equal(await timeout(Promise.resolve(7), 1000), 7);
    assert.equal(activeTimers(), before);
  });

  it('rejects with TimeoutError and aborts the signal it gave the work', async () => {
    let inner: AbortSignal | undefined;
    const p = timeout((signal) => {
      inner = signal;
      return new Promise(() => {});
    }, 20);
    await assert.rejects(
      p,
      (err: TimeoutError) =>
        err instanceof TimeoutError && err.code === 'WEIR_ERR_TIMEOUT' && err.timeoutMs === 20,
    );
    assert.equal(inner?.aborted, true);
    assert.ok(inner?.reason instanceof TimeoutError);
  });

  it('rejects with the outer signal’s reason when that aborts first, and passes the abort on', async () => {
    const controller = new AbortController();
    let inner: AbortSignal | undefined;
    const p = timeout(
      (signal) => {
        inner = signal;
        return new Promise(() => {});
      },
      60_000,
      { signal: controller.signal },
    );
    controller.abort('client left');
    await assert.rejects(p, (err) => err === 'client left');
    assert.equal(inner?.reason, 'client left');
  });

  it('propagates the work’s own failure, sync or async', async () => {
    await assert.rejects(
      timeout(() => {
        throw new Error('sync');
      }, 100),
      /sync/,
    );
    await assert.rejects(timeout(Promise.reject(new Error('async')), 100), /async/);
  });
});
