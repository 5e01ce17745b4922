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
});
