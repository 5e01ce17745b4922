/**
 * The Cache conformance suite: memory, Redis and tiered each run it, under a namespace of their own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'weir';
import type { Cache, CacheOptions } from 'weir/cache';
import { uniqueNamespace } from '../helpers/services.ts';

export interface CacheTarget {
  open(options: CacheOptions): Promise<Cache>;
}

/** A logger that keeps what it is told. */
export function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    error: (_obj, msg) => warnings.push(String(msg)),
    warn: (_obj, msg) => warnings.push(String(msg)),
    info: (_obj, msg) => infos.push(String(msg)),
    debug: () => undefined,
  };
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function runCacheSuite(name: string, target: CacheTarget, options: { skip: string | false }): void {
  describe(`Cache conformance: ${name}`, { skip: options.skip }, () => {
    let cache: Cache;
    const log = recordingLogger();
    const opened: Cache[] = [];
    const open = async (extra: CacheOptions = {}): Promise<Cache> => {
      const c = await target.open({ namespace: uniqueNamespace(name), logger: log, ...extra });
      opened.push(c);
      return c;
    };
    before(async () => {
      cache = await open();
    });
    after(async () => {
      for (const c of opened) {
        await c.clear().catch(() => undefined);
        await c.close();
      }
    });

    test('set then get round-trips JSON values; a missing key is undefined', async () => {
      const value = { id: 1, name: 'Ada', tags: ['x', 'y'], nested: { ok: true, n: null } };
      await cache.set('user:1', value);
      assert.deepEqual(await cache.get('user:1'), value);
      await cache.set('n', 0);
      await cache.set('s', '');
      await cache.set('f', false);
      assert.equal(await cache.get('n'), 0);
      assert.equal(await cache.get('s'), '');
      assert.equal(await cache.get('f'), false);
      assert.equal(await cache.get('absent'), undefined);
      assert.equal(cache.status, 'ready');
    });

    test('what get() returns is a copy: mutating it does not change the cache', async () => {
      await cache.set('copy', { list: [1] });
      const first = await cache.get<{ list: number[] }>('copy');
      first?.list.push(2);
      assert.deepEqual(await cache.get('copy'), { list: [1] });
    });

    test('getMany answers in order, undefined for misses', async () => {
      await cache.set('m:1', 'one');
      await cache.set('m:3', 'three');
      assert.deepEqual(await cache.getMany(['m:1', 'm:2', 'm:3']), ['one', undefined, 'three']);
      assert.deepEqual(await cache.getMany([]), []);
    });

    test('delete removes a key and says whether it was there', async () => {
      await cache.set('d', 1);
      assert.equal(await cache.delete('d'), true);
      assert.equal(await cache.get('d'), undefined);
      assert.equal(await cache.delete('d'), false);
    });

    test('values expire after their ttl; Infinity keeps them', async () => {
      await cache.set('short', 'v', { ttl: 60 });
      await cache.set('forever', 'v', { ttl: Number.POSITIVE_INFINITY });
      assert.equal(await cache.get('short'), 'v');
      await delay(120);
      assert.equal(await cache.get('short'), undefined);
      assert.equal(await cache.get('forever'), 'v');
    });

    test('clear(sub) removes one sub-namespace; clear() the whole namespace; other namespaces stay', async () => {
      const other = await open();
      await other.set('a:1', 'other');
      await cache.set('a:1', 1);
      await cache.set('a:2', 2);
      await cache.set('b:1', 3);
      await cache.clear('a');
      assert.deepEqual(await cache.getMany(['a:1', 'a:2', 'b:1']), [undefined, undefined, 3]);
      await cache.clear();
      assert.equal(await cache.get('b:1'), undefined);
      assert.equal(await other.get('a:1'), 'other');
    });

    test('wrap: 100 concurrent misses of one key run the loader once, and all get its value', async () => {
      let calls = 0;
      const gate = deferred<void>();
      const loader = async () => {
        calls++;
        await gate.promise;
        return { computed: 42 };
      };
      const all = Array.from({ length: 100 }, () => cache.wrap('sf', loader, { ttl: 10_000 }));
      await delay(20);
      gate.resolve();
      const values = await Promise.all(all);
      assert.equal(calls, 1);
      for (const value of values) assert.deepEqual(value, { computed: 42 });
      // Now cached: the loader does not run again.
      assert.deepEqual(await cache.wrap('sf', loader), { computed: 42 });
      assert.equal(calls, 1);
    });

    test('wrap: a loader error reaches every waiter and is never cached', async () => {
      let calls = 0;
      const failing = async () => {
        calls++;
        await delay(10);
        throw new Error('boom');
      };
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.wrap('err', failing)));
      assert.equal(calls, 1);
      for (const r of results) assert.equal(r.status === 'rejected' && (r.reason as Error).message, 'boom');
      assert.equal(await cache.get('err'), undefined);
      assert.equal(await cache.wrap('err', () => 'fine'), 'fine');
      assert.equal(calls, 1);
      assert.equal(await cache.get('err'), 'fine');
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
      assert.equal(await cache.wrap('swr', loader, options), 1);
      await delay(80);
      // Stale now: ten callers all get version 1 at once, and one refresh starts.
      const stale = await Promise.all(Array.from({ length: 10 }, () => cache.wrap('swr', loader, options)));
      assert.deepEqual(stale, Array(10).fill(1));
      await refreshed.promise;
      await delay(20);
      assert.equal(calls, 2);
      assert.equal(await cache.wrap('swr', loader, options), 2);
      assert.equal(calls, 2);
    });

    test('wrap: without staleWhileRevalidate an expired value is loaded again', async () => {
      let n = 0;
      const loader = () => ++n;
      assert.equal(await cache.wrap('exp', loader, { ttl: 30 }), 1);
      await delay(60);
      assert.equal(await cache.wrap('exp', loader, { ttl: 30 }), 2);
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
      const first = cache.wrap('abort', loader, { signal: a.signal });
      const second = cache.wrap('abort', loader, { signal: b.signal });
      // Both callers wait on the one load once it has started (on Redis, after the lock is taken).
      await loading.promise;
      a.abort(new Error('first left'));
      await assert.rejects(first, /first left/);
      assert.equal(loaderSignal?.aborted, false, 'one caller still waits');
      b.abort(new Error('second left'));
      await assert.rejects(second, /second left/);
      assert.equal(loaderSignal?.aborted, true);
      // The next caller starts a fresh load.
      assert.equal(await cache.wrap('abort', () => 'again'), 'again');
      // An aborted signal is refused before anything runs.
      await assert.rejects(
        cache.wrap('abort2', () => 'x', { signal: AbortSignal.abort(new Error('gone')) }),
        /gone/,
      );
    });

    test('a value over maxValueBytes is passed through uncached, with one warning', async () => {
      const small = await open({ maxValueBytes: 100 });
      const before = log.warnings.length;
      const big = 'x'.repeat(500);
      assert.equal(await small.wrap('big', () => big), big);
      assert.equal(await small.wrap('big', () => big), big);
      await small.set('big2', big);
      assert.equal(await small.get('big'), undefined);
      assert.equal(await small.get('big2'), undefined);
      const warnings = log.warnings.slice(before).filter((w) => w.includes('maxValueBytes'));
      assert.equal(warnings.length, 1);
      // A too-large set replaces, not keeps, an older value of the key.
      await small.set('grow', 'small');
      await small.set('grow', big);
      assert.equal(await small.get('grow'), undefined);
    });

    test('undefined is not cached; set(undefined) is refused', async () => {
      let calls = 0;
      const loader = () => {
        calls++;
        return undefined;
      };
      assert.equal(await cache.wrap('undef', loader), undefined);
      assert.equal(await cache.wrap('undef', loader), undefined);
      assert.equal(calls, 2);
      await assert.rejects(cache.set('undef', undefined), { code: 'WEIR_ERR_INVALID_OPTION' });
    });

    test('a custom serializer is used both ways', async () => {
      const dated = await open({
        serializer: {
          serialize: (v) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)),
          deserialize: (t) =>
            JSON.parse(t, (_k, x) =>
              typeof x === 'string' && /^\d+n$/.test(x) ? BigInt(x.slice(0, -1)) : x,
            ),
        },
      });
      await dated.set('big', { n: 2n ** 70n });
      assert.deepEqual(await dated.get('big'), { n: 2n ** 70n });
    });

    test('bad options and a closed cache fail with clear codes', async () => {
      await assert.rejects(cache.set('k', 1, { ttl: -1 }), { code: 'WEIR_ERR_INVALID_OPTION' });
      await assert.rejects(cache.set('k', 1, { ttl: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
      await assert.rejects(cache.wrap('k', 'nope' as never), { code: 'WEIR_ERR_INVALID_OPTION' });
      const closing = await open();
      await closing.close();
      await assert.rejects(closing.get('k'), { code: 'WEIR_ERR_CACHE_CLOSED' });
      await assert.rejects(
        closing.wrap('k', () => 1),
        { code: 'WEIR_ERR_CACHE_CLOSED' },
      );
      opened.splice(opened.indexOf(closing), 1);
    });

    test('stats count hits, misses and loads', async () => {
      const counted = await open();
      await counted.wrap('s', () => 1);
      await counted.wrap('s', () => 1);
      await counted.get('nothing');
      const stats = counted.stats();
      assert.equal(stats.loads, 1);
      assert.equal(stats.hits, 1);
      assert.equal(stats.misses, 2);
      assert.equal(stats.status, 'ready');
    });
  });
}
