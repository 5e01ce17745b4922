/**
 * docs/cache.md: each example behaves as the guide says on `memory:`, with the clock injected for the
 * cache's ages; and on a Redis that is not there, where every request still succeeds.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { App } from 'weir';
import type { Cache } from 'weir/cache';
import { inject } from 'weir/testing';
import { cache as cartCache, app as carts } from '../../examples/docs/cache/carts.ts';
import { database, cache as productCache, app as products } from '../../examples/docs/cache/products.ts';

type ErrorBody = { error: { code: string } };

after(async () => {
  await carts.stop();
  await products.stop();
});

/** Waits (a bounded number of turns) until `done()` holds. */
async function until(done: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`gave up waiting until ${what}`);
}

const price = async (id = 'apple') =>
  (await inject(products, { url: `/products/${id}` })).json<{ cents: number }>();

describe('docs/cache.md', () => {
  it('carts: set with a ttl, get, getMany in order with misses, delete, stats', async () => {
    assert.equal(
      (await inject(carts, { method: 'PUT', url: '/carts/c1', body: ['pear', 'fig'] })).status,
      204,
    );
    assert.deepEqual((await inject(carts, { url: '/carts/c1' })).json(), ['pear', 'fig']);
    assert.deepEqual((await inject(carts, { url: '/carts?id=c2&id=c1' })).json(), [[], ['pear', 'fig']]);
    assert.deepEqual((await inject(carts, { method: 'DELETE', url: '/carts/c1' })).json(), { deleted: true });
    assert.deepEqual((await inject(carts, { method: 'DELETE', url: '/carts/c1' })).json(), {
      deleted: false,
    });
    assert.deepEqual((await inject(carts, { url: '/carts/c1' })).json(), []);
    const stats = (await inject(carts, { url: '/healthz/cache' })).json<{ status: string; hits: number }>();
    assert.equal(stats.status, 'ready');
    assert.equal(stats.hits, 2);
  });

  it('carts: what a hit returns is read-only, shared, and not the object given to set()', async () => {
    const given = ['a'];
    await cartCache.set('cart:copy', given);
    given.push('still mine');
    const first = await cartCache.get<string[]>('cart:copy');
    assert.throws(() => first!.push('mutated'), TypeError);
    assert.equal(await cartCache.get('cart:copy'), first);
    assert.deepEqual(first, ['a']);
  });

  it('carts: hostile ids and bodies are refused with 400', async () => {
    for (const id of ['a%0d%0ab', 'x'.repeat(65), '%C4%80', 'a:b']) {
      assert.equal((await inject(carts, { url: `/carts/${id}` })).status, 400, id);
    }
    for (const body of [{ items: [] }, Array(101).fill('x'), [1], 'null']) {
      const res = await inject(carts, {
        method: 'PUT',
        url: '/carts/c3',
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
  });

  it('products: two hundred concurrent misses read the database once', async () => {
    const reads = database.reads;
    const answers = await Promise.all(Array.from({ length: 200 }, () => price()));
    assert.equal(database.reads, reads + 1);
    for (const answer of answers) assert.deepEqual(answer, { id: 'apple', cents: 120 });
  });

  it('products: stale for 5 minutes after 30 s, answered at once and refreshed once in the background', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    database.prices.set('pear', 80);
    assert.deepEqual(await price('pear'), { id: 'pear', cents: 80 });
    const reads = database.reads;
    database.prices.set('pear', 85); // the source changed, and nobody invalidated
    t.mock.timers.tick(30_001);
    assert.deepEqual(await price('pear'), { id: 'pear', cents: 80 }, 'the stale price, at once');
    await until(async () => (await productCache.get('product:pear')) !== undefined, 'the refresh stored');
    assert.equal(database.reads, reads + 1);
    assert.deepEqual(await price('pear'), { id: 'pear', cents: 85 });
    database.prices.set('pear', 90);
    t.mock.timers.tick(30_001 + 300_000);
    assert.deepEqual(await price('pear'), { id: 'pear', cents: 90 }, 'past the stale window: a miss');
    assert.equal(database.reads, reads + 2);
  });

  it('products: a write invalidates; clear() drops every product; errors are never cached', async () => {
    await price();
    const put = await inject(products, { method: 'PUT', url: '/products/apple', body: { cents: 99 } });
    assert.deepEqual(put.json(), { id: 'apple', cents: 99 });
    assert.deepEqual(await price(), { id: 'apple', cents: 99 });
    const reads = database.reads;
    assert.equal((await inject(products, { method: 'POST', url: '/products/reindex' })).status, 204);
    await price();
    assert.equal(database.reads, reads + 1);
    for (let i = 1; i <= 2; i++) {
      const missing = await inject(products, { url: '/products/kiwi' });
      assert.equal(missing.status, 404);
      assert.equal(database.reads, reads + 1 + i, 'a 404 from the loader is not cached');
    }
    for (const body of [{ cents: -1 }, { cents: 1.5 }, { cents: '3' }, null]) {
      const res = await inject(products, {
        method: 'PUT',
        url: '/products/apple',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal(
      (await inject(products, { url: '/products/Apple' })).json<ErrorBody>().error.code,
      'BAD_REQUEST',
    );
  });

  it('on a Redis that does not answer: the open succeeds degraded, writes are skipped, reads miss, loaders run', async () => {
    type Loaded = { app: App; cache: Cache; database?: typeof database };
    const open = async (name: string): Promise<Loaded> => {
      process.env.CACHE_URL = 'redis://127.0.0.1:1';
      try {
        return (await import(
          new URL(`../../examples/docs/cache/${name}.ts?outage`, import.meta.url).href
        )) as Loaded;
      } finally {
        delete process.env.CACHE_URL;
      }
    };
    const down = await open('carts');
    const downProducts = await open('products');
    try {
      assert.equal(down.cache.status, 'degraded');
      assert.equal((await inject(down.app, { method: 'PUT', url: '/carts/c1', body: ['x'] })).status, 204);
      assert.deepEqual((await inject(down.app, { url: '/carts/c1' })).json(), []);
      assert.equal(
        (await inject(down.app, { url: '/healthz/cache' })).json<{ status: string }>().status,
        'degraded',
      );
      for (let i = 0; i < 2; i++) {
        assert.equal((await inject(downProducts.app, { url: '/products/apple' })).status, 200);
      }
      assert.equal(downProducts.database!.reads, 2, 'each request loaded, uncached');
    } finally {
      await down.app.stop();
      await downProducts.app.stop();
    }
  });
});
