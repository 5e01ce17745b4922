/**
 * What a database tells metrics: `poolStats()` at rest, while connections are held and queries wait, and
 * after close; and the `weir:db.acquire` diagnostics channel, on SQLite and on a real PostgreSQL.
 * Connections are held by transactions or advisory locks released by the test, never by timing.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import {
  type AcquireRecord,
  acquireChannel,
  type Database,
  openDatabase,
  type PoolStats,
  type PostgresClient,
  type PostgresDatabase,
} from 'weir/db';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';
import { gate, holdTransaction, waitFor } from './hold.ts';

const skip = await postgresSkip();
const dir = mkdtempSync(join(tmpdir(), 'weir-db-observe-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Collects the channel's messages, subscribed by its name, until `stop()`. */
function recordAcquires(): { records: AcquireRecord[]; stop: () => void } {
  const records: AcquireRecord[] = [];
  const listener = (message: unknown): void => {
    records.push(message as AcquireRecord);
  };
  subscribe('weir:db.acquire', listener);
  return { records, stop: () => unsubscribe('weir:db.acquire', listener) };
}

function refusal(promise: Promise<unknown>): Promise<{ code?: string }> {
  return promise.then(
    () => assert.fail('expected a refusal'),
    (e: { code?: string }) => e,
  );
}

function stats(db: Database): Omit<PoolStats, 'driver' | 'max'> {
  const { open, inUse, waiting } = db.poolStats();
  return { open, inUse, waiting };
}

test('the channel is weir:db.acquire', () => {
  assert.equal(acquireChannel.name, 'weir:db.acquire');
});

describe('SQLite: poolStats() and weir:db.acquire', () => {
  function open(options: { maxWaiting?: number; acquireTimeoutMs?: number } = {}): Promise<Database> {
    return openDatabase(`sqlite:${join(dir, `s${++files}.db`)}`, { ...options, logger: false });
  }

  test('at rest: the one connection, open and idle', async () => {
    const db = await open();
    try {
      await db.query`SELECT 1 AS one`;
      assert.deepEqual(db.poolStats(), { driver: 'sqlite', max: 1, open: 1, inUse: 0, waiting: 0 });
    } finally {
      await db.close();
    }
  });

  test('a held transaction is inUse 1 and the queries queued behind it are waiting, then back to 0', async () => {
    const db = await open();
    const release = gate();
    try {
      const { done } = await holdTransaction(db, release.wait);
      const queued = [db.query`SELECT 1 AS one`, db.transaction((tx) => tx.query`SELECT 2 AS two`)];
      await waitFor(() => db.poolStats().waiting === 2, 'two waiting');
      assert.deepEqual(stats(db), { open: 1, inUse: 1, waiting: 2 });
      release.open();
      await done;
      await Promise.all(queued);
      assert.deepEqual(stats(db), { open: 1, inUse: 0, waiting: 0 });
    } finally {
      release.open();
      await db.close();
    }
  });

  test('close() waiting behind a transaction is not counted as a waiting query; once closed, zeros', async () => {
    const db = await open();
    const release = gate();
    try {
      const { done } = await holdTransaction(db, release.wait);
      const queued = db.query`SELECT 1 AS one`;
      await waitFor(() => db.poolStats().waiting === 1, 'one waiting');
      const closed = db.close();
      assert.deepEqual(stats(db), { open: 1, inUse: 1, waiting: 1 });
      release.open();
      await Promise.all([done, queued, closed]);
      assert.deepEqual(db.poolStats(), { driver: 'sqlite', max: 1, open: 0, inUse: 0, waiting: 0 });
      await db.close();
      assert.deepEqual(stats(db), { open: 0, inUse: 0, waiting: 0 }, 'a second close changes nothing');
    } finally {
      release.open();
      await db.close();
    }
  });

  test('each outside query, script and transaction publishes one acquisition; queries inside a transaction none', async () => {
    const db = await open();
    const seen = recordAcquires();
    try {
      await db.query`SELECT 1 AS one`;
      await db.execScript('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      await db.transaction(async (tx) => {
        await tx.exec`INSERT INTO t (id) VALUES (${1})`;
        await tx.query`SELECT id FROM t`;
      });
      assert.deepEqual(seen.records, [
        { driver: 'sqlite', waitedMs: 0, ok: true },
        { driver: 'sqlite', waitedMs: 0, ok: true },
        { driver: 'sqlite', waitedMs: 0, ok: true },
      ]);
    } finally {
      seen.stop();
      await db.close();
    }
  });

  test('a query that waits for a transaction is timed; refused ones (maxWaiting, acquireTimeoutMs, signal) are ok false', async () => {
    const db = await open({ maxWaiting: 2, acquireTimeoutMs: 300 });
    const release = gate();
    const { done } = await holdTransaction(db, release.wait);
    const seen = recordAcquires();
    try {
      const late = refusal(db.query`SELECT 1 AS one`);
      const aborted = new AbortController();
      const withdrawn = refusal(db.with({ signal: aborted.signal }).query`SELECT 2 AS two`);
      const full = await refusal(db.query`SELECT 3 AS three`);
      assert.equal(full.code, 'WEIR_ERR_DB_UNAVAILABLE');
      aborted.abort(new Error('gone'));
      await withdrawn;
      assert.equal(seen.records.length, 2, 'the withdrawn wait is published when its caller is refused');
      assert.equal((await late).code, 'WEIR_ERR_DB_UNAVAILABLE', 'refused past acquireTimeoutMs');
      const waited = db.query`SELECT 4 AS four`;
      release.open();
      await done;
      await waited;
      assert.equal(seen.records.length, 4, JSON.stringify(seen.records));
      const [refusedAtOnce, signalled, timedOut, got] = seen.records as [
        AcquireRecord,
        AcquireRecord,
        AcquireRecord,
        AcquireRecord,
      ];
      assert.deepEqual(refusedAtOnce, { driver: 'sqlite', waitedMs: 0, ok: false });
      for (const refused of [signalled, timedOut]) {
        assert.equal(refused.ok, false);
        assert.ok(refused.waitedMs >= 0 && Number.isFinite(refused.waitedMs), String(refused.waitedMs));
      }
      assert.deepEqual({ ...got, waitedMs: 0 }, { driver: 'sqlite', waitedMs: 0, ok: true });
      assert.ok(got.waitedMs >= 0 && Number.isFinite(got.waitedMs), String(got.waitedMs));
    } finally {
      seen.stop();
      release.open();
      await db.close();
    }
  });

  test('without a subscriber nothing is published and no clock is read; unsubscribing stops the messages', async () => {
    const db = await open();
    const now = mock.method(performance, 'now');
    try {
      const seen = recordAcquires();
      seen.stop();
      const release = gate();
      const { done } = await holdTransaction(db, release.wait);
      const queued = db.query`SELECT 1 AS one`;
      release.open();
      await Promise.all([done, queued, db.query`SELECT 2 AS two`]);
      assert.deepEqual(seen.records, []);
      assert.equal(now.mock.callCount(), 0, 'performance.now() was read');
      // The same work with a subscriber reads the clock (for the waiting query): the spy sees it.
      const watched = recordAcquires();
      const again = gate();
      const held = await holdTransaction(db, again.wait);
      const waiting = db.query`SELECT 3 AS three`;
      again.open();
      await Promise.all([held.done, waiting]);
      watched.stop();
      assert.equal(watched.records.length, 2);
      assert.ok(now.mock.callCount() > 0);
    } finally {
      now.mock.restore();
      await db.close();
    }
  });
});

describe('PostgreSQL: poolStats() and weir:db.acquire', { skip, timeout: 30_000 }, () => {
  let scratch: { url: string; drop: () => Promise<void> };
  let locker: Database;
  before(async () => {
    scratch = await freshPostgresDatabase('observe');
    locker = await openDatabase(scratch.url, { max: 1, logger: false });
  });
  after(async () => {
    await locker?.close();
    await scratch?.drop();
  });

  /** Holds advisory lock `key` in a transaction on another connection until the gate opens. */
  async function holdLock(key: number, until: Promise<void>): Promise<{ done: Promise<void> }> {
    const began = gate();
    const done = locker.transaction(async (tx) => {
      await tx.query`SELECT pg_advisory_xact_lock(${key})`;
      began.open();
      await until;
    });
    await began.wait;
    return { done };
  }

  test('at rest: no connection in use, none waiting, at most max open', async () => {
    const db = await openDatabase(scratch.url, { max: 2, logger: false });
    try {
      await db.query`SELECT 1 AS one`;
      const now = db.poolStats();
      assert.equal(now.driver, 'postgres');
      assert.equal(now.max, 2);
      assert.equal(now.inUse, 0);
      assert.equal(now.waiting, 0);
      assert.ok(now.open >= 1 && now.open <= 2, `open: ${now.open}`);
    } finally {
      await db.close();
    }
  });

  test('five queries on a pool of two: inUse 2 and waiting 3 while they block, then 0 with both idle', async () => {
    const db = await openDatabase(scratch.url, { max: 2, logger: false });
    const release = gate();
    try {
      const lock = await holdLock(7, release.wait);
      const queries = Array.from({ length: 5 }, () => db.query`SELECT pg_advisory_xact_lock(${7})`);
      await waitFor(() => db.poolStats().inUse === 2, 'two connections in use');
      assert.deepEqual(stats(db), { open: 2, inUse: 2, waiting: 3 });
      release.open();
      await lock.done;
      await Promise.all(queries);
      assert.deepEqual(stats(db), { open: 2, inUse: 0, waiting: 0 });
    } finally {
      release.open();
      await db.close();
    }
  });

  test('held transactions are in use and the query behind them waits; connections checked out of db.pool count too', async () => {
    const db = await openDatabase(scratch.url, { max: 3, logger: false });
    const release = gate();
    let client: PostgresClient | undefined;
    try {
      const first = await holdTransaction(db, release.wait);
      const second = await holdTransaction(db, release.wait);
      client = await (db as PostgresDatabase).pool.connect();
      const queued = db.query`SELECT 1 AS one`;
      assert.deepEqual(stats(db), { open: 3, inUse: 3, waiting: 1 });
      client.release();
      client = undefined;
      await queued;
      release.open();
      await Promise.all([first.done, second.done]);
      assert.deepEqual(stats(db), { open: 3, inUse: 0, waiting: 0 });
    } finally {
      client?.release();
      release.open();
      await db.close();
    }
  });

  test('after close(): zeros but max, and no throw', async () => {
    const db = await openDatabase(scratch.url, { max: 2, logger: false });
    await Promise.all([db.query`SELECT 1 AS one`, db.query`SELECT 2 AS two`]);
    await db.close();
    assert.deepEqual(db.poolStats(), { driver: 'postgres', max: 2, open: 0, inUse: 0, waiting: 0 });
  });

  test('each pooled query and transaction publishes one acquisition, ok, with its wait', async () => {
    const db = await openDatabase(scratch.url, { max: 2, logger: false });
    const seen = recordAcquires();
    try {
      await db.query`SELECT 1 AS one`;
      await db.execScript('SELECT 1; SELECT 2');
      await db.transaction(async (tx) => {
        await tx.query`SELECT 1 AS one`;
        await tx.transaction((sp) => sp.query`SELECT 2 AS two`);
      });
      assert.equal(seen.records.length, 3, JSON.stringify(seen.records));
      for (const record of seen.records) {
        assert.equal(record.driver, 'postgres');
        assert.equal(record.ok, true);
        assert.ok(record.waitedMs >= 0 && Number.isFinite(record.waitedMs), String(record.waitedMs));
      }
    } finally {
      seen.stop();
      await db.close();
    }
  });

  test('refused acquisitions are ok false: maxWaiting full, acquireTimeoutMs, a signal; one message each', async () => {
    const db = await openDatabase(scratch.url, {
      max: 1,
      maxWaiting: 3,
      acquireTimeoutMs: 300,
      logger: false,
    });
    const release = gate();
    const held = await holdTransaction(db, release.wait);
    const seen = recordAcquires();
    try {
      const timedOut = refusal(db.query`SELECT 1 AS one`);
      const aborted = new AbortController();
      const withdrawnQuery = refusal(db.with({ signal: aborted.signal }).query`SELECT 2 AS two`);
      const withdrawnTx = refusal(db.with({ signal: aborted.signal }).transaction(async () => {}));
      const full = await refusal(db.query`SELECT 3 AS three`);
      assert.equal(full.code, 'WEIR_ERR_DB_UNAVAILABLE');
      aborted.abort(new Error('gone'));
      await Promise.all([withdrawnQuery, withdrawnTx]);
      assert.equal(
        seen.records.length,
        3,
        'the withdrawn waits are published when their callers are refused',
      );
      assert.equal((await timedOut).code, 'WEIR_ERR_DB_UNAVAILABLE', 'refused past acquireTimeoutMs');
      release.open();
      await held.done;
      await db.query`SELECT 4 AS four`;
      assert.equal(seen.records.length, 5, JSON.stringify(seen.records));
      const [atOnce, signalledQuery, signalledTx, late, got] = seen.records as [
        AcquireRecord,
        AcquireRecord,
        AcquireRecord,
        AcquireRecord,
        AcquireRecord,
      ];
      assert.deepEqual(atOnce, { driver: 'postgres', waitedMs: 0, ok: false });
      for (const refused of [signalledQuery, signalledTx, late]) {
        assert.equal(refused.ok, false);
        assert.ok(refused.waitedMs >= 0 && Number.isFinite(refused.waitedMs), String(refused.waitedMs));
      }
      assert.equal(got.ok, true);
      assert.deepEqual(stats(db), { open: 1, inUse: 0, waiting: 0 }, 'the withdrawn request is over too');
    } finally {
      seen.stop();
      release.open();
      await db.close();
    }
  });

  test('unsubscribed, the channel gets nothing', async () => {
    const db = await openDatabase(scratch.url, { max: 2, logger: false });
    const seen = recordAcquires();
    seen.stop();
    try {
      await Promise.all([db.query`SELECT 1 AS one`, db.transaction((tx) => tx.query`SELECT 2 AS two`)]);
      assert.deepEqual(seen.records, []);
    } finally {
      await db.close();
    }
  });
});
