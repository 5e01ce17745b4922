import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openCache } from 'weir/cache';
import { runCacheSuite } from './conformance.ts';

runCacheSuite('memory', { open: (options) => openCache('memory:', options) }, { skip: false });

describe('memory specifics', () => {
  test('the default URL is memory:, and CACHE_URL picks another', async () => {
    const cache = await openCache(undefined, { logger: false });
    assert.equal(cache.backend, 'memory');
    assert.equal(cache.url, 'memory:');
    await cache.close();
  });

  test('an unknown scheme fails with WEIR_ERR_CACHE_URL, password masked', async () => {
    await assert.rejects(openCache('memcached://u:secret@host'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'WEIR_ERR_CACHE_URL');
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });

  test('maxEntries bounds the store: the least recently used goes first', async () => {
    const cache = await openCache('memory:', { maxEntries: 3, logger: false });
    for (const key of ['a', 'b', 'c']) await cache.set(key, key);
    await cache.get('a');
    await cache.set('d', 'd');
    assert.deepEqual(await cache.getMany(['a', 'b', 'c', 'd']), ['a', undefined, 'c', 'd']);
    await cache.close();
  });

  test('maxBytes bounds the store', async () => {
    const cache = await openCache('memory:', { maxBytes: 10_000, logger: false });
    for (let i = 0; i < 100; i++) await cache.set(`k${i}`, 'x'.repeat(500));
    const found = (await cache.getMany(Array.from({ length: 100 }, (_, i) => `k${i}`))).filter(Boolean);
    assert.ok(found.length > 0 && found.length < 10, `kept ${found.length}`);
    await cache.close();
  });

  test('eviction gives a read entry a second chance, not a third', async () => {
    const cache = await openCache('memory:', { maxEntries: 3, logger: false });
    for (const key of ['a', 'b', 'c']) await cache.set(key, key);
    await cache.getMany(['a', 'b']);
    await cache.set('d', 'd'); // a and b were read: both move behind c, which goes
    assert.deepEqual(await cache.getMany(['c']), [undefined]);
    await cache.set('e', 'e'); // a and b had their second chance and were not read since: a, the oldest, goes
    assert.deepEqual(await cache.getMany(['a', 'b', 'd', 'e']), [undefined, 'b', 'd', 'e']);
    assert.equal(cache.stats().misses, 2);
    await cache.close();
  });

  test('an entry larger than maxBytes is not kept, and replaces nothing else', async () => {
    const cache = await openCache('memory:', { maxBytes: 1000, logger: false });
    await cache.set('small', 'x');
    await cache.set('big', 'x'.repeat(1000));
    assert.deepEqual(await cache.getMany(['small', 'big']), ['x', undefined]);
    await cache.close();
  });

  test('bad bounds fail at open with WEIR_ERR_INVALID_OPTION', async () => {
    for (const options of [
      { maxEntries: 0 },
      { maxEntries: 1.5 },
      { maxBytes: -1 },
      { maxBytes: Number.NaN },
    ]) {
      await assert.rejects(openCache('memory:', { ...options, logger: false }), {
        code: 'WEIR_ERR_INVALID_OPTION',
      });
    }
  });
});
