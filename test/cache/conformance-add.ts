/**
 * The `add()` cases of the Cache conformance suite: a claim that exactly one caller wins.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Suite } from './support.ts';

export function runAddCases(suite: Suite): void {
  test('add stores a value only where the key holds nothing, and says whether it did', async () => {
    const { cache } = suite;
    assert.equal(await cache.add('claim:1', { owner: 'a' }), true);
    assert.equal(await cache.add('claim:1', { owner: 'b' }), false);
    assert.deepEqual(await cache.get('claim:1'), { owner: 'a' });
    await cache.set('claim:2', 'set first');
    assert.equal(await cache.add('claim:2', 'added'), false);
    assert.equal(await cache.get('claim:2'), 'set first');
    assert.equal(await cache.delete('claim:1'), true);
    assert.equal(await cache.add('claim:1', { owner: 'c' }), true);
    assert.deepEqual(await cache.get('claim:1'), { owner: 'c' });
  });

  test('of 40 concurrent adds of one key, exactly one wins', async () => {
    const { cache } = suite;
    const wins = await Promise.all(Array.from({ length: 40 }, (_, i) => cache.add('race', i)));
    assert.equal(wins.filter(Boolean).length, 1);
    assert.equal(await cache.get('race'), wins.indexOf(true));
  });

  test('an added value lives for its ttl; once it expired the key can be claimed again', async () => {
    const { cache } = suite;
    // 300 ms: long enough that a stalled machine still finds the first claim.
    assert.equal(await cache.add('lease', 'first', { ttl: 300 }), true);
    assert.equal(await cache.add('lease', 'second', { ttl: 300 }), false);
    await delay(400);
    assert.equal(await cache.get('lease'), undefined);
    assert.equal(await cache.add('lease', 'third', { ttl: 60_000 }), true);
    assert.equal(await cache.get('lease'), 'third');
  });

  test('a value kept stale for stale-while-revalidate still holds its key against add', async () => {
    const { cache } = suite;
    await cache.set('stale', 'old', { ttl: 30, staleWhileRevalidate: 60_000 });
    await delay(60);
    assert.equal(await cache.get('stale'), undefined);
    assert.equal(await cache.add('stale', 'new'), false);
  });

  test('add refuses undefined, values it cannot cache and bad ttls, and fails once closed', async () => {
    const small = await suite.open({ maxValueBytes: 16 });
    await assert.rejects(small.add('u', undefined), { code: 'WEIR_ERR_INVALID_OPTION' });
    await assert.rejects(small.add('big', 'x'.repeat(100)), { code: 'WEIR_ERR_INVALID_OPTION' });
    await assert.rejects(small.add('cycle', 10n), { code: 'WEIR_ERR_INVALID_OPTION' });
    await assert.rejects(small.add('t', 1, { ttl: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.equal(await small.get('big'), undefined);
    const closing = await suite.open();
    await closing.close();
    await assert.rejects(closing.add('k', 1), { code: 'WEIR_ERR_CACHE_CLOSED' });
  });
}
