/**
 * The `wrap()` half of the Cache conformance suite: single-flight, stale-while-revalidate, cancellation and
 * the life of a load. Every backend runs it through {@link runCacheSuite}.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { deferred, recordingLogger, type Suite, until } from './support.ts';

/** Registers the wrap() cases inside the current describe block. */
export function runWrapCases(suite: Suite): void {
  test('wrap: 100 concurrent misses of one key run the loader once, and all get its value', async () => {
    let calls = 0;
    const gate = deferred<void>();
    const loader = async () => {
      calls++;
      await gate.promise;
      return { computed: 42 };
    };
    const all = Array.from({ length: 100 }, () => suite.cache.wrap('sf', loader, { ttl: 10_000 }));
    await delay(20);
    gate.resolve();
    const values = await Promise.all(all);
    assert.equal(calls, 1);
    for (const value of values) assert.deepEqual(value, { computed: 42 });
    // Now cached: the loader does not run again.
    assert.deepEqual(await suite.cache.wrap('sf', loader), { computed: 42 });
    assert.equal(calls, 1);
  });

  test('wrap: a loader error reaches every waiter and is never cached', async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      await delay(10);
      throw new Error('boom');
    };
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => suite.cache.wrap('err', failing)),
    );
    assert.equal(calls, 1);
    for (const r of results) assert.equal(r.status === 'rejected' && (r.reason as Error).message, 'boom');
    assert.equal(await suite.cache.get('err'), undefined);
    assert.equal(await suite.cache.wrap('err', () => 'fine'), 'fine');
    assert.equal(calls, 1);
    assert.equal(await suite.cache.get('err'), 'fine');
  });

  test('wrap: stale-while-revalidate serves the stale value at once and refreshes once', async () => {
    let version = 0;
    let calls = 0;
    const refreshed = deferred<void>();
    const loader = async () => {
      calls++;
      version++;
      if (calls === 2) {
        await delay(30);
        setImmediate(refreshed.resolve);
      }
      return version;
    };
    const options = { ttl: 50, staleWhileRevalidate: 10_000 };
    assert.equal(await suite.cache.wrap('swr', loader, options), 1);
    await delay(80);
    // Stale now: ten callers all get version 1 at once, and one refresh starts.
    const stale = await Promise.all(
      Array.from({ length: 10 }, () => suite.cache.wrap('swr', loader, options)),
    );
    assert.deepEqual(stale, Array(10).fill(1));
    await refreshed.promise;
    await delay(20);
    assert.equal(calls, 2);
    assert.equal(await suite.cache.wrap('swr', loader, options), 2);
    assert.equal(calls, 2);
  });

  test('wrap: without staleWhileRevalidate an expired value is loaded again', async () => {
    let n = 0;
    const loader = () => ++n;
    assert.equal(await suite.cache.wrap('exp', loader, { ttl: 30 }), 1);
    await delay(60);
    assert.equal(await suite.cache.wrap('exp', loader, { ttl: 30 }), 2);
  });

  test('wrap: a caller whose signal aborts gets its reason; the loader is aborted when every caller left', async () => {
    const a = new AbortController();
    const b = new AbortController();
    let loaderSignal: AbortSignal | undefined;
    const loading = deferred<void>();
    const loader = ({ signal }: { signal: AbortSignal }) => {
      loaderSignal = signal;
      loading.resolve();
      return new Promise<string>((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    };
    const first = suite.cache.wrap('abort', loader, { signal: a.signal });
    const second = suite.cache.wrap('abort', loader, { signal: b.signal });
    // Both callers wait on the one load once it has started (on Redis, after the lock is taken).
    await loading.promise;
    a.abort(new Error('first left'));
    await assert.rejects(first, /first left/);
    assert.equal(loaderSignal?.aborted, false, 'one caller still waits');
    b.abort(new Error('second left'));
    await assert.rejects(second, /second left/);
    assert.equal(loaderSignal?.aborted, true);
    // The next caller starts a fresh load.
    assert.equal(await suite.cache.wrap('abort', () => 'again'), 'again');
    // An aborted signal is refused before anything runs.
    await assert.rejects(
      suite.cache.wrap('abort2', () => 'x', { signal: AbortSignal.abort(new Error('gone')) }),
      /gone/,
    );
  });

  test('wrap and get: a deadline aborts the wait and a lone load when it passes; once past, nothing runs', async () => {
    let loaderSignal: AbortSignal | undefined;
    const slow = ({ signal }: { signal: AbortSignal }) => {
      loaderSignal = signal;
      return new Promise<string>((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    };
    await assert.rejects(suite.cache.wrap('deadline', slow, { deadline: Date.now() + 50 }), {
      code: 'WEIR_ERR_DEADLINE_EXCEEDED',
    });
    await until(() => loaderSignal?.aborted === true, 2000, 'the abandoned load is aborted');
    let ran = false;
    await assert.rejects(
      suite.cache.wrap(
        'deadline2',
        () => {
          ran = true;
          return 'x';
        },
        { deadline: Date.now() - 1 },
      ),
      { code: 'WEIR_ERR_DEADLINE_EXCEEDED' },
    );
    assert.equal(ran, false);
    await assert.rejects(suite.cache.get('deadline2', { deadline: Date.now() - 1 }), {
      code: 'WEIR_ERR_DEADLINE_EXCEEDED',
    });
    assert.equal(
      await suite.cache.wrap('deadline3', () => 'in time', { deadline: Date.now() + 5000 }),
      'in time',
    );
  });

  test('wrap: past its stale window a value is loaded again before the caller gets it', async () => {
    let n = 0;
    const options = { ttl: 20, staleWhileRevalidate: 20 };
    assert.equal(await suite.cache.wrap('swr-end', () => ++n, options), 1);
    await delay(80);
    assert.equal(await suite.cache.wrap('swr-end', () => ++n, options), 2);
  });

  test('wrap: a background refresh that fails is logged, the stale value stays, and the next stale call retries', async () => {
    const log = recordingLogger();
    const cache = await suite.open({ logger: log });
    let calls = 0;
    let failed = deferred<void>();
    const loader = async () => {
      calls++;
      if (calls === 1) return 'v1';
      setImmediate(failed.resolve);
      throw new Error('refresh down');
    };
    const options = { ttl: 30, staleWhileRevalidate: 10_000 };
    assert.equal(await cache.wrap('swr-fail', loader, options), 'v1');
    await delay(60);
    assert.equal(await cache.wrap('swr-fail', loader, options), 'v1');
    await failed.promise;
    assert.equal(calls, 2);
    assert.deepEqual(
      log.warnings.filter((w) => w.includes('background refresh failed')),
      ['cache: a background refresh failed; the stale value stays'],
    );
    failed = deferred<void>();
    assert.equal(await cache.wrap('swr-fail', loader, options), 'v1');
    await failed.promise;
    assert.equal(calls, 3);
    assert.equal(cache.stats().stale, 2);
  });

  test('wrap: a caller that joins a background refresh and leaves does not abort it', async () => {
    let calls = 0;
    const gate = deferred<void>();
    const refreshing = deferred<AbortSignal>();
    const loader = async ({ signal }: { signal: AbortSignal }) => {
      calls++;
      if (calls === 1) return 'old';
      refreshing.resolve(signal);
      await gate.promise;
      return 'new';
    };
    assert.equal(
      await suite.cache.wrap('swr-join', loader, { ttl: 30, staleWhileRevalidate: 10_000 }),
      'old',
    );
    await delay(60);
    assert.equal(await suite.cache.wrap('swr-join', loader, { staleWhileRevalidate: 10_000 }), 'old');
    const refreshSignal = await refreshing.promise;
    // Without staleWhileRevalidate the stale value is a miss, and the caller waits for the refresh.
    const leaving = new AbortController();
    const misses = suite.cache.stats().misses;
    const joined = suite.cache.wrap('swr-join', loader, { signal: leaving.signal });
    // A miss is counted just as the caller joins the load.
    await until(() => suite.cache.stats().misses > misses, 2000, 'the join');
    leaving.abort(new Error('left'));
    await assert.rejects(joined, /left/);
    assert.equal(refreshSignal.aborted, false);
    gate.resolve();
    // Joins the refresh if it still runs, or reads what it wrote: 'new' either way, and no third load.
    assert.equal(await suite.cache.wrap('swr-join', loader), 'new');
    assert.equal(calls, 2);
  });

  test('wrap: a load abandoned by every caller does not disturb the next load of its key', async () => {
    // lockWaitMs 0: on Redis the abandoned load still holds its lock, and the next one must not wait.
    const cache = await suite.open({ lockWaitMs: 0 });
    let calls = 0;
    const first = deferred<undefined>();
    const second = deferred<string>();
    const started = [deferred<void>(), deferred<void>()];
    const loader = () => {
      calls++;
      started[calls - 1]?.resolve();
      return calls === 1 ? first.promise : calls === 2 ? second.promise : 'third';
    };
    const leaving = new AbortController();
    const abandoned = cache.wrap('abandon', loader, { signal: leaving.signal });
    await started[0]?.promise;
    leaving.abort(new Error('left'));
    await assert.rejects(abandoned, /left/);
    const next = cache.wrap('abandon', loader);
    await started[1]?.promise;
    // The abandoned loader ignores its signal and settles while the next load runs.
    first.resolve(undefined);
    await new Promise((resolve) => setImmediate(resolve));
    const joining = cache.wrap('abandon', loader);
    second.resolve('second');
    assert.deepEqual(await Promise.all([next, joining]), ['second', 'second']);
    assert.equal(calls, 2);
  });

  test('wrap: close() aborts a running loader with WEIR_ERR_CACHE_CLOSED', async () => {
    const closing = await suite.open();
    const started = deferred<AbortSignal>();
    const pending = closing.wrap('closing', ({ signal }) => {
      started.resolve(signal);
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    });
    const signal = await started.promise;
    const rejected = assert.rejects(pending, { code: 'WEIR_ERR_CACHE_CLOSED' });
    await closing.close();
    assert.equal(signal.aborted, true);
    await rejected;
  });

  test('wrap: bad options are refused before anything is read, on a hit too', async () => {
    await suite.cache.set('opts', 1);
    for (const options of [{ ttl: -1 }, { ttl: 0 }, { ttl: Number.NaN }, { staleWhileRevalidate: -5 }]) {
      await assert.rejects(
        suite.cache.wrap('opts', () => 2, options),
        { code: 'WEIR_ERR_INVALID_OPTION' },
      );
    }
    await assert.rejects(
      suite.cache.wrap('opts', () => 2, { ttl: '60' as never }),
      {
        code: 'WEIR_ERR_INVALID_OPTION',
      },
    );
    assert.equal(await suite.cache.wrap('opts', () => 2, { staleWhileRevalidate: 0 }), 1);
  });
}
