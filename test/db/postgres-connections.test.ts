/**
 * PostgreSQL connections when something goes wrong underneath: a connection cut while it runs a query,
 * idle connections terminated by the server, a cancel request that never finishes, a ROLLBACK on a
 * connection that is gone. The faults are real: backends terminated on the real server, sockets reset
 * or stalled by a TCP proxy in front of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Database, openDatabase } from 'weir/db';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';
import { startProxy } from './tcp-proxy.ts';

const skip = await postgresSkip();

describe('PostgreSQL connections under faults', { skip }, () => {
  let scratch: { url: string; drop: () => Promise<void> };
  let target: { host: string; port: number };
  before(async () => {
    scratch = await freshPostgresDatabase('faults');
    const url = new URL(scratch.url);
    target = { host: url.hostname, port: Number(url.port || 5432) };
  });
  after(async () => {
    await scratch?.drop();
  });

  test('a connection reset while its query runs rejects that query with 503; the process lives on and the pool recovers', async () => {
    const proxy = await startProxy(target);
    const db = await openDatabase(proxy.url(scratch.url), { max: 2 });
    try {
      const running = db.query`SELECT pg_sleep(${5})`.then(
        () => assert.fail('expected the query to fail'),
        (e: { code?: string; status?: number }) => e,
      );
      await waitFor(async () => (await activeSleeps(db)) === 1);
      proxy.cut();
      const err = await running;
      assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.deepEqual(await db.one`SELECT 1 AS n`, { n: 1 });
    } finally {
      await db.close();
      await proxy.close();
    }
  });
});

/** Queries running `pg_sleep` on the server, seen from another connection of `db`. */
async function activeSleeps(db: Database): Promise<number> {
  const rows = await db.query`
    SELECT pid FROM pg_stat_activity
    WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active' AND datname = current_database()`;
  return rows.length;
}

/** Polls `condition` every 20 ms, at most 250 times. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail('the condition never held');
}
