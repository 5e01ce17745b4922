/**
 * PostgreSQL's `acquireTimeoutMs`, kept by weir on one timer per pool instead of pg's timer per checkout:
 * what it costs (no timer per query), and that every wait is still bounded — a busy pool, a connection
 * that never finishes opening, and `db.pool.connect()`. Real PostgreSQL; the stalled connection through a
 * TCP proxy in front of it.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type PostgresDatabase } from 'weir/db';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';
import { hold, waitFor } from './hold.ts';
import { startProxy } from './tcp-proxy.ts';

const skip = await postgresSkip();

/** The error `start()` rejects with, and how long after the call it did; a failure past 5 s. */
async function refusedAfter(
  start: () => Promise<unknown>,
): Promise<{ err: Error & { code?: string; status?: number }; ms: number }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('neither answered nor refused within 5 s')), 5000);
  });
  try {
    await Promise.race([start(), bound]);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('neither answered')) throw err;
    return { err: err as Error & { code?: string }, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
  assert.fail('expected a refusal');
}

describe('PostgreSQL acquireTimeoutMs', { skip, timeout: 30_000 }, () => {
  let scratch: { url: string; drop: () => Promise<void> };
  before(async () => {
    scratch = await freshPostgresDatabase('wait');
  });
  after(async () => {
    await scratch?.drop();
  });

  test('queries arm no timer each: 400 of them, one at a time and 40 at once, make at most two', async () => {
    const db = await openDatabase(scratch.url, { max: 4, idleTimeoutMs: 0, logger: false });
    let timers = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'Timeout') timers++;
      },
    });
    try {
      // The pool's four connections opened first (each arms its connect timeout once).
      await Promise.all(Array.from({ length: 4 }, () => db.query`SELECT pg_sleep(0.05)`));
      assert.equal(db.poolStats().open, 4);
      hook.enable();
      for (let i = 0; i < 200; i++) await db.query`SELECT ${i}::int AS n`;
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 40 }, (_, i) => db.query`SELECT ${i}::int AS n`));
      }
      hook.disable();
      // The line's one timer (armed at the first wait, then again while requests keep waiting).
      assert.ok(timers <= 2, `${timers} timers for 400 queries`);
    } finally {
      hook.disable();
      await db.close();
    }
  });

  test('a request not answered within acquireTimeoutMs is refused with 503 at its own deadline; its place in pg’s line goes back when reached', async () => {
    const db = await openDatabase(scratch.url, { max: 1, acquireTimeoutMs: 300, logger: false });
    const held = await hold(db);
    try {
      // Three requests 100 ms apart: each is refused 300 ms after it was made, not with the first.
      const refused = [];
      for (let i = 0; i < 3; i++) {
        refused.push(refusedAfter(() => db.query`SELECT ${i}::int AS n`));
        if (i < 2) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      for (const { err, ms } of await Promise.all(refused)) {
        assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
        assert.equal(err.status, 503);
        assert.match(
          String((err.cause as Error).message),
          /no connection came free within acquireTimeoutMs \(300 ms\)/,
        );
        assert.ok(ms >= 300 && ms < 1300, `refused after ${ms.toFixed(0)} ms`);
      }
      // They stay in pg's line (counted as waiting) until it reaches them, and then hand the
      // connection straight back.
      assert.deepEqual(
        { ...db.poolStats(), driver: undefined },
        { driver: undefined, max: 1, open: 1, inUse: 1, waiting: 3 },
      );
      held.release();
      await held.done;
      assert.deepEqual(await db.one`SELECT 4 AS n`, { n: 4 });
      await waitFor(() => db.poolStats().waiting === 0 && db.poolStats().inUse === 0, 'the pool at rest');
    } finally {
      held.release();
      await db.close();
    }
  });

  test('requests refused at their deadline still count against maxWaiting until pg reaches them', async () => {
    const db = await openDatabase(scratch.url, {
      max: 1,
      maxWaiting: 2,
      acquireTimeoutMs: 200,
      logger: false,
    });
    const held = await hold(db);
    try {
      const late = await Promise.all([1, 2].map(() => refusedAfter(() => db.query`SELECT 1 AS n`)));
      for (const { ms } of late) assert.ok(ms >= 200, `refused after ${ms.toFixed(0)} ms`);
      // Both still hold their places in pg's line: the line is full, so the next is refused at once.
      const { err, ms } = await refusedAfter(() => db.query`SELECT 2 AS n`);
      assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.ok(ms < 100, `refused after ${ms.toFixed(0)} ms, not at once`);
      held.release();
      await held.done;
      await waitFor(() => db.poolStats().waiting === 0 && db.poolStats().inUse === 0, 'the pool at rest');
      assert.deepEqual(await db.one`SELECT 3 AS n`, { n: 3 });
    } finally {
      held.release();
      await db.close();
    }
  });

  test('a transaction waiting for its connection is refused the same way, and its connection goes back unused', async () => {
    const db = await openDatabase(scratch.url, { max: 1, acquireTimeoutMs: 200, logger: false });
    const held = await hold(db);
    let ran = false;
    try {
      const { err, ms } = await refusedAfter(() =>
        db.transaction(async () => {
          ran = true;
        }),
      );
      assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.ok(ms >= 200 && ms < 1200, `refused after ${ms.toFixed(0)} ms`);
      held.release();
      await held.done;
      await waitFor(() => db.poolStats().waiting === 0 && db.poolStats().inUse === 0, 'the pool at rest');
      assert.equal(ran, false, 'the refused transaction ran');
      assert.deepEqual(await db.one`SELECT 1 AS n`, { n: 1 });
    } finally {
      held.release();
      await db.close();
    }
  });

  test('acquireTimeoutMs Infinity: a query waits as long as the connection is held, then runs', async () => {
    const db = await openDatabase(scratch.url, {
      max: 1,
      acquireTimeoutMs: Number.POSITIVE_INFINITY,
      logger: false,
    });
    const held = await hold(db);
    try {
      let settled = false;
      const waiting = db.one<{ n: number }>`SELECT 5 AS n`.finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(settled, false, 'settled while the connection was held');
      held.release();
      assert.deepEqual(await waiting, { n: 5 });
    } finally {
      held.release();
      await held.done;
      await db.close();
    }
  });

  test('db.pool.connect() keeps pg’s own acquireTimeoutMs', async () => {
    const db = (await openDatabase(scratch.url, {
      max: 1,
      acquireTimeoutMs: 200,
      logger: false,
    })) as PostgresDatabase;
    const held = await hold(db);
    try {
      const { err, ms } = await refusedAfter(() => db.pool.connect());
      assert.match(err.message, /timeout/);
      assert.ok(ms >= 190 && ms < 1200, `refused after ${ms.toFixed(0)} ms`);
    } finally {
      held.release();
      await held.done;
      await db.close();
    }
  });

  test('a connection that never finishes opening fails its request at acquireTimeoutMs and is closed; the pool goes on', async () => {
    const url = new URL(scratch.url);
    // The proxy's second connection (the first after open's) is accepted and never answered.
    const proxy = await startProxy(
      { host: url.hostname, port: Number(url.port || 5432) },
      { stall: (n) => n === 2 },
    );
    const db = await openDatabase(proxy.url(scratch.url), { max: 2, acquireTimeoutMs: 400, logger: false });
    const held = await hold(db);
    try {
      const { err, ms } = await refusedAfter(() => db.query`SELECT 1 AS n`);
      assert.equal(proxy.stalled, 1, 'the request waited on a connection being opened');
      assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.ok(ms >= 400 && ms < 1400, `refused after ${ms.toFixed(0)} ms`);
      // The Client's own timeout closes the connection it was opening.
      await waitFor(() => proxy.stalledOpen === 0, 'the stalled connection closed');
      await waitFor(() => db.poolStats().waiting === 0, 'nothing waiting');
      assert.deepEqual(await db.one`SELECT 2 AS n`, { n: 2 });
    } finally {
      held.release();
      await held.done;
      await db.close();
      await proxy.close();
    }
  });
});
