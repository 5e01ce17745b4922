/**
 * Unused PostgreSQL connections are closed after `idleTimeoutMs` (by one sweep per pool, not a timer per
 * query), and only those: a connection the traffic keeps using stays open. Counted on the real server
 * (`pg_stat_activity`) as well as in the pool's stats.
 */
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Database, openDatabase, type PostgresDatabase } from 'weir/db';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';

const skip = await postgresSkip();

describe('PostgreSQL idle connections', { skip, timeout: 30_000 }, () => {
  let scratch: { url: string; drop: () => Promise<void> };
  /** A connection of its own that counts the server's other connections to the test database. */
  let observer: Database;
  const opened: Database[] = [];

  before(async () => {
    scratch = await freshPostgresDatabase('idle');
    observer = await openDatabase(scratch.url, { max: 1 });
  });
  // Each test starts with no connection of another's: its pools closed, and gone from the server.
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.close()));
    for (let i = 0; (await onServer()) > 0; i++) {
      assert.ok(i < 100, 'connections of closed pools still on the server after 2 s');
      await sleep(20);
    }
  });
  after(async () => {
    await observer?.close();
    await scratch?.drop();
  });

  async function open(options: { idleTimeoutMs: number }): Promise<Database> {
    const db = await openDatabase(scratch.url, { max: 4, ...options });
    opened.push(db);
    return db;
  }

  /** Connections the server holds for the test database, the observer's own left out. */
  async function onServer(): Promise<number> {
    const [row] = await observer.query<{ n: number }>`
      SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()`;
    return row!.n;
  }

  /** Four queries at once: the pool opens its four connections. */
  async function fill(db: Database): Promise<void> {
    await Promise.all(Array.from({ length: 4 }, () => db.query`SELECT pg_sleep(0.05)`));
    assert.equal(db.poolStats().open, 4, 'four connections open');
  }

  test('connections nobody uses are closed between idleTimeoutMs and twice that, on the server too', async () => {
    const db = await open({ idleTimeoutMs: 300 });
    await fill(db);
    assert.equal(await onServer(), 4);
    const start = performance.now();
    while (db.poolStats().open > 0) {
      assert.ok(performance.now() - start < 2000, `still ${db.poolStats().open} open after 2 s`);
      await sleep(20);
    }
    const took = performance.now() - start;
    assert.ok(took >= 250, `closed after ${took.toFixed(0)} ms, before idleTimeoutMs`);
    // The server sees the connections end a moment after the pool lets them go.
    for (let i = 0; (await onServer()) > 0; i++) {
      assert.ok(i < 50, 'the server still holds connections 1 s after the pool closed them');
      await sleep(20);
    }
    // And the pool opens what it needs again.
    assert.deepEqual(await db.query`SELECT 1 AS one`, [{ one: 1 }]);
  });

  test('a connection in steady use stays open while the ones it does not need are closed', async () => {
    // Periods long enough that a stalled test process cannot leave one without a query.
    const db = await open({ idleTimeoutMs: 500 });
    await fill(db);
    let connects = 0;
    // The pg pool underneath, an EventEmitter: 'connect' for every connection it opens.
    ((db as PostgresDatabase).pool as unknown as EventEmitter).on('connect', () => connects++);
    // One query at a time for three periods: one connection is enough, and it is used throughout.
    const until = performance.now() + 1600;
    let queries = 0;
    while (performance.now() < until) {
      assert.deepEqual(await db.query`SELECT 1 AS one`, [{ one: 1 }]);
      queries++;
      await sleep(10);
    }
    assert.ok(queries > 40, `only ${queries} queries ran`);
    assert.equal(db.poolStats().open, 1, 'the surplus closed, the connection in use kept');
    assert.equal(connects, 0, 'the connection in use was never closed and opened again');
    assert.equal(await onServer(), 1);
  });

  test('idleTimeoutMs 0 and Infinity keep idle connections open', async () => {
    const never = [await open({ idleTimeoutMs: 0 }), await open({ idleTimeoutMs: Number.POSITIVE_INFINITY })];
    for (const db of never) await fill(db);
    await sleep(500);
    for (const db of never) assert.equal(db.poolStats().open, 4);
    assert.equal(await onServer(), 8);
  });
});
