/**
 * SQLite's one connection and its transactions: how long and how many outside queries wait for a running
 * transaction, and what the caller gets when the ROLLBACK after a failure fails too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, mock, test } from 'node:test';
import { type Database, openDatabase } from 'weir/db';
import { type CapturingLogger, capturingLogger } from './log-capture.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-sqlite-tx-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Opens a fresh file with a table `t`, and a transaction that holds the connection until released. */
async function withHeldTransaction(
  options: { maxWaiting?: number; acquireTimeoutMs?: number },
  log: CapturingLogger = capturingLogger(),
): Promise<{ db: Database; release: () => void; held: Promise<void> }> {
  const db = await openDatabase(`sqlite:${join(dir, `t${++files}.db`)}`, { ...options, logger: log });
  await db.execScript('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  let release!: () => void;
  let began!: () => void;
  const inside = new Promise<void>((resolve) => {
    began = resolve;
  });
  const held = db.transaction(async (tx) => {
    await tx.exec`INSERT INTO t (id) VALUES (${1})`;
    began();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  await inside;
  return { db, release, held };
}

function codeOf(promise: Promise<unknown>): Promise<{ code?: string; status?: number } | 'resolved'> {
  return promise.then(
    () => 'resolved' as const,
    (e: { code?: string; status?: number }) => e,
  );
}

describe('SQLite: queries waiting for a running transaction', () => {
  test('at maxWaiting, the next query is refused at once with 503; the waiting ones run after the transaction', async () => {
    const { db, release, held } = await withHeldTransaction({ maxWaiting: 2 });
    try {
      const waiting = [db.query`SELECT id FROM t`, db.exec`INSERT INTO t (id) VALUES (${2})`];
      const refused = await codeOf(db.query`SELECT 1`);
      assert.notEqual(refused, 'resolved');
      assert.equal((refused as { code?: string }).code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.equal((refused as { status?: number }).status, 503);
      release();
      await held;
      const [rows, insert] = await Promise.all(waiting);
      assert.deepEqual(rows, [{ id: 1 }], 'the waiting query saw the committed transaction');
      assert.deepEqual(insert, { rowCount: 1 });
      // Once the transaction is over, nothing waits and nothing is refused.
      assert.deepEqual(await db.query`SELECT count(*) AS n FROM t`, [{ n: 2 }]);
    } finally {
      await db.close();
    }
  });

  test('the default bound is 10,000 waiting queries, not unlimited', async () => {
    const { db, release, held } = await withHeldTransaction({});
    try {
      const waiting = Array.from({ length: 10_000 }, () => db.query`SELECT 1 AS one`);
      const refused = await codeOf(db.query`SELECT 1 AS one`);
      assert.equal((refused as { code?: string }).code, 'WEIR_ERR_DB_UNAVAILABLE');
      release();
      await held;
      assert.equal((await Promise.all(waiting)).length, 10_000);
    } finally {
      await db.close();
    }
  });

  describe('with fake timers', () => {
    beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
    afterEach(() => mock.timers.reset());

    test('a query that waits acquireTimeoutMs for the transaction gets 503, and not a moment before', async () => {
      const { db, release, held } = await withHeldTransaction({ acquireTimeoutMs: 2000 });
      try {
        let outcome: unknown;
        const waiting = codeOf(db.query`SELECT 1`).then((o) => {
          outcome = o;
          return o;
        });
        mock.timers.tick(1999);
        await new Promise((r) => setImmediate(r));
        assert.equal(outcome, undefined, 'still waiting at 1999 ms');
        mock.timers.tick(1);
        const refused = await waiting;
        assert.equal((refused as { code?: string }).code, 'WEIR_ERR_DB_UNAVAILABLE');
        // The transaction itself is unaffected, and the connection serves again after it.
        release();
        await held;
        assert.deepEqual(await db.query`SELECT id FROM t`, [{ id: 1 }]);
      } finally {
        await db.close();
      }
    });
  });

  test("a waiting query whose signal fires leaves the line with the signal's reason", async () => {
    const { db, release, held } = await withHeldTransaction({ maxWaiting: 1 });
    try {
      const controller = new AbortController();
      const gone = db.with(controller).query`SELECT 1`;
      controller.abort(new Error('client left'));
      await assert.rejects(gone, /client left/);
      // Its place in the line is free again.
      const next = db.query`SELECT 2 AS two`;
      release();
      await held;
      assert.deepEqual(await next, [{ two: 2 }]);
    } finally {
      await db.close();
    }
  });

  test('maxWaiting and acquireTimeoutMs are checked at open', async () => {
    const url = `sqlite:${join(dir, 'options.db')}`;
    for (const options of [
      { maxWaiting: -1 },
      { maxWaiting: 1.5 },
      { acquireTimeoutMs: 0 },
      { acquireTimeoutMs: Number.NaN },
    ]) {
      await assert.rejects(openDatabase(url, options), { code: 'WEIR_ERR_INVALID_OPTION' });
    }
  });
});

describe('SQLite: a ROLLBACK that fails', () => {
  test("the caller gets the function's own error, with the rollback failure attached and logged", async () => {
    const log = capturingLogger();
    const db = await openDatabase(`sqlite:${join(dir, 'rollback.db')}`, { logger: log });
    try {
      await db.execScript('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      const original = new Error('the function failed');
      const err = await db
        .transaction(async (tx) => {
          await tx.exec`INSERT INTO t (id) VALUES (${1})`;
          // The function ends the transaction itself, so the ROLLBACK that follows its failure fails.
          await tx.execScript('COMMIT');
          throw original;
        })
        .then(
          () => assert.fail("expected the function's error"),
          (e: unknown) => e as Error & { rollbackError?: Error & { code?: string } },
        );
      assert.equal(err, original);
      assert.match(String(err.rollbackError?.message), /no transaction is active/);
      assert.equal(Object.keys(err).includes('rollbackError'), false, 'attached, not enumerable');
      const logged = log.entries.find((e) => e.level === 'error');
      assert.match(String(logged?.line), /ROLLBACK failed/);
      assert.match(String(logged?.line), /no transaction is active/);
      // The connection is usable, outside any transaction.
      await db.exec`INSERT INTO t (id) VALUES (${2})`;
      assert.deepEqual(await db.query`SELECT id FROM t ORDER BY id`, [{ id: 1 }, { id: 2 }]);
    } finally {
      await db.close();
    }
  });

  test("in a savepoint, the nested function's error is what its caller gets", async () => {
    const db = await openDatabase(`sqlite:${join(dir, 'savepoint.db')}`, { logger: false });
    try {
      await db.execScript('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      await db.transaction(async (tx) => {
        const inner = await tx
          .transaction(async (sp) => {
            await sp.execScript('RELEASE weir_sp_1');
            throw new Error('inner failed');
          })
          .then(
            () => assert.fail('expected the inner error'),
            (e: Error & { rollbackError?: unknown }) => e,
          );
        assert.equal(inner.message, 'inner failed');
        assert.ok(inner.rollbackError instanceof Error);
      });
    } finally {
      await db.close();
    }
  });
});
