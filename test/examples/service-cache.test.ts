/**
 * The reference service's cached routes, on each cache backend: GET /cached-queries to the TechEmpower
 * rules, and GET /cached (computed once, kept 60 s, cacheable by browsers and a CDN).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { App } from 'weir';
import { type Cache, openCache } from 'weir/cache';
import type { Database } from 'weir/db';
import { inject } from 'weir/testing';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { REDIS_URL, redisSkip, uniqueNamespace } from '../helpers/services.ts';

interface World {
  id: number;
  randomNumber: number;
}

const redisSkipped = await redisSkip();

for (const [backend, url, skip] of [
  ['memory', 'memory:', false],
  ['redis', REDIS_URL, redisSkipped],
  ['tiered', `tiered+${REDIS_URL}`, redisSkipped],
] as const) {
  describe(`reference service cache routes on ${backend}`, { skip }, () => {
    let app: App;
    let db: Database;
    let cache: Cache;
    before(async () => {
      db = await openServiceDatabase('sqlite::memory:');
      cache = await openCache(url, { namespace: uniqueNamespace(backend), logger: false });
      app = createServiceApp({ logger: false, db, cache });
    });
    after(async () => {
      await cache?.clear();
      await app?.stop();
    });

    it('GET /cached-queries answers `count` rows as they are in the database, count clamped to 1…500', async () => {
      const res = await inject(app, { url: '/cached-queries?count=20' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      const worlds = res.json<World[]>();
      assert.equal(worlds.length, 20);
      for (const w of worlds) {
        assert.deepEqual(Object.keys(w), ['id', 'randomNumber']);
        const row =
          await db.one<World>`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${w.id}`;
        assert.deepEqual(w, row);
      }
      const cases: [string, number][] = [
        ['/cached-queries', 1],
        ['/cached-queries?count=', 1],
        ['/cached-queries?count=foo', 1],
        ['/cached-queries?count=0', 1],
        ['/cached-queries?count=-3', 1],
        ['/cached-queries?count=7', 7],
        ['/cached-queries?count=501', 500],
      ];
      for (const [path, n] of cases) {
        assert.equal((await inject(app, { url: path })).json<World[]>().length, n, path);
      }
    });

    it('GET /cached-queries serves rows from the cache once they are in it', async () => {
      // Each row is loaded from the database once; every later request for it is a cache hit.
      await cache.clear();
      const before = cache.stats();
      const ids = new Set<number>();
      for (let i = 0; i < 20; i++) {
        for (const w of (await inject(app, { url: '/cached-queries?count=500' })).json<World[]>()) {
          ids.add(w.id);
        }
      }
      const after = cache.stats();
      assert.equal(after.loads - before.loads, ids.size);
      assert.ok(after.hits - before.hits > 1000, `hits ${after.hits - before.hits}`);
      const [first] = (await inject(app, { url: '/cached-queries?count=1' })).json<World[]>();
      assert.ok(first);
      await cache.set(`world:${first.id}`, { id: first.id, randomNumber: -1 });
      const seen = new Set<number>();
      for (let i = 0; i < 300 && !seen.has(-1); i++) {
        for (const w of (await inject(app, { url: '/cached-queries?count=500' })).json<World[]>()) {
          if (w.id === first.id) seen.add(w.randomNumber);
        }
      }
      assert.ok(seen.has(-1), 'the cached value, not the database row, is served');
    });

    it('GET /cached computes once, keeps the value, and is cacheable with an ETag', async () => {
      const [a, b] = await Promise.all([inject(app, { url: '/cached' }), inject(app, { url: '/cached' })]);
      assert.equal(a.status, 200);
      const body = a.json<{ primesBelowOneMillion: number; computedAt: string }>();
      assert.equal(body.primesBelowOneMillion, 78498);
      assert.deepEqual(b.json(), body, 'concurrent requests share one computation');
      const later = await inject(app, { url: '/cached' });
      assert.deepEqual(later.json(), body);
      assert.equal(a.headers['cache-control'], 'public, max-age=60');
      const tag = String(a.headers.etag);
      assert.match(tag, /^W\//);
      const revalidated = await inject(app, { url: '/cached', headers: { 'if-none-match': tag } });
      assert.equal(revalidated.status, 304);
      assert.equal(revalidated.body, '');
    });
  });
}
