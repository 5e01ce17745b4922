/**
 * Rate limits on the real Redis: exact across two processes, and Redis going away mid-traffic with each
 * failure mode (through a proxy that can freeze or drop the connection), then coming back.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createRateLimiter, openRateLimitStore, type RateLimitStore } from 'weir/security';
import { spawnTs } from '../helpers/process.ts';
import { REDIS_URL, redisSkip, uniqueNamespace } from '../helpers/services.ts';
import { redisProxy, removePrefixes } from './session-redis.ts';

const skip = await redisSkip();
const prefixes: string[] = [];
const stores: RateLimitStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
  if (!skip) await removePrefixes(prefixes);
});

function prefix(): string {
  const p = `${uniqueNamespace('rate')}:`;
  prefixes.push(p);
  return p;
}

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

describe('rate limits on Redis', { skip }, () => {
  it('allow exactly the limit across two processes taking at once', async () => {
    const shared = prefix();
    const env = { REDIS_URL, PREFIX: shared, LIMIT: '50', TAKES: '40' };
    const file = new URL('../fixtures/rate-limit/taker.ts', import.meta.url);
    const takers = [spawnTs(file, env, { stdin: true }), spawnTs(file, env, { stdin: true })];
    try {
      await Promise.all(takers.map((t) => t.waitFor(/ready/)));
      for (const t of takers) t.child.stdin?.write('go\n');
      const counts = await Promise.all(
        takers.map(async (t) => Number((await t.waitFor(/allowed=(\d+)/))[1])),
      );
      assert.equal(counts[0]! + counts[1]!, 50, `allowed ${counts.join(' + ')}`);
      assert.ok(
        counts.every((c) => c > 0),
        'both processes took part',
      );
    } finally {
      for (const t of takers) t.child.kill();
    }
  });

  it('counts limits finer than a millisecond per request (a billion a minute) without a store error', async () => {
    const store = await openRateLimitStore(REDIS_URL, { prefix: prefix() });
    stores.push(store);
    const limiter = createRateLimiter({
      limit: 1_000_000_000,
      windowMs: 60_000,
      store,
      onStoreError: 'closed',
      logger: quiet,
    });
    for (let i = 0; i < 20; i++) {
      const result = await limiter.take('fast');
      assert.deepEqual([result.allowed, result.degraded], [true, false], `take ${i}`);
    }
  });

  it('fails open or closed while Redis is unreachable, within the command timeout, and counts again after', async () => {
    const proxy = await redisProxy();
    const store = await openRateLimitStore(proxy.url(), { prefix: prefix(), commandTimeoutMs: 200 });
    stores.push(store);
    const open = createRateLimiter({ name: 'open', limit: 2, windowMs: 60_000, store, logger: quiet });
    const closed = createRateLimiter({
      name: 'closed',
      limit: 2,
      windowMs: 60_000,
      store,
      onStoreError: 'closed',
      logger: quiet,
    });
    assert.equal((await open.take('k')).allowed, true);
    assert.equal((await closed.take('k')).allowed, true);

    proxy.freeze(); // Redis hangs: no answer
    let started = performance.now();
    const hung = await open.take('k');
    assert.ok(hung.allowed && hung.degraded);
    assert.ok(performance.now() - started < 1500, 'within the command timeout');
    const hungClosed = await closed.take('k');
    assert.ok(!hungClosed.allowed && hungClosed.degraded);

    const port = proxy.port;
    await proxy.close(); // Redis gone: the connection drops
    started = performance.now();
    assert.equal((await open.take('k')).allowed, true);
    assert.equal((await closed.take('k')).allowed, false);
    assert.ok(performance.now() - started < 1500);

    const back = await redisProxy(port);
    try {
      let result = await open.take('k');
      for (let i = 0; i < 100 && result.degraded; i++) {
        await delay(50);
        result = await open.take('k');
      }
      assert.equal(result.degraded, false, 'reconnected');
      assert.equal(result.allowed, true, 'the second of 2');
      const third = await open.take('k');
      assert.deepEqual([third.allowed, third.degraded], [false, false], 'the state survived the outage');
    } finally {
      await back.close();
    }
  });

  it('starts with Redis down, and applies its failure mode until Redis comes', async () => {
    const proxy = await redisProxy();
    const port = proxy.port;
    await proxy.close();
    const started = performance.now();
    const store = await openRateLimitStore(`redis://:hunter2@127.0.0.1:${port}`, {
      prefix: prefix(),
      connectTimeoutMs: 300,
    });
    stores.push(store);
    assert.ok(performance.now() - started < 2000);
    assert.doesNotMatch(store.url, /hunter2/);
    const limiter = createRateLimiter({
      limit: 5,
      windowMs: 1000,
      store,
      onStoreError: 'closed',
      logger: quiet,
    });
    assert.equal((await limiter.take('x')).allowed, false);
  });
});
