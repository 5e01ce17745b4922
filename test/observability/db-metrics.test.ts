import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, sleep } from 'weir';
import { type Database, openDatabase } from 'weir/db';
import { metrics } from 'weir/observability';
import { request, serve } from '../helpers/http.ts';
import { parsePrometheus, sample } from '../helpers/prometheus.ts';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';

const skip = await postgresSkip();

describe('database metrics', () => {
  it('reports the SQLite connection and each acquisition', async () => {
    const db = await openDatabase('sqlite::memory:');
    const app = new App({ logger: false });
    const m = metrics(app, { databases: { main: db } });
    app.get('/one', async () => db.one<{ n: number }>`SELECT 1 AS n`);
    const handle = await serve(app);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(handle, { path: '/one' })).status, 200);
      const families = parsePrometheus(await m.text());
      assert.equal(sample(families, 'weir_db_pool_max', { database: 'main' }), 1);
      assert.equal(sample(families, 'weir_db_pool_open', { database: 'main' }), 1);
      assert.equal(sample(families, 'weir_db_pool_in_use', { database: 'main' }), 0);
      assert.match(await m.text(), /weir_db_acquire_seconds_count\{driver="sqlite",outcome="acquired"\} 3\n/);
    } finally {
      await handle.close();
      await db.close();
    }
  });

  describe('PostgreSQL under a bounded load', { skip }, () => {
    let scratch: { url: string; drop: () => Promise<void> };
    let db: Database;
    before(async () => {
      scratch = await freshPostgresDatabase('metrics');
      db = await openDatabase(scratch.url, { max: 2, maxWaiting: 2 });
    });
    after(async () => {
      await db?.close();
      await scratch?.drop();
    });

    it('shows the pool full, queries waiting and refusals, then at rest', async () => {
      const app = new App({ logger: false });
      const m = metrics(app, { databases: { main: db } });
      app.get('/slow', async () => db.one`SELECT pg_sleep(0.3) IS NULL AS slept`);
      const handle = await serve(app);
      try {
        // Two hold the connections, two wait, the fifth finds the waiting line full: 503.
        const burst = Array.from({ length: 5 }, () => request(handle, { path: '/slow' }));
        await sleep(150);
        const during = parsePrometheus(await m.text());
        assert.equal(sample(during, 'weir_db_pool_in_use', { database: 'main' }), 2);
        assert.equal(sample(during, 'weir_db_pool_waiting', { database: 'main' }), 2);
        assert.equal(sample(during, 'weir_db_pool_max', { database: 'main' }), 2);
        const statuses = (await Promise.all(burst)).map((r) => r.status).sort();
        assert.deepEqual(statuses, [200, 200, 200, 200, 503]);
        const text = await m.text();
        const after = parsePrometheus(text);
        assert.equal(sample(after, 'weir_db_pool_in_use', { database: 'main' }), 0);
        assert.equal(sample(after, 'weir_db_pool_waiting', { database: 'main' }), 0);
        assert.match(text, /weir_db_acquire_seconds_count\{driver="postgres",outcome="refused"\} 1\n/);
        assert.match(text, /weir_db_acquire_seconds_count\{driver="postgres",outcome="acquired"\} 4\n/);
        // The two that waited waited about one query's time: in the 0.5 s bucket, not the 0.1 s one.
        assert.match(
          text,
          /weir_db_acquire_seconds_bucket\{driver="postgres",outcome="acquired",le="0\.1"\} 2\n/,
        );
        assert.match(
          text,
          /weir_db_acquire_seconds_bucket\{driver="postgres",outcome="acquired",le="0\.5"\} 4\n/,
        );
      } finally {
        await handle.close();
      }
    });
  });
});
