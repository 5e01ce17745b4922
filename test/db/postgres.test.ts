import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { App } from 'weir';
import { type Database, openDatabase } from 'weir/db';
import { request, serve } from '../helpers/http.ts';
import { freshPostgresDatabase, POSTGRES_ADMIN_URL, postgresSkip } from '../helpers/services.ts';
import { runClientErrorSuite } from './client-errors.ts';
import { runDatabaseSuite } from './conformance.ts';
import { startProxy } from './tcp-proxy.ts';

const skip = await postgresSkip();
let fresh: { url: string; drop: () => Promise<void> } | undefined;

async function url(): Promise<string> {
  fresh ??= await freshPostgresDatabase('db');
  return fresh.url;
}

runDatabaseSuite(
  'postgres',
  { open: async () => openDatabase(await url()), cleanup: async () => fresh?.drop() },
  { skip },
);

let errorsDb: { url: string; drop: () => Promise<void> } | undefined;

/** The URL with a password (the server trusts local connections, so any will do): it must never show. */
function withPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = 'sekret-pw';
  return parsed.toString();
}

runClientErrorSuite(
  'postgres',
  {
    async open(logger) {
      errorsDb = await freshPostgresDatabase('errors');
      return openDatabase(withPassword(errorsDb.url), { logger });
    },
    async broken(logger) {
      const target = new URL(errorsDb?.url ?? POSTGRES_ADMIN_URL);
      const proxy = await startProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const db = await openDatabase(withPassword(proxy.url(target.toString())), { logger });
      // The port the database was opened on is closed now, and its connections are cut.
      await proxy.close();
      return {
        db,
        hidden: [String(proxy.port)],
        // The database's own warning: the App's 503 line carries only the code and the generic message.
        logged: new RegExp(
          `the database at 127\\.0\\.0\\.1:${proxy.port} cannot be reached: connect ECONNREFUSED`,
        ),
        notLogged: /sekret/,
        cleanup: () => db.close(),
      };
    },
    hidden: ['127.0.0.1', '5432', 'weir_test', 'sekret', 'postgres:'],
    cleanup: async () => errorsDb?.drop(),
  },
  { skip },
);

describe('PostgreSQL specifics', { skip }, () => {
  let db: Database;
  let scratch: { url: string; drop: () => Promise<void> };
  before(async () => {
    scratch = await freshPostgresDatabase('pg');
    db = await openDatabase(scratch.url, { max: 2 });
  });
  after(async () => {
    await db?.close();
    await scratch?.drop();
  });

  const running = () =>
    db.query`SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'`;

  test('a running query is cancelled on the server when its signal fires', async () => {
    const controller = new AbortController();
    const slow = db.with(controller).query`SELECT pg_sleep(${30})`;
    // Wait until the server is running it, then abort.
    for (let i = 0; i < 100 && (await running()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((await running()).length, 1, 'the query runs on the server');
    controller.abort(new Error('client left'));
    await assert.rejects(slow, /client left/);
    for (let i = 0; i < 100 && (await running()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await running()).length, 0, 'the server stopped it');
    // Both pooled connections still work afterwards.
    const rows = await Promise.all([db.one`SELECT 1 AS n`, db.one`SELECT 2 AS n`]);
    assert.deepEqual(rows, [{ n: 1 }, { n: 2 }]);
  });

  test('a deadline cancels the running query on the server when it passes', async () => {
    const started = performance.now();
    const slow = db.with({ deadline: Date.now() + 300 }).query`SELECT pg_sleep(${30})`;
    await assert.rejects(slow, { code: 'WEIR_ERR_DEADLINE_EXCEEDED' });
    const took = performance.now() - started;
    assert.ok(took >= 250 && took < 5000, `rejected after ${Math.round(took)} ms`);
    for (let i = 0; i < 100 && (await running()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await running()).length, 0, 'the server stopped it');
  });

  test("a route's deadline answers 503 and cancels its query on the server", async () => {
    const app = new App({ logger: false });
    app.get('/report', { timeoutMs: 400 }, (ctx) => db.with(ctx).query`SELECT pg_sleep(${30})`);
    const handle = await serve(app);
    try {
      const started = performance.now();
      const res = await request(handle, { path: '/report' });
      assert.equal(res.status, 503);
      assert.equal(JSON.parse(res.body).error.code, 'WEIR_ERR_REQUEST_TIMEOUT');
      assert.ok(performance.now() - started < 5000);
      for (let i = 0; i < 100 && (await running()).length > 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal((await running()).length, 0, 'the server stopped the query');
    } finally {
      await handle.close();
    }
  });

  test('a client that hangs up cancels the running query of its request on the server', async () => {
    const app = new App({ logger: false });
    let started!: () => void;
    const queryStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    let outcome: unknown;
    app.get('/slow', async (ctx) => {
      const q = db.with(ctx).query`SELECT pg_sleep(${30})`;
      started();
      try {
        return await q;
      } catch (err) {
        outcome = err;
        throw err;
      }
    });
    const handle = await serve(app);
    try {
      const socket = connect(handle.port, '127.0.0.1');
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      await queryStarted;
      for (let i = 0; i < 100 && (await running()).length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal((await running()).length, 1);
      socket.destroy();
      for (let i = 0; i < 100 && (await running()).length > 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal((await running()).length, 0, 'the server stopped the query');
      assert.equal((outcome as Error | undefined)?.name, 'AbortError');
    } finally {
      await handle.close();
    }
  });

  test('a query inside a transaction is cancelled, and the transaction rolls back', async () => {
    await db.execScript('CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY)');
    const controller = new AbortController();
    const tx = db.with(controller).transaction(async (t) => {
      await t.exec`INSERT INTO note (id) VALUES (${1})`;
      await t.query`SELECT pg_sleep(${30})`;
    });
    for (let i = 0; i < 100 && (await running()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('deadline'));
    await assert.rejects(tx, /deadline/);
    assert.deepEqual(await db.query`SELECT * FROM note`, []);
  });

  test('past maxWaiting, a query is refused at once with 503', async () => {
    const small = await openDatabase(scratch.url, { max: 1, maxWaiting: 1 });
    try {
      const busy = small.query`SELECT pg_sleep(${0.3})`;
      const waiting = small.query`SELECT 1`;
      const err = await small.query`SELECT 2`.then(
        () => assert.fail('expected a refusal'),
        (e: { code?: string; status?: number; headers?: Record<string, string> }) => e,
      );
      assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.equal(err.headers?.['retry-after'], '1');
      await Promise.all([busy, waiting]);
    } finally {
      await small.close();
    }
  });

  test('int8 comes back as a number, always, up to ±(2^53 - 1), arrays too; past that the query fails', async () => {
    const row = await db.one<Record<string, unknown>>`
      SELECT count(*) AS n, ${9007199254740991}::int8 AS top, ${-9007199254740991}::int8 AS bottom,
             ${'{{1,NULL},{3,4}}'}::int8[] AS grid, 9223372036854775807::int8::text AS as_text`;
    assert.deepEqual(row, {
      n: 1,
      top: 9007199254740991,
      bottom: -9007199254740991,
      grid: [
        [1, null],
        [3, 4],
      ],
      as_text: '9223372036854775807',
    });
    const overflows = [
      () => db.query`SELECT ${9007199254740991}::int8 + 1 AS n`,
      () => db.query`SELECT ARRAY[1, -9223372036854775808]::int8[] AS n`,
      () => db.execScript('SELECT 9223372036854775807::int8'),
    ];
    for (const overflow of overflows) {
      const err = await overflow().then(
        () => assert.fail('expected the query to fail'),
        (e: { code?: string; status?: number; message: string }) => e,
      );
      assert.equal(err.code, 'WEIR_ERR_DB_INTEGER_OVERFLOW');
      assert.equal(err.status, undefined, 'a plain 500: the value stays off the body');
      assert.match(err.message, /::text/);
    }
    // The connection that read it serves on.
    assert.deepEqual(await db.query`SELECT 1::int8 AS n`, [{ n: 1 }]);
  });

  test('PostgreSQL options are checked at open', async () => {
    for (const options of [
      { max: 0 },
      { cancelTimeoutMs: 0 },
      { cancelTimeoutMs: 2 ** 31 },
      { maxWaiting: -1 },
      { idleTimeoutMs: -1 },
      { idleTimeoutMs: 0.5 },
      { idleTimeoutMs: Number.NaN },
      { idleTimeoutMs: 2 ** 31 },
      { idleTimeoutMs: '1000' as unknown as number },
      { acquireTimeoutMs: 0 },
      { acquireTimeoutMs: -5 },
      { acquireTimeoutMs: Number.NaN },
      { acquireTimeoutMs: '1000' as unknown as number },
    ]) {
      await assert.rejects(openDatabase(scratch.url, options), { code: 'WEIR_ERR_INVALID_OPTION' });
    }
  });

  test('an unreachable server fails at open with one line naming the URL without its password', async () => {
    const target = new URL(POSTGRES_ADMIN_URL);
    target.port = '1';
    target.password = 'sekret';
    const err = await openDatabase(target.toString()).then(
      () => assert.fail('expected a failure'),
      (e: Error & { code?: string }) => e,
    );
    assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
    assert.match(err.message, /127\.0\.0\.1:1/);
    assert.doesNotMatch(err.message, /sekret/);
    assert.doesNotMatch(err.message, /\n/);
  });
});
