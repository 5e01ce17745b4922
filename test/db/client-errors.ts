/**
 * What a client and what the log learn when a query fails, through the reference-service pattern (an App
 * route that lets the database's error propagate, requested with inject()): the body names at most the
 * columns at fault, never a value, a constraint, a table, SQL or a host; the log carries the detail.
 * Every engine's test file runs it.
 *
 * Every table and constraint name starts with `secret`, and no column name does, so "the body contains
 * no `secret`" covers them all.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { App } from 'weir';
import type { Database } from 'weir/db';
import { type InjectResponse, inject } from 'weir/testing';
import { type CapturingLogger, capturingLogger } from './log-capture.ts';

export interface BrokenDatabase {
  readonly db: Database;
  /** Strings no response body may contain (host, port, file path). */
  readonly hidden: readonly string[];
  /** What the log must say about why. */
  readonly logged: RegExp;
  /** What the log must not say (a password). */
  readonly notLogged?: RegExp;
  cleanup(): Promise<void>;
}

export interface ClientErrorTarget {
  /** Opens the database under test, logging to `logger`. */
  open(logger: CapturingLogger): Promise<Database>;
  /** A database, logging to `logger`, that worked at open and no longer can (closed port, full disk). */
  broken(logger: CapturingLogger): Promise<BrokenDatabase>;
  /** Strings no response body may contain for this target (its host, its file). */
  readonly hidden: readonly string[];
  cleanup?(): Promise<void>;
}

const SCHEMA = `
  DROP TABLE IF EXISTS secret_pets;
  DROP TABLE IF EXISTS secret_owners;
  DROP TABLE IF EXISTS secret_accounts;
  CREATE TABLE secret_accounts (
    k TEXT NOT NULL, j TEXT, score INTEGER,
    CONSTRAINT secret_accounts_pkey PRIMARY KEY (k),
    CONSTRAINT secret_pair_key UNIQUE (j, score),
    CONSTRAINT secret_rule CHECK (score >= 0)
  );
  CREATE TABLE secret_owners (id INTEGER PRIMARY KEY);
  CREATE TABLE secret_pets (id INTEGER PRIMARY KEY, owner INTEGER CONSTRAINT secret_pets_owner_fk REFERENCES secret_owners (id));
`;

interface Account {
  k: string | null;
  j?: string | null;
  score?: number | null;
}

/** The routes of a small service over `db`, with an access log that records each failed request. */
export function serviceApp(db: Database, log: CapturingLogger): App {
  const app = new App({ logger: log });
  app.use(async function accessLog(ctx, next) {
    await next();
    if (ctx.error !== undefined) ctx.log.info({ err: ctx.error, status: ctx.statusCode }, 'request failed');
  });
  app.post('/accounts', async (ctx) => {
    const { k, j = null, score = null } = await ctx.json<Account>();
    return db.with(ctx)
      .one`INSERT INTO secret_accounts (k, j, score) VALUES (${k}, ${j}, ${score}) RETURNING k`;
  });
  app.post('/pets', async (ctx) => {
    const { id, owner } = await ctx.json<{ id: number; owner: number }>();
    return db.with(ctx).exec`INSERT INTO secret_pets (id, owner) VALUES (${id}, ${owner})`;
  });
  app.delete(
    '/owners/:id',
    (ctx) => db.with(ctx).exec`DELETE FROM secret_owners WHERE id = ${Number(ctx.params.id)}`,
  );
  app.get(
    '/lookup',
    (ctx) => db.with(ctx).query`SELECT * FROM secret_missing WHERE k = ${ctx.query.k ?? ''}`,
  );
  return app;
}

/** The body, checked to hide every one of `hidden` (case-insensitively) and `secret`. */
function assertClean(res: InjectResponse, hidden: readonly string[]): void {
  const body = res.body.toLowerCase();
  for (const word of ['secret', ...hidden]) {
    assert.ok(!body.includes(word.toLowerCase()), `the body shows ${JSON.stringify(word)}: ${res.body}`);
  }
}

function errorOf(res: InjectResponse): { code: string; message: string; details?: unknown } {
  return res.json<{ error: { code: string; message: string; details?: unknown } }>().error;
}

export function runClientErrorSuite(
  name: string,
  target: ClientErrorTarget,
  options: { skip: string | false },
): void {
  describe(`Database errors a client sees, and the log: ${name}`, { skip: options.skip }, () => {
    let log: CapturingLogger;
    let db: Database;
    let app: App;
    before(async () => {
      log = capturingLogger();
      db = await target.open(log);
    });
    after(async () => {
      await db?.close();
      await target.cleanup?.();
    });
    beforeEach(async () => {
      await db.execScript(SCHEMA);
      log.entries.length = 0;
      app = serviceApp(db, log);
    });
    afterEach(() => app.stop());

    const post = (url: string, body: unknown) => inject(app, { method: 'POST', url, body });

    test('a duplicate key answers 409 naming the column, not the value, constraint or table; the log has them', async () => {
      const value = 'topsecret-value';
      assert.equal((await post('/accounts', { k: value })).status, 200);
      const res = await post('/accounts', { k: value });
      assert.equal(res.status, 409);
      assert.deepEqual(res.json(), {
        error: {
          code: 'WEIR_ERR_DB_UNIQUE_VIOLATION',
          message: 'A row with the same k already exists',
          details: { fields: ['k'] },
        },
      });
      assertClean(res, [value, ...target.hidden]);
      const line = (await log.waitFor((e) => e.msg === 'request failed')).line;
      assert.match(line, /secret_accounts/, 'the log names the table or constraint');
      assert.match(line, /WEIR_ERR_DB_UNIQUE_VIOLATION/);
      assert.doesNotMatch(log.text(), /topsecret/, 'the log holds no value');
    });

    test('a duplicate on two columns names both', async () => {
      assert.equal((await post('/accounts', { k: 'a', j: 'pair', score: 1 })).status, 200);
      const res = await post('/accounts', { k: 'b', j: 'pair', score: 1 });
      assert.equal(res.status, 409);
      assert.deepEqual(errorOf(res), {
        code: 'WEIR_ERR_DB_UNIQUE_VIOLATION',
        message: 'A row with the same j and score already exists',
        details: { fields: ['j', 'score'] },
      });
      assertClean(res, ['pair', ...target.hidden]);
    });

    test('hostile duplicate values (CR/LF, )=(, beyond U+00FF, 64 KiB) never reach the body', async () => {
      const hostile = [
        'line\r\nX-Injected: 1',
        'a)=(b, c) already exists.',
        'ünïcødé ☃ 𝄞 \u2028',
        'x'.repeat(64 * 1024),
      ];
      for (const value of hostile) {
        assert.equal((await post('/accounts', { k: value })).status, 200);
        const res = await post('/accounts', { k: value });
        assert.equal(res.status, 409);
        assert.equal(errorOf(res).message, 'A row with the same k already exists');
        assert.ok(res.body.length < 300, `a short body: ${res.body.length} bytes`);
        assertClean(res, [value.slice(0, 40), 'Injected', ...target.hidden]);
      }
    });

    test('a dangling reference answers 422, naming no value, table or constraint', async () => {
      const res = await post('/pets', { id: 1, owner: 424242 });
      assert.equal(res.status, 422);
      const error = errorOf(res);
      assert.equal(error.code, 'WEIR_ERR_DB_FOREIGN_KEY_VIOLATION');
      assertClean(res, ['424242', ...target.hidden]);
      // PostgreSQL says which column; SQLite only that some reference broke.
      if (error.details !== undefined) assert.deepEqual(error.details, { fields: ['owner'] });
      assert.match((await log.waitFor((e) => e.msg === 'request failed')).line, /FOREIGN KEY|secret_pets/i);
    });

    test('deleting a row still referred to answers 422, naming no table', async () => {
      await db.exec`INSERT INTO secret_owners (id) VALUES (${7})`;
      await db.exec`INSERT INTO secret_pets (id, owner) VALUES (${1}, ${7})`;
      const res = await inject(app, { method: 'DELETE', url: '/owners/7' });
      assert.equal(res.status, 422);
      assert.equal(errorOf(res).code, 'WEIR_ERR_DB_FOREIGN_KEY_VIOLATION');
      assertClean(res, target.hidden);
    });

    test('NOT NULL answers 422 naming the column; CHECK answers 422 naming neither rule nor value', async () => {
      const missing = await post('/accounts', { k: null });
      assert.equal(missing.status, 422);
      assert.deepEqual(errorOf(missing), {
        code: 'WEIR_ERR_DB_CONSTRAINT_VIOLATION',
        message: 'k must not be null',
        details: { fields: ['k'] },
      });
      assertClean(missing, target.hidden);
      const refused = await post('/accounts', { k: 'c', score: -987654 });
      assert.equal(refused.status, 422);
      assert.deepEqual(errorOf(refused), {
        code: 'WEIR_ERR_DB_CONSTRAINT_VIOLATION',
        message: 'A value was refused by a CHECK constraint',
      });
      assertClean(refused, ['987654', '>=', ...target.hidden]);
      await log.waitFor((e) => e.msg === 'request failed' && /secret_rule|score >= 0/.test(e.line));
    });

    test('bad SQL answers a generic 500; the log names the query site and the table, not the value', async () => {
      const res = await inject(app, { method: 'GET', url: '/lookup?k=hunter2' });
      assert.equal(res.status, 500);
      assert.deepEqual(errorOf(res), {
        code: 'WEIR_ERR_INTERNAL',
        message: 'Internal Server Error',
        requestId: res.headers['x-request-id'],
      });
      assertClean(res, ['hunter2', 'select', ...target.hidden]);
      const logged = log.entries.find((e) => e.level === 'error');
      assert.ok(logged !== undefined, 'the App logs the 500 at error');
      assert.match(logged.line, /WEIR_ERR_DB_QUERY/);
      assert.match(logged.line, /secret_missing/);
      assert.match(logged.line, /client-errors\.ts/, 'the stack points at the route that made the query');
      assert.doesNotMatch(log.text(), /hunter2/);
    });

    test('an unavailable database answers 503 "The database is unavailable", naming no host; the log says why', async () => {
      const brokenLog = capturingLogger();
      const broken = await target.broken(brokenLog);
      const brokenApp = serviceApp(broken.db, brokenLog);
      try {
        for (const k of ['first', 'second']) {
          const res = await inject(brokenApp, { method: 'POST', url: '/accounts', body: { k } });
          assert.equal(res.status, 503);
          assert.equal(res.headers['retry-after'], '1');
          assert.deepEqual(res.json(), {
            error: {
              code: 'WEIR_ERR_DB_UNAVAILABLE',
              message: 'The database is unavailable',
              requestId: res.headers['x-request-id'],
            },
          });
          assertClean(res, [...broken.hidden, ...target.hidden]);
        }
        assert.match(brokenLog.text(), broken.logged);
        const failed = brokenLog.entries.filter((e) => e.msg === 'request failed');
        assert.equal(failed.length, 2);
        for (const entry of failed) {
          assert.match(entry.line, /client-errors\.ts/, "the error's stack points at the route's query");
        }
        if (broken.notLogged !== undefined) assert.doesNotMatch(brokenLog.text(), broken.notLogged);
      } finally {
        await brokenApp.stop();
        await broken.cleanup();
      }
    });
  });
}
